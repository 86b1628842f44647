/**
 * Emmett's SQLite event store for the sqlite bench, installed on first use into its own folder under
 * .cache (not the repository's node_modules: it is a peer of one bench, and its native driver is built
 * here). `@event-driven-io/emmett-sqlite` runs on the `sqlite3` package (an asynchronous, callback
 * driver over a native addon). That package's install downloads a prebuilt binary from GitHub, which
 * this machine cannot reach; its fallback, `node-gyp rebuild`, compiles the bundled SQLite from source
 * (make, g++ and Python) and would download Node's headers too: `npm_config_nodedir` points it at the
 * headers installed with Node (`/usr/include/node` from the nodesource package, or `EVENTFLOWS_NODEDIR`).
 * The addon is built against N-API, so the one build loads on every Node version (the bench runs it on
 * Node 22) and on Bun. Compiling takes minutes the first time.
 *
 * Versions: emmett-sqlite 0.42.4 declares `@event-driven-io/emmett` 0.42.4 as its peer, which the
 * registry this project installs from does not carry (its newest is 0.42.0, the one the PostgreSQL
 * bench uses): 0.42.0 is installed with `--legacy-peer-deps`, and the bench checks the store appends
 * and reads back what it appended before timing it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cacheDir, withLock } from "../../test/services/common.ts";

export const EMMETT_SQLITE_PACKAGES = [
  "@event-driven-io/emmett-sqlite@0.42.4",
  "@event-driven-io/emmett@0.42.0",
  "sqlite3@5.1.7",
] as const;

const peerDir = join(cacheDir, "bench-peers", "emmett-sqlite");
const entry = join(peerDir, "node_modules", "@event-driven-io", "emmett-sqlite", "dist", "index.js");
const addon = join(peerDir, "node_modules", "sqlite3", "build", "Release", "node_sqlite3.node");

/** Installs the peer (building sqlite3 from source) unless it is there; returns the path of emmett-sqlite's entry. */
export async function ensureEmmettSqlite(): Promise<string> {
  if (existsSync(entry) && existsSync(addon)) return entry;
  return withLock("emmett-sqlite", join(cacheDir, "locks", "emmett-sqlite"), async () => {
    if (existsSync(entry) && existsSync(addon)) return entry;
    mkdirSync(peerDir, { recursive: true });
    writeFileSync(
      join(peerDir, "package.json"),
      `${JSON.stringify({ name: "eventflows-bench-peer-emmett-sqlite", private: true, type: "module" })}\n`,
    );
    const nodedir = process.env.EVENTFLOWS_NODEDIR ?? "/usr";
    console.log(`bench: npm install ${EMMETT_SQLITE_PACKAGES.join(" ")} into ${peerDir} (sqlite3 built from source)`);
    const result = spawnSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--legacy-peer-deps", ...EMMETT_SQLITE_PACKAGES],
      {
        cwd: peerDir,
        encoding: "utf8",
        env: { ...process.env, npm_config_nodedir: nodedir, npm_config_build_from_source: "true" },
      },
    );
    if (result.status !== 0 || !existsSync(entry) || !existsSync(addon)) {
      throw new Error(
        `Emmett's SQLite store could not be installed into ${peerDir} (sqlite3 is built with node-gyp against the Node headers in ${nodedir}/include/node; set EVENTFLOWS_NODEDIR for another location):\n${result.stdout}${result.stderr}`,
      );
    }
    return entry;
  });
}

/** A connection of Emmett's (over `sqlite3`): the calls the bench makes. */
export interface EmmettSqliteConnection {
  command(sql: string, values?: unknown[]): Promise<unknown>;
  close(): void;
}

/** Emmett's `SQLiteEventStore`, as far as the bench uses it. */
export interface EmmettSqliteEventStore {
  appendToStream(
    streamName: string,
    events: readonly { type: string; data: unknown; metadata?: unknown }[],
    options?: { expectedStreamVersion?: bigint },
  ): Promise<{ nextExpectedStreamVersion: bigint }>;
  readStream(streamName: string): Promise<{ events: readonly unknown[] }>;
}

/** What the bench takes from `@event-driven-io/emmett-sqlite` (typed here: it is not in the repository's node_modules). */
export interface EmmettSqliteModule {
  sqliteConnection(options: { fileName: string }): EmmettSqliteConnection;
  getSQLiteEventStore(options: {
    fileName: string;
    connectionOptions: { singleton: true; connection: EmmettSqliteConnection };
  }): EmmettSqliteEventStore;
}

/** Emmett's SQLite module, installed first if needed. */
export async function importEmmettSqlite(): Promise<EmmettSqliteModule> {
  return (await import(pathToFileURL(await ensureEmmettSqlite()).href)) as EmmettSqliteModule;
}
