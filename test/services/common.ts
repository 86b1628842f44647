/**
 * Shared pieces of the service harness: free ports, waiting for a server, running a command as an
 * unprivileged user (PostgreSQL refuses to run as root), and a cache folder for downloads.
 * Test-only code: Node APIs are fine here, never in src/ or adapters/.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");
/** Downloads and virtualenvs survive between runs here (gitignored). */
export const cacheDir = join(repoRoot, ".cache");

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** A TCP port nothing listens on right now, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Polls `ready` until it returns true; throws `what` with the reason after `timeoutMs`. */
export async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new ServiceStartError(what, `not ready after ${timeoutMs / 1000}s`);
}

/** A service the tests need could not start. The message says what is missing and how to fix it. */
export class ServiceStartError extends Error {
  constructor(service: string, reason: string) {
    super(`[test services] ${service} could not start: ${reason}`);
    this.name = "ServiceStartError";
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** The unprivileged account services run as when we are root. Created on first use. */
export const SERVICE_USER = "eventflows";

export function ensureServiceUser(): void {
  if (!isRoot()) return;
  if (spawnSync("id", ["-u", SERVICE_USER]).status === 0) return;
  const made = spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER]);
  if (made.status !== 0) throw new ServiceStartError("service user", `useradd failed: ${made.stderr.toString()}`);
}

/** Runs a command to completion (as the service user when root); throws with its output on failure. */
export function runAsServiceUser(command: string, args: string[], options: { cwd?: string } = {}): string {
  const [cmd, argv] = isRoot() ? ["runuser", ["-u", SERVICE_USER, "--", command, ...args]] : [command, args];
  const result = spawnSync(cmd, argv, { cwd: options.cwd, encoding: "utf8" });
  if (result.status !== 0) {
    throw new ServiceStartError(command, `${result.error?.message ?? ""}${result.stdout}${result.stderr}`.trim());
  }
  return result.stdout;
}

/** Starts a long-running process (as the service user when root) detached from the test process. */
export function spawnService(
  command: string,
  args: string[],
  options: { cwd?: string; asServiceUser?: boolean; env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const asUser = options.asServiceUser !== false && isRoot();
  const [cmd, argv] = asUser ? ["runuser", ["-u", SERVICE_USER, "--", command, ...args]] : [command, args];
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: "ignore",
    detached: true,
  });
  child.unref();
  return child;
}

export function commandExists(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/**
 * Runs `body` while holding a lock directory (mkdir is atomic), so concurrent test processes do not
 * install or start a service twice. A lock older than `staleMs` is left over from a killed run.
 */
export async function withLock<T>(
  service: string,
  lock: string,
  body: () => Promise<T>,
  staleMs = 5 * 60_000,
): Promise<T> {
  ensureDir(join(lock, ".."));
  const deadline = Date.now() + staleMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const lockedAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > staleMs) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ServiceStartError(service, `timed out waiting for the lock ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
