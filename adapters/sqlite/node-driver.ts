import { ValidationError } from "../../src/index.js";
import type { SqliteDriver, SqliteRow, SqliteValue } from "./driver.js";
import { applyFileDefaults, type FileDefaultsOptions, syncDriver } from "./sync-driver.js";

/**
 * The part of node:sqlite's `DatabaseSync` (Node 22.5+) the driver uses; better-sqlite3's
 * `Database` has the same shape.
 */
export interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement;
  exec(sql: string): unknown;
}

export interface NodeSqliteStatement {
  all(...params: unknown[]): unknown[];
  run?(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  /** better-sqlite3's: false for statements that return no rows, whose `all()` it refuses. */
  readonly reader?: boolean;
}

export type NodeSqliteDriverOptions = FileDefaultsOptions;

export const NODE_SQLITE = "node:sqlite";

/**
 * A driver over a node:sqlite `DatabaseSync` (or a better-sqlite3 `Database`) the application
 * opened and closes: `nodeSqliteDriver(new DatabaseSync("events.db"))`. Prepared statements are
 * kept per SQL text (the stores use a fixed handful). Sets WAL and `busy_timeout`.
 */
export function nodeSqliteDriver(db: NodeSqliteDatabase, options: NodeSqliteDriverOptions = {}): SqliteDriver {
  if (typeof db?.prepare !== "function" || typeof db.exec !== "function") {
    throw new ValidationError("Invalid SQLite driver", [
      { path: ["db"], message: "db must be a node:sqlite DatabaseSync or a better-sqlite3 Database" },
    ]);
  }
  const prepared = new Map<string, NodeSqliteStatement>();
  const statement = (sql: string) => {
    let found = prepared.get(sql);
    if (found === undefined) {
      found = db.prepare(sql);
      prepared.set(sql, found);
    }
    return found;
  };
  const connection = {
    all: (sql: string, params: readonly SqliteValue[]) => {
      const prepared = statement(sql);
      if (prepared.reader === false && prepared.run !== undefined) {
        prepared.run(...params);
        return [];
      }
      return prepared.all(...params) as SqliteRow[];
    },
    run: (sql: string, params: readonly SqliteValue[]) => {
      const prepared = statement(sql);
      if (prepared.run === undefined) throw new TypeError("this statement object has no run()");
      const { changes, lastInsertRowid } = prepared.run(...params);
      return { changes: Number(changes), lastInsertRowid: Number(lastInsertRowid) };
    },
    exec: (sql: string) => {
      db.exec(sql);
    },
  };
  applyFileDefaults(connection, options, NODE_SQLITE);
  return syncDriver(NODE_SQLITE, connection);
}
