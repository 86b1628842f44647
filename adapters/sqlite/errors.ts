import { isEventFlowsError, ServiceError } from "../../src/index.js";

export const SERVICE = "SQLite";

/** What a failed statement was, read from the driver's error (each driver words and codes it differently). */
export type SqliteFailure =
  | { readonly kind: "not-null" }
  | { readonly kind: "unique"; readonly column: string }
  | { readonly kind: "busy" }
  | { readonly kind: "no-table" }
  | { readonly kind: "too-big" }
  | { readonly kind: "full" }
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
  if (/too big|SQLITE_TOOBIG/i.test(message)) return { kind: "too-big" };
  if (/database or disk is full|SQLITE_FULL/i.test(message)) return { kind: "full" };
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
  "too-big": ["TOO_BIG", false, "a value exceeded the database's size limit"],
  full: ["FULL", false, "the database or its disk is full"],
  other: ["SQLITE_ERROR", false, "the statement failed"],
};

/**
 * Turns what a driver threw into a ServiceError. Our own errors pass through. The message is ours,
 * chosen by kind: SQLite's messages can quote the statement and values ("near …"), so neither they
 * nor the SQL reach the error; the cause carries only the driver's name and our code.
 */
export function toEventFlowsError(error: unknown, operation: string, driver: string): unknown {
  if (isEventFlowsError(error)) return error;
  const [code, retryable, message] = MESSAGES[failureOf(error).kind];
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
