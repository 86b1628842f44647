import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import { failureOf, toEventFlowsError } from "./errors.js";

// Messages as each driver words them (bun:sqlite and node:sqlite pass SQLite's text; D1 prefixes
// it; Durable Objects add SQLITE_* codes to the text).
const SAMPLES: [string, unknown, string][] = [
  [
    "bun:sqlite",
    Object.assign(new Error("NOT NULL constraint failed: eventflows_events.version"), {
      code: "SQLITE_CONSTRAINT_NOTNULL",
    }),
    "not-null",
  ],
  [
    "node:sqlite",
    Object.assign(new Error("UNIQUE constraint failed: eventflows_events.id"), { errcode: 2067 }),
    "unique",
  ],
  ["D1", new Error("D1_ERROR: NOT NULL constraint failed: eventflows_events.version: SQLITE_CONSTRAINT"), "not-null"],
  ["D1 wrapped", new Error("D1_EXEC_ERROR", { cause: new Error("database is locked") }), "busy"],
  ["Durable Object", new Error("no such table: eventflows_events: SQLITE_ERROR"), "no-table"],
  ["bun:sqlite", Object.assign(new Error("string or blob too big"), { code: "SQLITE_TOOBIG" }), "too-big"],
  ["any", new Error('near "SELEC": syntax error'), "other"],
];

describe("SQLite errors", () => {
  for (const [driver, error, kind] of SAMPLES) {
    test(`${driver}: "${(error as Error).message}" is ${kind}`, () => {
      expect(failureOf(error).kind).toBe(kind as never);
    });
  }

  test("the unique column is named, so an id collision is told from a version collision", () => {
    expect(failureOf(new Error("UNIQUE constraint failed: eventflows_events.id"))).toEqual({
      kind: "unique",
      column: "id",
    });
    expect(
      failureOf(new Error("UNIQUE constraint failed: eventflows_events.stream_id, eventflows_events.version")),
    ).toEqual({
      kind: "unique",
      column: "version",
    });
  });

  test("every failure becomes a ServiceError whose message and cause quote neither SQL nor values", () => {
    const leaky = new Error("near \"DROP TABLE secret_table\": syntax error in INSERT INTO x VALUES ('password')");
    const typed = toEventFlowsError(leaky, "appendToStream", "bun:sqlite") as Error & Record<string, unknown>;
    expect(typed).toMatchObject({ code: ErrorCode.Service, serviceCode: "SQLITE_ERROR", retryable: false });
    for (const text of [typed.message, (typed.cause as Error).message, JSON.stringify(typed.cause)]) {
      expect(text).not.toMatch(/secret_table|password|INSERT|DROP/);
    }
  });
});
