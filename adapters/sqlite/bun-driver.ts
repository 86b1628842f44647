import { ValidationError } from "../../src/index.js";
import type { SqliteDriver, SqliteRow, SqliteValue, SqliteWriteResult } from "./driver.js";
import { applyFileDefaults, type FileDefaultsOptions, syncDriver } from "./sync-driver.js";

/** The part of bun:sqlite's `Database` the driver uses. */
export interface BunSqliteDatabase {
  query(sql: string): {
    all(...params: SqliteValue[]): unknown[];
    run(...params: SqliteValue[]): { changes: number; lastInsertRowid: number | bigint };
  };
  exec(sql: string): unknown;
}

export type BunSqliteDriverOptions = FileDefaultsOptions;

export const BUN_SQLITE = "bun:sqlite";

/**
 * A driver over a bun:sqlite `Database` the application opened (and closes):
 * `bunSqliteDriver(new Database("events.db"))`. Statements are cached by `db.query`. Sets WAL and
 * `busy_timeout` (see {@link FileDefaultsOptions}).
 */
export function bunSqliteDriver(db: BunSqliteDatabase, options: BunSqliteDriverOptions = {}): SqliteDriver {
  if (typeof db?.query !== "function" || typeof db.exec !== "function") {
    throw new ValidationError("Invalid SQLite driver", [
      { path: ["db"], message: "db must be a bun:sqlite Database (new Database(path))" },
    ]);
  }
  const connection = {
    all: (sql: string, params: readonly SqliteValue[]) => db.query(sql).all(...params) as SqliteRow[],
    run: (sql: string, params: readonly SqliteValue[]) => {
      const result = db.query(sql).run(...params);
      // A number unless the database was opened with safeIntegers: the result as it is, then.
      return typeof result.lastInsertRowid === "number"
        ? (result as SqliteWriteResult)
        : { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
    },
    exec: (sql: string) => {
      db.exec(sql);
    },
  };
  applyFileDefaults(connection, options, BUN_SQLITE);
  return syncDriver(BUN_SQLITE, connection);
}
