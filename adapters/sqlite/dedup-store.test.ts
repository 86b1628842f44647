/**
 * SqliteDedupStore on bun:sqlite: the dedup store contract through the driver with its transaction
 * and through one without (the form D1 has), and what this store adds: purging, rows another tool
 * wrote, typed errors, options. node:sqlite, D1 and Durable Objects run the contract in test/runtime
 * (sqlite-node.ts, sqlite-workerd.ts).
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import { dedupStoreContract, registerContract } from "../../src/testing/index.js";
import { expectNotMigrated, fileDatabase, optionIssuePaths } from "./file-database.fixture.test.ts";
import { bunSqliteDriver, migrateSqlite, SqliteDedupStore } from "./index.js";

// A file database in WAL mode, migrated once, shared by every case; batchOnly is its driver as D1 has it.
const { driver, batchOnly } = await fileDatabase("dedup");

registerContract(
  dedupStoreContract({
    name: "SqliteDedupStore contract (bun:sqlite, file, WAL)",
    create: (settings) => new SqliteDedupStore({ ...settings, driver }),
  }),
  { describe, test },
);
registerContract(
  dedupStoreContract({
    name: "SqliteDedupStore contract (bun:sqlite, all and batch only, as on D1)",
    create: (settings) => new SqliteDedupStore({ ...settings, driver: batchOnly }),
  }),
  { describe, test },
);

async function ownStore(now: () => number): Promise<{ own: Database; store: SqliteDedupStore }> {
  const own = new Database(":memory:");
  const driver = bunSqliteDriver(own);
  await migrateSqlite(driver);
  return { own, store: new SqliteDedupStore({ driver, now, ttlMs: 100 }) };
}

describe("SqliteDedupStore", () => {
  test("purgeExpired deletes the expired rows only, and says how many", async () => {
    const clock = { now: 1_000_000 };
    const { own, store } = await ownStore(() => clock.now);
    try {
      await store.add("old");
      clock.now += 50;
      await store.add("new");
      expect(await store.purgeExpired()).toBe(0);
      clock.now += 50;
      expect(await store.purgeExpired()).toBe(1);
      expect(own.query("SELECT id FROM eventflows_dedup").all()).toEqual([{ id: "new" }]);
    } finally {
      own.close();
    }
  });

  // SQLite's INTEGER column keeps what another tool wrote: compared in SQL, text sorts above every number,
  // so such a row would have read as handled for ever, its message skipped on every delivery.
  for (const stored of ["'soon'", "x'01'", "1.5e300"]) {
    test(`a stored expiry of ${stored} is a ServiceError DEDUP_CORRUPT, not a handled id`, async () => {
      const { own, store } = await ownStore(Date.now);
      try {
        await store.add("evt-1");
        own.run(`UPDATE eventflows_dedup SET expires_at = ${stored}`);
        const error = await store.has("evt-1").then(
          (answer) => answer,
          (thrown: unknown) => thrown,
        );
        expect(error).toMatchObject({ code: ErrorCode.Service, service: "SQLite", serviceCode: "DEDUP_CORRUPT" });
        expect(String((error as Error).message)).not.toMatch(/evt-1|SELECT|dedup/);
      } finally {
        own.close();
      }
    });
  }

  test("before migrations: a ServiceError saying to migrate, with no SQL in it", async () => {
    await expectNotMigrated(
      (driver) => new SqliteDedupStore({ driver }),
      (store) => [() => store.has("e"), () => store.add("e"), () => store.purgeExpired()],
      /dedup|INSERT|SELECT|DELETE/,
    );
  });

  test("bad options are a ValidationError naming each", () => {
    const paths = optionIssuePaths((options) => new SqliteDedupStore(options));
    expect(paths(null)).toEqual([""]);
    expect(paths({})).toEqual(["driver"]);
    expect(paths({ driver, ttlMs: 0, now: 3, tablePrefix: "Bad-" })).toEqual(["tablePrefix", "ttlMs", "now"]);
    expect(paths({ driver, ttlMs: null })).toEqual(["ttlMs"]);
  });
});
