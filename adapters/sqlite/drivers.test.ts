import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import { bunSqliteDriver, d1Driver, durableObjectDriver, nodeSqliteDriver } from "./index.js";

// The drivers themselves run against real databases elsewhere: bun:sqlite here, node:sqlite on
// Node 22 and D1 and Durable Objects in workerd (test/runtime). This checks what they refuse.
describe("SQLite drivers refuse what is not their database, with a ValidationError", () => {
  const notDatabases = [undefined, null, {}, { prepare: 1 }, "events.db"];
  for (const [name, make] of [
    ["bunSqliteDriver", bunSqliteDriver],
    ["nodeSqliteDriver", nodeSqliteDriver],
    ["d1Driver", d1Driver],
    ["durableObjectDriver", durableObjectDriver],
  ] as const) {
    test(name, () => {
      for (const value of notDatabases) {
        expect(() => (make as (db: unknown) => unknown)(value)).toThrow(
          expect.objectContaining({ code: ErrorCode.Validation }),
        );
      }
    });
  }
});

describe("SQLite drivers over a connection that refuses their pragmas", () => {
  test("fail with a ServiceError, not the database's own error", () => {
    const db = new Database(":memory:");
    db.close();
    expect(() => bunSqliteDriver(db)).toThrow(
      expect.objectContaining({ code: ErrorCode.Service, service: "SQLite", operation: "openDriver" }),
    );
    const refusing = {
      prepare: () => {
        throw new Error("database is locked");
      },
      exec: () => {
        throw new Error("database is locked");
      },
    };
    expect(() => nodeSqliteDriver(refusing)).toThrow(
      expect.objectContaining({ code: ErrorCode.Service, serviceCode: "BUSY", retryable: true }),
    );
  });
});
