/**
 * Live event streams: events/s delivered over SSE to 1, 50 and 500 clients, and the latency from
 * `appendToStream` to a client's handler (p50, p99), on the runtime this runs on: a real server
 * (Bun.serve on Bun; node:http through test/live/node-server.ts on Node) serving `liveRoutes` from
 * one `LiveHub` over an in-memory store, and `subscribeLive` clients over real sockets in the same
 * process (so the clients' parsing is inside the figures too).
 *   bun bench/live.bench.ts            node --import ./bench/lib/node-ts.mjs bench/live.bench.ts
 */
import { Hono } from "hono";
import { liveRoutes } from "../adapters/hono/index.js";
import { subscribeLive } from "../src/client/index.js";
import { InMemoryEventStore, LiveHub } from "../src/index.js";
import { appendToReport, runAndReport, runtime } from "./lib/report.js";

const PER_ITERATION = 100; // events appended per iteration, in appends of 10

const store = new InMemoryEventStore();
const hub = new LiveHub({ store, maxClients: 1000, bufferSize: 10_000 });
const app = new Hono();
app.route("/", liveRoutes({ hub, heartbeatMs: 5000 }));

interface Served {
  readonly port: number;
  stop(): Promise<void>;
}

async function serve(): Promise<Served> {
  if (runtime === "bun") {
    const bun = (
      globalThis as unknown as { Bun: { serve(options: object): { port: number; stop(force: boolean): void } } }
    ).Bun;
    const server = bun.serve({ port: 0, fetch: app.fetch, idleTimeout: 60 });
    return { port: server.port, stop: async () => server.stop(true) };
  }
  const { serveOnNode } = await import("../test/live/node-server.js");
  const { server, port } = await serveOnNode(app);
  return {
    port,
    stop: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

// Bun's fetch opens at most 256 connections at once by default: 500 streaming clients need more.
const bunEnv = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
if (runtime === "bun" && bunEnv.BUN_CONFIG_MAX_HTTP_REQUESTS === undefined) {
  const bun = (globalThis as unknown as { Bun: { spawnSync(cmd: string[], options: object): { exitCode: number } } })
    .Bun;
  const child = bun.spawnSync([process.execPath, ...process.argv.slice(1)], {
    env: { ...bunEnv, BUN_CONFIG_MAX_HTTP_REQUESTS: "2048" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exit(child.exitCode);
}

const served = await serve();
const url = `http://127.0.0.1:${served.port}/events`;

/** `count` SSE clients; `delivered` counts events handled by all of them, `waitFor` resolves at a total. */
async function clients(count: number) {
  let delivered = 0;
  let target = Number.POSITIVE_INFINITY;
  let reached: (() => void) | undefined;
  const latencies: number[] = [];
  let appendedAt = 0;
  const subscriptions = Array.from({ length: count }, () =>
    subscribeLive({
      url,
      onEvent: () => {
        delivered += 1;
        if (appendedAt > 0) latencies.push(performance.now() - appendedAt);
        if (delivered >= target) reached?.();
      },
    }),
  );
  while (hub.size < count) await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    latencies,
    markAppend: (at: number) => {
      appendedAt = at;
    },
    waitFor(total: number): Promise<void> {
      if (delivered >= total) return Promise.resolve();
      target = total;
      return new Promise<void>((resolve) => {
        reached = resolve;
      });
    },
    get delivered() {
      return delivered;
    },
    close: () => Promise.all(subscriptions.map((s) => s.close())),
  };
}

let stream = 0;
async function appendBatch(): Promise<void> {
  for (let i = 0; i < PER_ITERATION / 10; i++) {
    await store.appendToStream(
      `Bench-${stream++ % 16}`,
      Array.from({ length: 10 }, (_, n) => ({ type: "Ticked", data: { n } })),
    );
  }
}

/**
 * Waits until the hub holds no connection. One outliving its closed client is a leak: fail rather
 * than wait for ever (issue 21 was one, in the node:http bridge).
 */
async function allLeft(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (hub.size > 0) {
    if (Date.now() > deadline) throw new Error(`${hub.size} live connections outlived their closed clients`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Deliveries per second to `count` clients: one warm-up batch, then `batches` batches timed. */
async function throughput(count: number, batches: number): Promise<{ perSecond: number; msPerBatch: number[] }> {
  const group = await clients(count);
  try {
    const batch = async () => {
      const total = group.delivered + PER_ITERATION * count;
      await appendBatch();
      await group.waitFor(total);
    };
    await batch();
    const times: number[] = [];
    const started = performance.now();
    for (let i = 0; i < batches; i++) {
      const t = performance.now();
      await batch();
      times.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: (batches * PER_ITERATION * count) / seconds, msPerBatch: times.sort((a, b) => a - b) };
  } finally {
    await group.close();
    await allLeft();
  }
}

const rows: string[] = [];
// LIVE_BENCH_CLIENTS="1,50" runs fewer rows.
const counts = (process.env.LIVE_BENCH_CLIENTS ?? "1,50,500").split(",").map(Number);
const batchesFor: Readonly<Record<number, number>> = { 1: 200, 50: 40, 500: 4 };
for (const [count, batches] of counts.map((count) => [count, batchesFor[count] ?? 4] as const)) {
  const { perSecond, msPerBatch } = await throughput(count, batches);
  const median = msPerBatch[Math.floor(msPerBatch.length / 2)] ?? Number.NaN;
  const row = `| ${count} | ${batches} × ${PER_ITERATION} | ${Math.round(perSecond).toLocaleString("en-US")} | ${median.toFixed(1)} ms |`;
  rows.push(row);
  console.log(row);
}

// No mitata rows: the figures are by hand (many clients, one server); the report carries them as tables.
await runAndReport("live", "Live event streams: SSE fan-out from one LiveHub (real server, clients in process)", {
  notes: [
    `A real server (${runtime === "bun" ? "Bun.serve" : "node:http"}) serving liveRoutes from one LiveHub over an in-memory store; subscribeLive SSE clients over 127.0.0.1 in the same process (their parsing and handlers are inside the figures). A batch appends ${PER_ITERATION} events (10 appends of 10) and waits until every client has handled all of them; events/s counts deliveries (events × clients).`,
  ],
});
appendToReport(
  "live",
  [
    "| SSE clients | batches timed | events delivered/s | median batch time |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n"),
);

// Latency: one event at a time, 50 clients, from just before appendToStream to each client's handler.
const latency = await clients(50);
for (let i = 0; i < 200; i++) {
  const total = latency.delivered + 50;
  latency.markAppend(performance.now());
  await store.appendToStream(`Latency-${i % 8}`, [{ type: "Ticked", data: { i } }]);
  await latency.waitFor(total);
}
await latency.close();
const sorted = latency.latencies.slice(50 * 20).sort((a, b) => a - b); // the first 20 rounds warm up
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const line = `Append-to-client latency, 50 SSE clients, one event per append (${sorted.length} deliveries after 20 warm-up rounds): p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, max ${at(1).toFixed(2)} ms.`;
appendToReport("live", line);
console.log(line);
await hub.close();
await served.stop();
process.exit(0);
