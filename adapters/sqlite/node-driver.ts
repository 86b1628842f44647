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
  /** node:sqlite's: integers as bigints (see `readPastSafeIntegers`). */
  setReadBigInts?(enabled: boolean): unknown;
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
      try {
        return prepared.all(...params) as SqliteRow[];
      } catch (error) {
        return readPastSafeIntegers(sql, prepared, params, error);
      }
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

/**
 * node:sqlite refuses to read an INTEGER past 2^53 as a number (a RangeError, ERR_OUT_OF_RANGE), so a
 * row another tool wrote failed as the statement's error (SQLITE_ERROR) before a store could call it
 * corrupt, as it does on Bun, D1 and Durable Objects. A read (a SELECT, or a WITH that writes nothing:
 * run again without harm) is run again with bigints, safe ones turned back into numbers: the store's
 * own checks then see the value past 2^53 and refuse the row with its documented error. Anything
 * else is thrown as it came.
 */
function readPastSafeIntegers(
  sql: string,
  prepared: NodeSqliteStatement,
  params: readonly SqliteValue[],
  error: unknown,
): SqliteRow[] {
  const outOfRange = (error as { code?: unknown } | null)?.code === "ERR_OUT_OF_RANGE";
  if (!outOfRange || prepared.setReadBigInts === undefined || !readsOnly(sql)) throw error;
  prepared.setReadBigInts(true);
  try {
    return (prepared.all(...params) as SqliteRow[]).map((row) => {
      const out: Record<string, SqliteValue> = {};
      for (const [column, value] of Object.entries(row)) {
        const safe =
          typeof value === "bigint" &&
          value >= BigInt(Number.MIN_SAFE_INTEGER) &&
          value <= BigInt(Number.MAX_SAFE_INTEGER);
        out[column] = safe ? Number(value) : (value as SqliteValue);
      }
      return out as SqliteRow;
    });
  } finally {
    prepared.setReadBigInts(false);
  }
}

/** A statement that only reads: a SELECT, or a WITH whose statement names no write. */
function readsOnly(sql: string): boolean {
  return /^\s*SELECT\b/i.test(sql) || (/^\s*WITH\b/i.test(sql) && !/\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql));
}
