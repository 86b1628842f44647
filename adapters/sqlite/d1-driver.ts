import { assertKnownOptions, ValidationError } from "../../src/index.js";
import { assertBatchFits, type SqliteDriver, type SqliteRow, type SqliteValue } from "./driver.js";

/** The part of a Cloudflare D1 binding (`env.DB`) the driver uses. */
export interface D1DatabaseLike {
  prepare(sql: string): D1StatementLike;
  batch(statements: D1StatementLike[]): Promise<{ results?: unknown[] }[]>;
}

export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  all(): Promise<{ results?: unknown[] }>;
}

export const D1 = "d1";
/** D1's cap on a string or BLOB value. */
export const D1_MAX_VALUE_BYTES = 2_000_000;

/**
 * The default of {@link D1DriverOptions.maxBatchStatements}: D1's documented queries per Worker
 * invocation on Workers Paid (50 on Free), its per-query limits applying to each statement of a batch.
 */
export const D1_MAX_BATCH_STATEMENTS = 1000;

export interface D1DriverOptions {
  /**
   * The most statements one `batch` sends (one read-model transaction: its documents and
   * checkpoints): a larger batch is refused before anything is sent, where D1 would fail it (a
   * read-model transaction with a `ReadModelTransactionTooLargeError`, which a runner answers by
   * splitting its batch; any other with a `ValidationError`). 1,000 by default (Workers Paid's queries
   * per invocation); 50 on the Free plan.
   */
  readonly maxBatchStatements?: number;
}

/**
 * A driver over a D1 binding: `d1Driver(env.DB)`. D1 has no interactive transactions; `batch`
 * sends the statements as one `db.batch()`, which D1 runs as one transaction. D1 manages its own
 * journal and locking: no pragmas are set.
 */
export function d1Driver(db: D1DatabaseLike, options: D1DriverOptions = {}): SqliteDriver {
  if (typeof db?.prepare !== "function" || typeof db.batch !== "function") {
    throw new ValidationError("Invalid SQLite driver", [{ path: ["db"], message: "db must be a D1 binding (env.DB)" }]);
  }
  // A misspelt `maxBatchStatement` kept the default (Workers Paid's 1,000) on a Free plan's 50.
  assertKnownOptions(options, ["maxBatchStatements"], "SQLite driver");
  const maxBatchStatements = options?.maxBatchStatements ?? D1_MAX_BATCH_STATEMENTS;
  if (!Number.isSafeInteger(maxBatchStatements) || maxBatchStatements < 1) {
    throw new ValidationError("Invalid SQLite driver", [
      { path: ["maxBatchStatements"], message: "maxBatchStatements must be a positive integer" },
    ]);
  }
  const bound = (sql: string, params: readonly SqliteValue[] = []) => db.prepare(sql).bind(...params.map(toD1));
  return {
    name: D1,
    maxValueBytes: D1_MAX_VALUE_BYTES,
    maxBatchStatements,
    all: async (sql, params) => ((await bound(sql, params).all()).results ?? []) as SqliteRow[],
    batch: async (statements) => {
      if (statements.length === 0) return [];
      assertBatchFits(statements.length, maxBatchStatements, "batch");
      const results = await db.batch(statements.map((s) => bound(s.sql, s.params)));
      return results.map((result) => (result.results ?? []) as SqliteRow[]);
    },
  };
}

/** D1 binds BLOBs from ArrayBuffers. */
function toD1(value: SqliteValue): unknown {
  if (value instanceof Uint8Array) {
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }
  return value;
}
