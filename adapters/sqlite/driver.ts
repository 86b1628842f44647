/**
 * The driver port: the few calls the SQLite stores make, so they import no runtime module. A driver
 * wraps a database object the application opened (bun:sqlite, node:sqlite, a D1 binding, a Durable
 * Object's storage) or anything else that speaks SQLite, better-sqlite3 included.
 */

import { type Issue, ValidationError } from "../../src/index.js";

/** A value bound to a statement parameter or read from a column. */
export type SqliteValue = string | number | bigint | Uint8Array | null;

/** A row, by column name (the stores alias every column they read). */
export type SqliteRow = Readonly<Record<string, unknown>>;

export interface SqliteStatement {
  readonly sql: string;
  readonly params?: readonly SqliteValue[];
}

export interface SqliteDriver {
  /** What the driver wraps ("bun:sqlite", "node:sqlite", "d1", "durable-object"): named in errors. */
  readonly name: string;
  /**
   * The largest string or BLOB one parameter may carry, when the backend caps it below SQLite's own
   * billion bytes (D1 and Durable Objects take 2 MB), and so the largest row (SQLite's length limit
   * caps both): appends larger than this (an event's data and metadata together) are refused before
   * anything is sent.
   */
  readonly maxValueBytes?: number;
  /**
   * The most statements one `batch` may send, when the backend caps it (D1: 1,000 by default, see
   * `d1Driver`): a larger batch is refused with a `ValidationError` before anything is sent (a
   * read-model transaction's with a `ReadModelTransactionTooLargeError`, by its store, which a runner answers
   * by splitting its batch).
   */
  readonly maxBatchStatements?: number;
  /** Runs one statement (with `?` placeholders) and returns its rows: none for a write without RETURNING. */
  all(sql: string, params?: readonly SqliteValue[]): Promise<SqliteRow[]>;
  /**
   * Runs statements in order in one transaction: all of them take effect, or, if one fails, none.
   * Returns each statement's rows.
   */
  batch(statements: readonly SqliteStatement[]): Promise<SqliteRow[][]>;
  /**
   * Optional, for drivers over a synchronous connection (bun:sqlite, node:sqlite, Durable Objects):
   * runs `work` in one write transaction, its statements synchronous, and commits when it returns
   * (rolls back when it throws). Appends then read the stream's version and insert in one
   * transaction without the single-statement form's cost. D1, which has no interactive
   * transactions, leaves it out.
   */
  readonly transaction?: <T>(work: (all: SyncStatementRunner) => T) => T;
  /**
   * Optional, for synchronous connections that report what a write did (bun:sqlite, node:sqlite,
   * better-sqlite3): runs one write statement at once, on its own (SQLite makes it atomic) or inside
   * `transaction`'s work, and returns the rows it changed and the last rowid it inserted. Appends
   * then take the new rows' positions from it instead of a RETURNING clause, and a one-event append
   * is that one statement, with no transaction around it.
   */
  readonly write?: SyncWriteRunner;
}

/** What one write statement did: rows changed, and the rowid of the last row it inserted. */
export interface SqliteWriteResult {
  readonly changes: number;
  readonly lastInsertRowid: number;
}

/** Runs one write statement synchronously (see {@link SqliteDriver.write}). */
export type SyncWriteRunner = (sql: string, params?: readonly SqliteValue[]) => SqliteWriteResult;

/** Runs one statement synchronously, inside a driver's `transaction`. */
export type SyncStatementRunner = (sql: string, params?: readonly SqliteValue[]) => SqliteRow[];

/** What is wrong with a value given as a driver: nothing, or that it is not one. */
export function driverIssues(driver: unknown): Issue[] {
  const d = driver as Partial<SqliteDriver> | null | undefined;
  return typeof d?.all === "function" && typeof d.batch === "function" && typeof d.name === "string"
    ? []
    : [{ path: ["driver"], message: "driver must be a SQLite driver (bunSqliteDriver(db), d1Driver(env.DB), …)" }];
}

/** For the functions that take a driver as their first argument (migrations, schema version, stats). */
export function assertDriver(driver: unknown): asserts driver is SqliteDriver {
  const issues = driverIssues(driver);
  if (issues.length > 0) throw new ValidationError("Invalid SQLite driver", issues);
}

/** @throws {ValidationError} more statements than one batch may send; nothing is sent. */
export function assertBatchFits(count: number, max: number | undefined, what: string): void {
  if (max === undefined || count <= max) return;
  throw new ValidationError("Too many statements for one batch", [
    {
      path: [],
      message: `the ${what} needs ${count} statements, over the ${max} one batch may send (maxBatchStatements): nothing was sent`,
    },
  ]);
}
