/**
 * moto server (PyPI `moto[server]`) for EventBridge and SQS. It is installed once into a
 * virtualenv under .cache/moto/ and started on a free loopback port. `AWS_ENDPOINT_URL_EVENTS` and
 * `AWS_ENDPOINT_URL_SQS`, when set, point the tests at another endpoint and nothing is started.
 * Test-only code: Node APIs are fine here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, commandExists, ensureDir, freePort, portOpen, ServiceStartError, spawnService } from "./common.ts";
import type { ServiceHandle } from "./index.ts";

export const MOTO_VERSION = "5.2.5";
const venvDir = join(cacheDir, "moto", `venv-${MOTO_VERSION}`);
const motoServer = join(venvDir, "bin", "moto_server");
const installedMarker = join(venvDir, ".eventflows-installed");
const installLock = join(cacheDir, "moto", `install-${MOTO_VERSION}.lock`);
const stateFile = join(cacheDir, "services", "moto.json");
const startLock = join(cacheDir, "services", "moto.lock");

export interface MotoEndpoints {
  readonly events: string;
  readonly sqs: string;
}

interface MotoState {
  readonly port: number;
  readonly pid: number;
  readonly version: string;
}

/**
 * The starter the test command runs. Honours the endpoint variables; otherwise starts a server for
 * this run and stops it at the end.
 */
export async function startMoto(): Promise<ServiceHandle> {
  const fromEnv = endpointsFromEnv();
  if (fromEnv.events !== undefined && fromEnv.sqs !== undefined) {
    return { name: "moto", env: { AWS_ENDPOINT_URL_EVENTS: fromEnv.events, AWS_ENDPOINT_URL_SQS: fromEnv.sqs }, stop };
  }
  const { url, pid } = await launch();
  return {
    name: "moto",
    env: { AWS_ENDPOINT_URL_EVENTS: fromEnv.events ?? url, AWS_ENDPOINT_URL_SQS: fromEnv.sqs ?? url },
    stop: async () => killGroup(pid),
  };
}

/**
 * What integration tests and benchmarks call: the endpoints from the environment (the test command
 * sets them), or else a server started for this developer run and reused by later test files
 * through a state file in .cache/services/.
 */
export async function ensureMoto(): Promise<MotoEndpoints> {
  const fromEnv = endpointsFromEnv();
  if (fromEnv.events !== undefined && fromEnv.sqs !== undefined) return { events: fromEnv.events, sqs: fromEnv.sqs };
  const url = await withLock(startLock, async () => {
    const reused = await reusable();
    if (reused !== undefined) return `http://127.0.0.1:${reused.port}`;
    const started = await launch();
    ensureDir(join(cacheDir, "services"));
    writeFileSync(stateFile, JSON.stringify({ port: started.port, pid: started.pid, version: MOTO_VERSION }));
    return started.url;
  });
  return { events: fromEnv.events ?? url, sqs: fromEnv.sqs ?? url };
}

function endpointsFromEnv(): { events: string | undefined; sqs: string | undefined } {
  const pick = (name: string) => {
    const value = process.env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  return { events: pick("AWS_ENDPOINT_URL_EVENTS"), sqs: pick("AWS_ENDPOINT_URL_SQS") };
}

async function stop(): Promise<void> {}

async function reusable(): Promise<MotoState | undefined> {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as MotoState;
    if (state.version !== MOTO_VERSION) return undefined;
    if (!(await portOpen(state.port))) return undefined;
    return (await isMoto(`http://127.0.0.1:${state.port}`)) ? state : undefined;
  } catch {
    return undefined;
  }
}

async function isMoto(url: string): Promise<boolean> {
  const response = await fetch(`${url}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.ok;
}

async function launch(): Promise<{ url: string; port: number; pid: number }> {
  await installMoto();
  const port = await freePort();
  // moto needs no privileges and keeps everything in memory, so it runs as the current user.
  const child = spawnService(motoServer, ["-H", "127.0.0.1", "-p", String(port)], { asServiceUser: false });
  const pid = child.pid;
  if (pid === undefined) throw new ServiceStartError("moto", `could not spawn ${motoServer}`);
  const url = `http://127.0.0.1:${port}`;
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      throw new ServiceStartError("moto", `moto_server exited with code ${exited} (run ${motoServer} to see why)`);
    }
    if ((await portOpen(port)) && (await isMoto(url).catch(() => false))) break;
    if (Date.now() > deadline) {
      killGroup(pid);
      throw new ServiceStartError("moto", `moto ${MOTO_VERSION} on port ${port} not ready after 60s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, port, pid };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}

/**
 * Creates the virtualenv and installs the pinned moto once. Concurrent test files serialize on a
 * lock, so only one of them runs pip.
 */
async function installMoto(): Promise<void> {
  if (existsSync(installedMarker)) return;
  ensureDir(join(cacheDir, "moto"));
  await withLock(installLock, async () => {
    if (!existsSync(installedMarker)) install();
  });
}

/**
 * Runs `body` while holding a lock directory (mkdir is atomic), so concurrent test processes do not
 * install or start moto twice. A lock older than ten minutes is left over from a killed run.
 */
async function withLock<T>(lock: string, body: () => Promise<T>): Promise<T> {
  ensureDir(join(lock, ".."));
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const lockedAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > 10 * 60_000) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ServiceStartError("moto", `timed out waiting for the lock ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function install(): void {
  const python = ["python3", "python"].find(commandExists);
  if (python === undefined) {
    throw new ServiceStartError("moto", "python3 is not installed (apt-get install python3 python3-venv)");
  }
  rmSync(venvDir, { recursive: true, force: true });
  const venv = spawnSync(python, ["-m", "venv", venvDir], { encoding: "utf8" });
  if (venv.status !== 0) {
    throw new ServiceStartError(
      "moto",
      `"${python} -m venv" failed; the venv module is missing (apt-get install python3-venv): ${venv.stderr.trim()}`,
    );
  }
  const pip = join(venvDir, "bin", "pip");
  if (!existsSync(pip)) {
    throw new ServiceStartError("moto", "the virtualenv has no pip (apt-get install python3-pip python3-venv)");
  }
  const installed = spawnSync(
    pip,
    ["install", "--quiet", "--disable-pip-version-check", `moto[server]==${MOTO_VERSION}`],
    {
      encoding: "utf8",
      timeout: 10 * 60_000,
    },
  );
  if (installed.status !== 0 || !existsSync(motoServer)) {
    throw new ServiceStartError(
      "moto",
      `pip install moto[server]==${MOTO_VERSION} failed (is PyPI reachable?): ${installed.stderr.trim().slice(-2_000)}`,
    );
  }
  writeFileSync(installedMarker, `${MOTO_VERSION}\n`);
}
