/**
 * SqliteIdempotencyStore on bun:sqlite: the idempotency store contract through the driver with its
 * transaction and through one without (the form D1 has), and what this store adds: the driver's cap
 * on a row, purging, typed errors, table prefixes. node:sqlite, D1 and Durable Objects run the
 * contract in test/runtime (sqlite-node.ts, sqlite-workerd.ts).
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import { idempotencyStoreContract, registerContract } from "../../src/testing/index.js";
import { expectNotMigrated, fileDatabase, optionIssuePaths } from "./file-database.fixture.test.ts";
import { bunSqliteDriver, migrateSqlite, type SqliteDriver, SqliteIdempotencyStore } from "./index.js";

// A file database in WAL mode, migrated once, shared by every case; batchOnly is its driver as D1 has it.
const { driver, batchOnly } = await fileDatabase("idempotency");
// The contract reuses one key ("Key-Ex%") in every run: each run gets tables of its own.
await migrateSqlite(driver, { tablePrefix: "d1_form_" });

registerContract(
  idempotencyStoreContract({
    name: "SqliteIdempotencyStore contract (bun:sqlite, file, WAL)",
    create: (settings) => new SqliteIdempotencyStore({ ...settings, driver }),
  }),
  { describe, test },
);
registerContract(
  idempotencyStoreContract({
    name: "SqliteIdempotencyStore contract (bun:sqlite, all and batch only, as on D1)",
    create: (settings) => new SqliteIdempotencyStore({ ...settings, driver: batchOnly, tablePrefix: "d1_form_" }),
  }),
  { describe, test },
);

const created = { status: 201, body: '{"id":1}', contentType: "application/json" };

describe("SqliteIdempotencyStore", () => {
  test("a response over the driver's cap on a row is a PayloadTooLargeError before anything is sent; the claim stays", async () => {
    const sent: string[] = [];
    const capped: SqliteDriver = {
      ...batchOnly,
      maxValueBytes: 1000,
      all: (sql, params) => {
        sent.push(sql);
        return driver.all(sql, params);
      },
    };
    const store = new SqliteIdempotencyStore({ driver: capped });
    const claim = await store.claim("capped-1", "fp");
    if (claim.state !== "claimed") throw new Error(`expected a claim, got ${claim.state}`);
    await expect(
      store.complete("capped-1", "fp", { ...created, body: "é".repeat(500) }, claim.token),
    ).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
      limit: 1000,
    });
    expect(sent).toEqual([]);
    expect(await store.claim("capped-1", "fp")).toEqual({ state: "in-progress", fingerprint: "fp" });
    await store.complete("capped-1", "fp", { ...created, body: "é".repeat(400) }, claim.token);
    expect((await store.claim("capped-1", "fp")).state).toBe("completed");
  });

  test("purgeExpired deletes the expired rows only, and says how many", async () => {
    const clock = { now: 1_000_000 };
    const own = new Database(":memory:");
    try {
      const driver = bunSqliteDriver(own);
      await migrateSqlite(driver);
      const store = new SqliteIdempotencyStore({ driver, now: () => clock.now, inProgressTtlMs: 10, ttlMs: 100 });
      await store.claim("in-progress", "fp");
      const done = await store.claim("done", "fp");
      if (done.state !== "claimed") throw new Error("expected a claim");
      await store.complete("done", "fp", created, done.token);
      expect(await store.purgeExpired()).toBe(0);
      clock.now += 10;
      expect(await store.purgeExpired()).toBe(1);
      expect(own.query("SELECT key FROM eventflows_idempotency_keys").all()).toEqual([{ key: "done" }]);
      clock.now += 100;
      expect(await store.purgeExpired()).toBe(1);
      expect(own.query("SELECT count(*) AS n FROM eventflows_idempotency_keys").get()).toEqual({ n: 0 });
    } finally {
      own.close();
    }
  });

  test("a table prefix keeps its keys apart from the default tables'", async () => {
    await migrateSqlite(driver, { tablePrefix: "other_" });
    const prefixed = new SqliteIdempotencyStore({ driver, tablePrefix: "other_" });
    const plain = new SqliteIdempotencyStore({ driver });
    expect((await prefixed.claim("shared-key", "fp")).state).toBe("claimed");
    expect((await plain.claim("shared-key", "fp")).state).toBe("claimed");
  });

  test("before migrations: a ServiceError saying to migrate, with no SQL in it", async () => {
    await expectNotMigrated(
      (driver) => new SqliteIdempotencyStore({ driver }),
      (store) => [
        () => store.claim("k", "fp"),
        () => store.complete("k", "fp", created, "t"),
        () => store.release("k", "fp", "t"),
        () => store.purgeExpired(),
      ],
      /idempotency_keys|INSERT|SELECT|DELETE/,
    );
  });

  test("bad options are a ValidationError naming each", () => {
    const paths = optionIssuePaths((options) => new SqliteIdempotencyStore(options));
    expect(paths(null)).toEqual([""]);
    expect(paths({})).toEqual(["driver"]);
    expect(paths({ driver, ttlMs: 0, inProgressTtlMs: 1.5, now: 3, tablePrefix: "Bad-" })).toEqual([
      "tablePrefix",
      "ttlMs",
      "inProgressTtlMs",
      "now",
    ]);
  });
});
