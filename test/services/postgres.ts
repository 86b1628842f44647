/**
 * PostgreSQL for integration tests and benchmarks: a throwaway cluster (initdb in a temporary
 * folder owned by the unprivileged service user, a free loopback port, fsync on so that commits
 * cost what they cost in production), started with pg_ctl. `EVENTFLOWS_PG_URL`, when set, points
 * everything at an existing server instead and nothing is started.
 * Test-only code: Node APIs are fine here.
 *   bun test/services/postgres.ts stop   stops the cluster a developer run left running
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import {
  cacheDir,
  ensureServiceUser,
  freePort,
  isRoot,
  portOpen,
  runAsServiceUser,
  SERVICE_USER,
  ServiceStartError,
  withLock,
} from "./common.ts";
import type { ServiceHandle } from "./index.ts";

export const PG_URL_VARIABLE = "EVENTFLOWS_PG_URL";
const stateFile = join(cacheDir, "services", "postgres.json");
const startLock = join(cacheDir, "services", "postgres.lock");
const INSTALL_HINT = "install postgresql (apt-get install postgresql)";

interface ClusterState {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly binDir: string;
}

/** The starter the test command runs: a cluster for this run, stopped at the end. */
export async function startPostgres(): Promise<ServiceHandle> {
  const fromEnv = urlFromEnv();
  if (fromEnv !== undefined) return { name: "postgres", env: { [PG_URL_VARIABLE]: fromEnv }, stop: async () => {} };
  const cluster = await launch();
  return {
    name: "postgres",
    env: { [PG_URL_VARIABLE]: cluster.url },
    stop: async () => stopCluster(cluster),
  };
}

/**
 * What integration tests and benchmarks call: the server from `EVENTFLOWS_PG_URL` (the test command
 * sets it), or else a cluster started for this developer run and reused by later test files through
 * a state file in .cache/services/ (stop it with `bun test/services/postgres.ts stop`).
 */
export async function ensurePostgres(): Promise<string> {
  // The unit step's process without PostgreSQL (scripts/test-unit.ts): a file there must not use it.
  if (process.env.EVENTFLOWS_TEST_NO_POSTGRES === "1") {
    throw new Error(
      "this test file uses PostgreSQL but ran in the unit step's process without it: make its text name what scripts/test-unit.ts looks for (USES_POSTGRES), e.g. import ensurePostgres",
    );
  }
  const fromEnv = urlFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  ensuredUrl ??= withLock("postgres", startLock, async () => {
    const reused = await reusable();
    if (reused !== undefined) return reused.url;
    const cluster = await launch();
    writeFileSync(stateFile, JSON.stringify(cluster));
    return cluster.url;
  });
  return ensuredUrl;
}
let ensuredUrl: Promise<string> | undefined;

/**
 * A client on the test server for one test file, with small pools and no notices. Tests end it
 * with `await sql.end()`.
 */
export async function postgresTestClient(options: postgres.Options<Record<string, postgres.PostgresType>> = {}) {
  return postgres(await ensurePostgres(), { max: 5, onnotice: () => undefined, ...options });
}

/** A login role for row-level-security suites (see {@link restrictedTestRole}). */
export interface RestrictedTestRole {
  readonly name: string;
  /** The test server's URL, logging in as this role. */
  readonly url: string;
  /** Drops what the role owns, then the role. */
  drop(): Promise<void>;
}

/**
 * A role as applications connect under row-level security: it may log in and create schemas in the
 * test database (so it owns the tables it migrates), and is neither superuser nor BYPASSRLS, so the
 * policies bind it. `admin` is a superuser client on the test server (`postgresTestClient()`).
 */
export async function restrictedTestRole(
  admin: { unsafe(query: string): PromiseLike<readonly Record<string, unknown>[]> },
  prefix: string,
): Promise<RestrictedTestRole> {
  const name = `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const [db] = await admin.unsafe("SELECT current_database() AS name");
  await admin.unsafe(`CREATE ROLE ${name} LOGIN NOSUPERUSER NOBYPASSRLS`);
  await admin.unsafe(`GRANT CREATE ON DATABASE "${db?.name}" TO ${name}`);
  const url = new URL(await ensurePostgres());
  url.username = name;
  return {
    name,
    url: url.toString(),
    async drop() {
      await admin.unsafe(`DROP OWNED BY ${name}`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${name}`);
    },
  };
}

