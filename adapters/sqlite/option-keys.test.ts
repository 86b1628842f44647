import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { InMemoryEventStore } from "../../src/index.js";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import {
  bunSqliteDriver,
  D1,
  DurableObjectEventStore,
  d1Driver,
  d1TenantDatabases,
  handleEventStoreRequest,
  LiveSubscribers,
  migrateSqlite,
  nodeSqliteDriver,
  SqliteCheckpointStore,
  SqliteDedupStore,
  SqliteEventStore,
  SqliteIdempotencyStore,
  SqliteReadModelStore,
  SqliteSagaStore,
  SqliteSnapshotStore,
  SqliteSubjectKeyStore,
  sqliteAppliedMigrations,
  sqliteSchemaVersion,
  sqliteStoreStats,
  sqliteTableNames,
} from "./index.js";

// Every option object of the SQLite adapter refuses a key it does not take, naming its path, before
// anything is read or written: before, a misspelt key was dropped and its default taken without a
// word (`tablePrefx` migrated and wrote the default tables, `busyTimeout` kept the default wait,
// `maxBatchStatement` kept Workers Paid's 1,000 statements on a Free plan).

const db = new Database(":memory:");
const driver = bunSqliteDriver(db);
await migrateSqlite(driver);
const d1 = { prepare: () => undefined, batch: () => undefined } as never;
const served = new SqliteEventStore({ driver });
const masterKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
const ctx = { acceptWebSocket: () => undefined, getWebSockets: () => [] };
const EVENT_STORE = ["bus", "onPublishError", "maxJsonDepth", "eventRegistry", "personalData", "telemetry"];
const SNAPSHOT = ["serializer", "legacySerializers", "compression", "keepLast", "maxDecompressedBytes"];

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  SqliteEventStore: {
    keys: [...EVENT_STORE, "tablePrefix", "driver", "maxEventBytes", "readPageSize", "readPageBytes"],
    build: (extra) => new SqliteEventStore({ driver, ...extra }),
  },
  SqliteSnapshotStore: {
    keys: [...SNAPSHOT, "personalData", "telemetry", "tablePrefix", "driver", "maxPayloadBytes"],
    build: (extra) => new SqliteSnapshotStore({ driver, ...extra }),
  },
  SqliteCheckpointStore: {
    keys: ["tablePrefix", "driver"],
    build: (extra) => new SqliteCheckpointStore({ driver, ...extra }),
  },
  SqliteReadModelStore: {
    keys: ["tablePrefix", "driver"],
    build: (extra) => new SqliteReadModelStore({ driver, ...extra }),
  },
  SqliteSagaStore: {
    keys: ["maxStateBytes", "tablePrefix", "driver"],
    build: (extra) => new SqliteSagaStore({ driver, ...extra }),
  },
  SqliteDedupStore: {
    keys: ["ttlMs", "now", "tablePrefix", "driver"],
    build: (extra) => new SqliteDedupStore({ driver, ...extra }),
  },
  SqliteIdempotencyStore: {
    keys: ["ttlMs", "inProgressTtlMs", "now", "tablePrefix", "driver"],
    build: (extra) => new SqliteIdempotencyStore({ driver, ...extra }),
  },
  SqliteSubjectKeyStore: {
    keys: ["cacheSize", "cacheTtlMs", "now", "tablePrefix", "driver", "masterKey"],
    build: (extra) => new SqliteSubjectKeyStore({ driver, masterKey, ...extra }),
  },
  bunSqliteDriver: { keys: ["wal", "busyTimeoutMs"], build: (extra) => bunSqliteDriver(db, { ...extra }) },
  nodeSqliteDriver: {
    keys: ["wal", "busyTimeoutMs"],
    // bun:sqlite's Database has node:sqlite's prepare and exec: enough for the pragmas.
    build: (extra) => nodeSqliteDriver(db as never, { wal: false, ...extra }),
  },
  d1Driver: { keys: ["maxBatchStatements"], build: (extra) => d1Driver(d1, { ...extra }) },
  d1TenantDatabases: {
    keys: ["env", "bindings", "maxBatchStatements"],
    build: (extra) => d1TenantDatabases({ env: { DB_ACME: d1 }, bindings: { acme: "DB_ACME" }, ...extra }),
  },
  migrateSqlite: { keys: ["tablePrefix", "to"], build: (extra) => migrateSqlite(driver, { ...extra }) },
  sqliteSchemaVersion: { keys: ["tablePrefix"], build: (extra) => sqliteSchemaVersion(driver, { ...extra }) },
  sqliteAppliedMigrations: { keys: ["tablePrefix"], build: (extra) => sqliteAppliedMigrations(driver, { ...extra }) },
  sqliteStoreStats: { keys: ["tablePrefix"], build: (extra) => sqliteStoreStats(driver, { ...extra }) },
  sqliteTableNames: { keys: ["tablePrefix"], build: (extra) => sqliteTableNames({ ...extra }) },
  DurableObjectEventStore: {
    keys: [...EVENT_STORE, "stub"],
    build: (extra) => new DurableObjectEventStore({ stub: { fetch: () => Promise.reject() }, ...extra }),
  },
  handleEventStoreRequest: {
    keys: ["maxReplyBytes", "live"],
    // Through the object's client, as a Worker meets it: the object answers 400, the client throws it.
    build: (extra) =>
      new DurableObjectEventStore({
        stub: { fetch: (url, init) => handleEventStoreRequest(served, new Request(url, init), { ...extra }) },
      }).getLastGlobalPosition(),
  },
  LiveSubscribers: {
    keys: ["batchSize", "maxBatchBytes", "maxSubscribers", "maxUnacknowledged", "ackTimeoutMs", "pingMs"],
    build: (extra) => new LiveSubscribers(ctx, new InMemoryEventStore(), { ...extra }),
  },
};

