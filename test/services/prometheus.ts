/**
 * A real Prometheus server (Debian's `prometheus` package, which `.ci/run` installs) for one test: it
 * starts on a free loopback port with a scrape config pointing at the targets the test serves, and
 * stops with the test. Unlike the database services it is not shared: each test scrapes its own
 * server, so its scrape config is its own too. Prometheus not installed fails the test, never skips.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandExists, freePort, ServiceStartError, spawnService, waitFor } from "./common.ts";

export interface PrometheusOptions {
  /** `host:port` of each endpoint to scrape. */
  readonly targets: readonly string[];
  /** Path scraped on each target. Defaults to `/metrics`. */
  readonly metricsPath?: string;
  /** Scrape interval in seconds (Prometheus takes whole seconds here). Defaults to 1. */
  readonly scrapeIntervalSeconds?: number;
}

export interface PrometheusServer {
  /** Base URL of its HTTP API, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Runs an instant query; returns the result vector (`data.result`). */
  query(promql: string): Promise<PrometheusSample[]>;
  stop(): Promise<void>;
}

export interface PrometheusSample {
  readonly metric: Readonly<Record<string, string>>;
  /** `[unix seconds, "value"]`. */
  readonly value: readonly [number, string];
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  if (!commandExists("prometheus")) {
    throw new ServiceStartError("prometheus", "the prometheus binary is not on PATH (apt-get install prometheus)");
  }
  const dir = mkdtempSync(join(tmpdir(), "eventflows-prometheus-"));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    "scrape_configs:",
    "  - job_name: eventflows-test",
    `    metrics_path: ${options.metricsPath ?? "/metrics"}`,
    "    static_configs:",
    `      - targets: [${options.targets.map((target) => JSON.stringify(target)).join(", ")}]`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const port = await freePort();
  // Runs as the current user: it writes only to its own temp folder and listens on loopback.
  const child = spawnService(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { asServiceUser: false },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("prometheus", async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as { status: string; data?: { result: PrometheusSample[] }; error?: string };
      if (body.status !== "success") throw new Error(`prometheus query ${promql} failed: ${body.error}`);
      return body.data?.result ?? [];
    },
    stop,
  };
}
