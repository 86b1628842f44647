import { isEventFlowsError, ServiceError } from "../../src/index.js";

export const SERVICE = "SQLite";

/** The operation named when making a driver fails (its pragmas are the first statements on the file). */
export const OPEN_DRIVER = "openDriver";

/** What a failed statement was, read from the driver's error (each driver words and codes it differently). */
export type SqliteFailure =
  | { readonly kind: "not-null" }
  | { readonly kind: "unique"; readonly column: string }
  | { readonly kind: "busy" }
  | { readonly kind: "no-table" }
  | { readonly kind: "no-column" }
  | { readonly kind: "too-big" }
  | { readonly kind: "full" }
  | { readonly kind: "read-only" }
  | { readonly kind: "not-a-database" }
  | { readonly kind: "corrupt" }
  | { readonly kind: "other" };

/**
 * Classifies by message: bun:sqlite, node:sqlite, D1 ("D1_ERROR: …") and Durable Objects all carry
 * SQLite's own message text, while their codes differ (names, numbers, none at all).
 */
export function failureOf(error: unknown): SqliteFailure {
  const message = messageOf(error);
  if (/NOT NULL constraint failed/i.test(message)) return { kind: "not-null" };
  const unique = /UNIQUE constraint failed: ([\w.", ]+)/i.exec(message);
  if (unique !== null) return { kind: "unique", column: (unique[1] ?? "").split(".").pop()?.trim() ?? "" };
  if (/database is locked|SQLITE_BUSY|database table is locked/i.test(message)) return { kind: "busy" };
  if (/no such table/i.test(message)) return { kind: "no-table" };
  // A column a later migration added (a schema older than the release: deployed before it migrated).
  if (/no such column|has no column named/i.test(message)) return { kind: "no-column" };
  if (/too big|SQLITE_TOOBIG/i.test(message)) return { kind: "too-big" };
  if (/database or disk is full|SQLITE_FULL/i.test(message)) return { kind: "full" };
  // SQLITE_READONLY (8): opened read-only, or a file (or its directory, for the journal) not writable.
  if (/attempt to write a readonly database|SQLITE_READONLY/i.test(message)) return { kind: "read-only" };
  // SQLITE_NOTADB (26): no SQLite header, e.g. a text file; SQLITE_CORRUPT (11): pages that make no sense.
  if (/file is not a database|SQLITE_NOTADB/i.test(message)) return { kind: "not-a-database" };
  if (/database disk image is malformed|SQLITE_CORRUPT/i.test(message)) return { kind: "corrupt" };
  return { kind: "other" };
}

function messageOf(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { message, code, cause } = error as { message?: unknown; code?: unknown; cause?: unknown };
  const own = `${typeof code === "string" ? code : ""} ${typeof message === "string" ? message : ""}`;
  return cause === undefined || cause === error ? own : `${own} ${messageOf(cause)}`;
}

const MESSAGES: Record<SqliteFailure["kind"], [code: string, retryable: boolean, message: string]> = {
  "not-null": ["CONSTRAINT", false, "a value the table requires was missing"],
  unique: ["CONSTRAINT", false, "a row with the same key exists"],
  busy: ["BUSY", true, "another connection held the write lock for longer than busy_timeout"],
  "no-table": ["NOT_MIGRATED", false, "the store's tables do not exist here: run store.migrate() first"],
  "no-column": [
    "NOT_MIGRATED",
    false,
    "a column the statement uses does not exist: if the schema is older than this release, run store.migrate() first",
  ],
  "too-big": ["TOO_BIG", false, "a value exceeded the database's size limit"],
  full: ["FULL", false, "the database or its disk is full"],
  "read-only": [
    "READ_ONLY",
    false,
    "the database is read-only (opened read-only, or its file or folder is not writable): writes need a writable database",
  ],
  "not-a-database": [
    "NOT_A_DATABASE",
    false,
    "the file is not a SQLite database (or is damaged beyond reading): open the store's own database file",
  ],
  corrupt: ["CORRUPT", false, "the database file is damaged (SQLite found it malformed): restore it from a backup"],
  other: ["SQLITE_ERROR", false, "the statement failed"],
};

/**
 * Turns what a driver threw into a ServiceError. Our own errors pass through. The message is ours,
 * chosen by kind: SQLite's messages can quote the statement and values ("near …"), so neither they
 * nor the SQL reach the error; the cause carries only the driver's name and our code. A file found
 * malformed when the driver is made (its first read) is taken for what it most likely is: no database.
 */
export function toEventFlowsError(error: unknown, operation: string, driver: string): unknown {
  if (isEventFlowsError(error)) return error;
  let kind = failureOf(error).kind;
  if (kind === "corrupt" && operation === OPEN_DRIVER) kind = "not-a-database";
  const [code, retryable, message] = MESSAGES[kind];
  const cause = Object.assign(new Error(message), { name: "SqliteError", driver, code });
  return new ServiceError(SERVICE, operation, code, retryable, message, { cause });
}

/** Runs a database call so whatever it throws comes out typed. */
export async function guard<T>(operation: string, driver: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toEventFlowsError(error, operation, driver);
  }
}