describe("the SQLite adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [() => new SqliteEventStore({ driver, tablePrefx: "app_" } as never), ["tablePrefx"]],
      [() => migrateSqlite(driver, { tablePrefx: "app_" } as never), ["tablePrefx"]],
      [() => bunSqliteDriver(db, { busyTimeout: 100 } as never), ["busyTimeout"]],
      [() => d1Driver(d1, { maxBatchStatement: 50 } as never), ["maxBatchStatement"]],
      [() => new SqliteSnapshotStore({ driver, keeplast: 1 } as never), ["keeplast"]],
      // A crashed claim would have blocked its key for the default minute.
      [() => new SqliteIdempotencyStore({ driver, inProgressTtl: 5000 } as never), ["inProgressTtl"]],
      // Handled ids would have been kept the default 14 days.
      [() => new SqliteDedupStore({ driver, ttlMS: 1000 } as never), ["ttlMS"]],
      // Erased keys would have stayed cached for the default minute.
      [() => new SqliteSubjectKeyStore({ driver, masterKey, cacheTtl: 1000 } as never), ["cacheTtl"]],
      [() => new LiveSubscribers(ctx, served, { maxSubscriber: 5 } as never), ["maxSubscriber"]],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  test("the store's migrate refuses a table prefix: it migrates the store's own tables, never another's", async () => {
    // Before, migrate({ tablePrefix }) (an untyped call) migrated tables the store does not use.
    const store = new SqliteEventStore({ driver });
    expect(await refusedPaths(() => store.migrate({ tablePrefix: "other_" } as never))).toEqual(["tablePrefix"]);
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders);
  });

  test("null is still no options where it was, and the D1 driver names itself", async () => {
    expect(await sqliteSchemaVersion(driver, null)).toBeGreaterThan(0);
    expect(new LiveSubscribers(ctx, served, null)).toBeInstanceOf(LiveSubscribers);
    expect(d1Driver(d1).name).toBe(D1);
  });
});
