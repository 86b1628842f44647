import { ValidationError } from "../../src/index.js";
import type { SqliteDriver, SqliteRow, SqliteValue } from "./driver.js";

/** The part of a SQLite-backed Durable Object's `ctx.storage` the driver uses. */
export interface DurableObjectStorageLike {
  readonly sql: { exec(sql: string, ...bindings: unknown[]): { toArray(): unknown[] } };
  transactionSync<T>(work: () => T): T;
}

export const DURABLE_OBJECT = "durable-object";
/** A Durable Object's cap on a string or BLOB value. */
export const DURABLE_OBJECT_MAX_VALUE_BYTES = 2_000_000;

/**
 * A driver over a Durable Object's SQLite storage: `durableObjectDriver(ctx.storage)`, inside the
 * object. Statements run synchronously; a batch runs in `transactionSync` (SQL BEGIN is not
 * allowed there). The object's single thread already serialises its writers.
 */
export function durableObjectDriver(storage: DurableObjectStorageLike): SqliteDriver {
  if (typeof storage?.sql?.exec !== "function" || typeof storage.transactionSync !== "function") {
    throw new ValidationError("Invalid SQLite driver", [
      { path: ["storage"], message: "storage must be a SQLite-backed Durable Object's ctx.storage" },
    ]);
  }
  const all = (sql: string, params: readonly SqliteValue[] = []) =>
    storage.sql.exec(sql, ...params.map(toStorage)).toArray() as SqliteRow[];
  return {
    name: DURABLE_OBJECT,
    maxValueBytes: DURABLE_OBJECT_MAX_VALUE_BYTES,
    all: async (sql, params) => all(sql, params),
    batch: async (statements) => storage.transactionSync(() => statements.map((s) => all(s.sql, s.params))),
    transaction: (work) => storage.transactionSync(() => work(all)),
  };
}

/** Durable Object storage binds BLOBs from ArrayBuffers. */
function toStorage(value: SqliteValue): unknown {
  if (value instanceof Uint8Array) {
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }
  return value;
}
