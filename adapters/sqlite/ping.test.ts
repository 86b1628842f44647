/**
 * Readiness on SQLite proves the database is migrated: every store's `ping()` selects no row from its
 * own table. A `SELECT 1` answered on a database without the tables, and readiness said ready while
 * every call failed (DynamoDB's ping fails on a missing table, PostgreSQL's on a missing schema).
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { healthCheck, isServiceError } from "../../src/index.js";
import {
  bunSqliteDriver,
  SqliteCheckpointStore,
  SqliteDedupStore,
  SqliteEventStore,
  SqliteIdempotencyStore,
  SqliteSnapshotStore,
  SqliteSubjectKeyStore,
} from "./index.js";

test("on a database not migrated every store's ping fails as NOT_MIGRATED; migrated, each answers", async () => {
  const driver = bunSqliteDriver(new Database(":memory:"));
  const masterKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const stores = {
    events: new SqliteEventStore({ driver }),
    snapshots: new SqliteSnapshotStore({ driver }),
    checkpoints: new SqliteCheckpointStore({ driver }),
    dedup: new SqliteDedupStore({ driver }),
    idempotency: new SqliteIdempotencyStore({ driver }),
    subjectKeys: new SqliteSubjectKeyStore({ driver, masterKey }),
  };
  for (const [name, store] of Object.entries(stores)) {
    const error = await store.ping().catch((e: unknown) => e);
    expect({ name, service: isServiceError(error) }).toEqual({ name, service: true });
    expect({ name, code: (error as { serviceCode?: unknown }).serviceCode }).toEqual({ name, code: "NOT_MIGRATED" });
  }
  expect((await healthCheck({ checks: stores })).healthy).toBe(false);
  await stores.events.migrate();
  const report = await healthCheck({ checks: stores });
  expect(Object.values(report.checks).map((check) => check.status)).toEqual(["ok", "ok", "ok", "ok", "ok", "ok"]);
});