/** A schema name of its own for each suite, so suites and reruns never see each other's rows. */
export function uniqueSchema(label: string): string {
  return `t_${label}_${Date.now().toString(36)}_${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

function urlFromEnv(): string | undefined {
  const value = process.env[PG_URL_VARIABLE];
  return value === undefined || value === "" ? undefined : value;
}

async function reusable(): Promise<ClusterState | undefined> {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState;
    if (!existsSync(join(state.dataDir, "postmaster.pid"))) return undefined;
    return (await portOpen(state.port)) && (await ready(state)) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** The PostgreSQL 15 binaries: the Debian location first, then whatever is on PATH. */
function findBinDir(): string {
  for (const dir of ["/usr/lib/postgresql/15/bin", ...listVersionDirs()]) {
    if (existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  const onPath = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  if (onPath.status === 0 && onPath.stdout.trim() !== "") return join(onPath.stdout.trim(), "..");
  throw new ServiceStartError("postgres", `initdb and pg_ctl were not found: ${INSTALL_HINT}`);
}

function listVersionDirs(): string[] {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return [];
  const listed = spawnSync("ls", [root], { encoding: "utf8" });
  return listed.stdout
    .split("\n")
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
    .map((name) => join(root, name, "bin"));
}

async function launch(): Promise<ClusterState> {
  const binDir = findBinDir();
  ensureServiceUser();
  // PostgreSQL refuses to run as root; the cluster belongs to the service user.
  const dataDir = mkdtempSync(join(tmpdir(), "eventflows-pg-"));
  chmodSync(dataDir, 0o700);
  if (isRoot()) chownToServiceUser(dataDir);
  runAsServiceUser(join(binDir, "initdb"), [
    "--pgdata",
    dataDir,
    "--username",
    "postgres",
    "--auth",
    "trust",
    "--encoding",
    "UTF8",
    "--locale",
    "C",
    "--no-instructions",
  ]);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dataDir}`,
    // Real commits: benchmarks must pay for the WAL flush like production does.
    "-c fsync=on",
    "-c synchronous_commit=on",
    "-c max_connections=300",
    // Tests provoke errors by the thousand (lost races, bad input); logging each with its statement
    // would fill the disk and slow the server. Clients see every error anyway.
    "-c log_min_messages=fatal",
    "-c log_min_error_statement=panic",
    "-c shared_buffers=256MB",
  ].join(" ");
  try {
    runAsServiceUser(join(binDir, "pg_ctl"), [
      "start",
      "--pgdata",
      dataDir,
      "--log",
      join(dataDir, "server.log"),
      "--wait",
      "--timeout",
      "60",
      "-o",
      settings,
    ]);
  } catch (error) {
    const log = existsSync(join(dataDir, "server.log")) ? readFileSync(join(dataDir, "server.log"), "utf8") : "";
    rmSync(dataDir, { recursive: true, force: true });
    throw new ServiceStartError("postgres", `pg_ctl start failed: ${String(error)}\n${log.slice(-2_000)}`);
  }
  const cluster = { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dataDir, binDir };
  if (!(await ready(cluster))) {
    await stopCluster(cluster);
    throw new ServiceStartError("postgres", `the server on port ${port} does not accept connections`);
  }
  return cluster;
}

function chownToServiceUser(path: string): void {
  const result = spawnSync("chown", [`${SERVICE_USER}:`, path], { encoding: "utf8" });
  if (result.status !== 0) throw new ServiceStartError("postgres", `chown ${path} failed: ${result.stderr}`);
}

/**
 * The server answers a query on the URL the tests use. A query rather than pg_isready, which is not
 * installed everywhere (its absence used to count as ready) and only says the postmaster listens.
 */
async function ready(cluster: Pick<ClusterState, "url">): Promise<boolean> {
  const sql = postgres(cluster.url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function stopCluster(cluster: ClusterState): Promise<void> {
  try {
    runAsServiceUser(join(cluster.binDir, "pg_ctl"), ["stop", "--pgdata", cluster.dataDir, "--mode", "fast", "--wait"]);
  } finally {
    rmSync(cluster.dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main && process.argv[2] === "stop") {
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState) : undefined;
  if (state === undefined) console.log("no developer cluster is recorded");
  else {
    await stopCluster(state).catch((error) => console.error(String(error)));
    rmSync(stateFile, { force: true });
    console.log(`stopped the cluster on port ${state.port}`);
  }
}
