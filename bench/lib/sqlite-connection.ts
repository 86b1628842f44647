/**
 * The SQLite connection a bench uses, from the runtime it runs on: bun:sqlite on Bun, node:sqlite
 * on Node (22.13+; `bun run bench` runs files that need it on the Node 22 under .cache/node22). Both
 * as the store's driver and as a bare connection for the ceiling rows, which use the same prepared
 * statements and explicit BEGIN/COMMIT on either runtime, so only the driver differs.
 */
import { bunSqliteDriver, nodeSqliteDriver, type SqliteDriver, type SqliteValue } from "../../adapters/sqlite/index.js";

export interface BareStatement {
  run(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): unknown[];
}

export interface BenchSqlite {
  /** "bun:sqlite" or "node:sqlite". */
  readonly module: string;
  readonly driver: SqliteDriver;
  exec(sql: string): void;
  prepare(sql: string): BareStatement;
  /** Runs `work` in one write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on a throw). */
  transaction(work: () => void): void;
  close(): void;
}

interface RawDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): BareStatement;
  close(): void;
}

export async function openBenchSqlite(path: string): Promise<BenchSqlite> {
  let raw: RawDatabase;
  let driver: SqliteDriver;
  let module: string;
  if ("Bun" in globalThis) {
    const bunModule = "bun:sqlite"; // a variable: Node must not try to load it
    const { Database } = (await import(bunModule)) as { Database: new (path: string) => RawDatabase };
    raw = new Database(path);
    driver = bunSqliteDriver(raw as never);
    module = "bun:sqlite";
  } else {
    const nodeModule = "node:sqlite";
    let sqlite: { DatabaseSync: new (path: string) => RawDatabase };
    try {
      sqlite = (await import(nodeModule)) as typeof sqlite;
    } catch {
      throw new Error(`node:sqlite is missing on Node ${process.version}: run this bench on Node 22.13 or later`);
    }
    raw = new sqlite.DatabaseSync(path);
    driver = nodeSqliteDriver(raw as never);
    module = "node:sqlite";
  }
  return {
    module,
    driver,
    exec: (sql) => void raw.exec(sql),
    prepare: (sql) => raw.prepare(sql),
    transaction: (work) => {
      raw.exec("BEGIN IMMEDIATE");
      try {
        work();
        raw.exec("COMMIT");
      } catch (error) {
        raw.exec("ROLLBACK");
        throw error;
      }
    },
    close: () => raw.close(),
  };
}
