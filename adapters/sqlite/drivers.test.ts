import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import {
  bunSqliteDriver,
  d1Driver,
  durableObjectDriver,
  LiveSubscribers,
  migrateSqlite,
  nodeSqliteDriver,
  SqliteEventStore,
  sqliteAppliedMigrations,
  sqliteSchemaVersion,
  sqliteStoreStats,
  sqliteTableNames,
} from "./index.js";

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

describe("SQLite driver options", () => {
  test("null options are no options; a wal that is not a boolean is refused, not taken for its truthiness", () => {
    const db = new Database(":memory:");
    expect(bunSqliteDriver(db, null as never).name).toBe("bun:sqlite");
    for (const wal of ["false", 0, "no"]) {
      expect(() => bunSqliteDriver(db, { wal } as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation, issues: [expect.objectContaining({ path: ["wal"] })] }),
      );
    }
    db.close();
  });
});

describe("The functions that take a driver refuse what is not one, with a ValidationError", () => {
  test("migrateSqlite, sqliteSchemaVersion, sqliteAppliedMigrations and sqliteStoreStats; null options are no options", async () => {
    for (const notDriver of [undefined, null, {}, { all: () => [] }]) {
      for (const run of [migrateSqlite, sqliteSchemaVersion, sqliteAppliedMigrations, sqliteStoreStats]) {
        await expect((run as (driver: unknown) => Promise<unknown>)(notDriver)).rejects.toMatchObject({
          code: ErrorCode.Validation,
          issues: [expect.objectContaining({ path: ["driver"] })],
        });
      }
    }
    const db = new Database(":memory:");
    const driver = bunSqliteDriver(db);
    expect(await sqliteAppliedMigrations(driver)).toEqual([]);
    expect(await migrateSqlite(driver, null)).toMatchObject({ version: 11 });
    const applied = await sqliteAppliedMigrations(driver, null);
    expect(applied.map((m) => [m.version, m.name])).toEqual([
      [1, "events"],
      [2, "checkpoints"],
      [3, "snapshots"],
      [4, "read-models"],
      [5, "stream-deletions"],
      [6, "stream-deletion-events"],
      [7, "soft-deletions-index"],
      [8, "sagas"],
      [9, "idempotency-keys"],
      [10, "subject-keys"],
      [11, "dedup"],
    ]);
    for (const m of applied) expect(new Date(m.appliedAt).toISOString()).toBe(m.appliedAt);
    expect(await sqliteSchemaVersion(driver, null)).toBe(11);
    expect(await sqliteStoreStats(driver, null)).toMatchObject({ schemaVersion: 11, events: 0 });
    expect(sqliteTableNames(null).events).toBe('"eventflows_events"');
    const ctx = { acceptWebSocket: () => {}, getWebSockets: () => [] };
    expect(new LiveSubscribers(ctx, new SqliteEventStore({ driver }), null).count).toBe(0);
    db.close();
  });
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
