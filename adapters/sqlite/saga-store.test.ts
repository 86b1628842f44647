/**
 * SqliteSagaStore on bun:sqlite: the saga store contract and the differential against the in-memory
 * reference, through the driver with its transaction and through one without (the form D1 has: a
 * commit is its batch whatever the driver), and what this store adds: the driver's cap on a value,
 * typed errors, table prefixes.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode, type SagaCommit, ServiceError, sagaTimeoutId, ValidationError } from "../../src/index.js";
import { registerContract, sagaStoreContract } from "../../src/testing/index.js";
import { checkSagasAgainstReference } from "../../test/differential/saga-differential.ts";
import { fileDatabase } from "./file-database.fixture.test.ts";
import { bunSqliteDriver, migrateSqlite, type SqliteDriver, SqliteSagaStore } from "./index.js";

// A file database in WAL mode, migrated once, shared by every case; batchOnly is its driver as D1 has it.
const { db, driver, batchOnly } = await fileDatabase("sagas");

registerContract(
  sagaStoreContract({
    name: "SqliteSagaStore contract (bun:sqlite, file, WAL)",
    create: (settings) => new SqliteSagaStore({ ...settings, driver }),
  }),
  { describe, test },
);
registerContract(
  sagaStoreContract({
    name: "SqliteSagaStore contract (bun:sqlite, all and batch only, as on D1)",
    create: (settings) => new SqliteSagaStore({ ...settings, driver: batchOnly }),
  }),
  { describe, test },
);

/** A migrated in-memory database of its own and a saga store on it, for tests that edit its rows as another tool would. */
async function ownStore(): Promise<{ own: Database; store: SqliteSagaStore }> {
  const own = new Database(":memory:");
  const driver = bunSqliteDriver(own);
  await migrateSqlite(driver);
  return { own, store: new SqliteSagaStore({ driver }) };
}

describe("SqliteSagaStore answers as the in-memory store does", () => {
  // Tables of their own: the runs' next due time must be their own, not a contract case's timeout.
  const tablePrefix = "sagadiff_";
  test("generated commits, loads, handled ids, outbox, timeout claims, drops, listings and failures (property)", async () => {
    await migrateSqlite(driver, { tablePrefix });
    await checkSagasAgainstReference(() => new SqliteSagaStore({ driver, tablePrefix }), { numRuns: 40 });
    await checkSagasAgainstReference(() => new SqliteSagaStore({ driver: batchOnly, tablePrefix }), { numRuns: 20 });
  }, 120_000);
});

const first = (saga: string, extra: Partial<SagaCommit> = {}): SagaCommit => ({
  saga,
  key: "k",
  expectedVersion: 0,
  state: { n: 1 },
  status: "running",
  step: 0,
  compensations: [],
  ...extra,
});

/** The driver, counting the batches it is sent. */
function counting(base: SqliteDriver, maxValueBytes?: number): { driver: SqliteDriver; batches: () => number } {
  let batches = 0;
  return {
    driver: {
      name: base.name,
      all: base.all,
      batch: (statements) => {
        batches += 1;
        return base.batch(statements);
      },
      ...(maxValueBytes === undefined ? {} : { maxValueBytes }),
    },
    batches: () => batches,
  };
}

describe("SqliteSagaStore", () => {
  test("a row, outbox or schedule over the driver's maxValueBytes is refused before anything is sent", async () => {
    const cap = 2000;
    const { driver: capped, batches } = counting(driver, cap);
    const store = new SqliteSagaStore({ driver: capped });
    const saga = `Capped-${crypto.randomUUID()}`;
    const big = "é".repeat(cap / 2);
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: { big }, causationId: "e", compensation: false };
    const timeout = { id: sagaTimeoutId(saga, "k", "t", 1), saga, key: "k", name: "t", dueAt: 1, data: { big } };
    const refused: Partial<SagaCommit>[] = [
      // Under maxStateBytes (256 KiB), over the row the driver takes: 2,000 two-byte characters.
      { state: { big } },
      // Each fits alone; the row holds them together.
      { state: { half: "x".repeat(cap / 2) }, compensations: [{ type: "Undo", payload: "y".repeat(cap / 2) }] },
      { outbox: [entry] },
      { schedule: [timeout] },
    ];
    for (const [i, extra] of refused.entries()) {
      const error = await store.commit(first(saga, { ...extra, handledId: "e" })).catch((e: unknown) => e);
      expect([i, (error as { code?: string }).code]).toEqual([i, ErrorCode.PayloadTooLarge]);
      expect((error as { limit?: number }).limit).toBe(cap);
    }
    expect(batches()).toBe(0);
    expect(await store.load(saga, "k")).toBeUndefined();
    expect(await store.hasHandled(saga, "k", "e")).toBe(false);
    // Near the cap is stored.
    await store.commit(first(saga, { state: { near: "n".repeat(cap - 100) } }));
    expect((await store.load(saga, "k"))?.version).toBe(1);
  });

  test("an unmigrated database is a typed NOT_MIGRATED error, with no SQL in it", async () => {
    const empty = new Database(":memory:");
    const store = new SqliteSagaStore({ driver: bunSqliteDriver(empty) });
    for (const call of [
      () => store.load("S", "k"),
      () => store.commit(first("S")),
      () => store.claimDueTimeouts({ now: 1, owner: "o", leaseMs: 1, limit: 1 }),
      () => store.list(),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceError);
      expect(error).toMatchObject({ service: "SQLite", serviceCode: "NOT_MIGRATED" });
      expect(String((error as Error).message)).not.toMatch(/SELECT|INSERT|UPDATE|eventflows_/);
    }
    empty.close();
  });

  test("a stored instance, timeout data or failure that is not JSON is a ServiceError SAGA_CORRUPT quoting none of it", async () => {
    // Another tool wrote the row: the catch-all "the statement failed" (SQLITE_ERROR) said nothing true.
    const { own, store } = await ownStore();
    await store.commit(first("S"));
    await store.recordFailure({
      saga: "S",
      key: "k",
      eventId: "e",
      eventType: "T",
      error: "Error: m",
      at: "2026-12-07T00:00:00.000Z",
    });
    own.run(`UPDATE eventflows_sagas SET state = '{"card": "4111 1111'`);
    own.run(`UPDATE eventflows_saga_failures SET failure = '{"card": "4111 1111'`);
    const claim = () => store.claimDueTimeouts({ now: 10, owner: "o", leaseMs: 1, limit: 1 });
    const corrupt = async (calls: (() => Promise<unknown>)[]) => {
      for (const call of calls) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ service: "SQLite", serviceCode: "SAGA_CORRUPT", retryable: false });
        expect(`${(error as Error).message} ${String((error as Error).cause)}`).not.toContain("4111");
      }
    };
    await corrupt([() => store.load("S", "k"), () => store.list(), () => store.failures()]);
    // A timeout's data. (An outbox entry: the next test.)
    await store.commit(
      first("T", {
        schedule: [
          { id: sagaTimeoutId("T", "k", "due", 1), saga: "T", key: "k", name: "due", dueAt: 1, data: { n: 1 } },
        ],
      }),
    );
    own.run(`UPDATE eventflows_saga_timeouts SET data = '{"card": "4111 1111'`);
    await corrupt([claim]);
    own.close();
  });

  test("an outbox entry that is not JSON is a ServiceError SAGA_CORRUPT naming the instance, quoting none of it", async () => {
    // Read through SQLite's json() inside the statement, it failed as SQLITE_ERROR "the statement failed".
    const { own, store } = await ownStore();
    const entry = { id: "S/k/1", type: "Cmd", payload: { n: 1 }, causationId: "e", compensation: false };
    await store.commit(first("S", { outbox: [entry] }));
    own.run(`UPDATE eventflows_saga_outbox SET entry = '{"card": "4111 1111'`);
    for (const call of [() => store.load("S", "k"), () => store.list({ pendingOutbox: true })]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toMatchObject({ service: "SQLite", serviceCode: "SAGA_CORRUPT", retryable: false });
      expect((error as Error).message).toContain('saga "S" key "k"');
      expect(`${(error as Error).message} ${String((error as Error).cause)}`).not.toContain("4111");
    }
    own.close();
  });

  // JSON of another shape, or a status that is none: each was handed on (status "bogus", compensations
  // null, an outbox of [null]) for the saga runtime to fail on with a TypeError or to leave stuck.
  const notInstances: readonly (readonly [string, string])[] = [
    ["a status that is none", "sagas SET status = 'bogus'"],
    ["a step that is no integer", "sagas SET step = 'x'"],
    ["compensations that are JSON null", "sagas SET compensations = 'null'"],
    ["attention that is a number", "sagas SET attention = '5'"],
    ["an outbox entry that is a string", `saga_outbox SET entry = '"4111 1111"'`],
    ["an outbox entry that is a number", "saga_outbox SET entry = 5"],
    // BLOBs another tool wrote, which String() and Number() read as something (outside audit: x'05' as step 5).
    ["a step that is a BLOB", "sagas SET step = x'05'"],
    ["a version that is a BLOB", "sagas SET version = x'01'"],
    ["state that is a BLOB", "sagas SET state = x'7b7d'"],
  ];
  for (const [what, assignment] of notInstances) {
    test(`${what} is a ServiceError SAGA_CORRUPT naming the instance, quoting none of it`, async () => {
      const { own, store } = await ownStore();
      const entry = { id: "S/k/1", type: "Cmd", payload: { n: 1 }, causationId: "e", compensation: false };
      await store.commit(first("S", { outbox: [entry] }));
      own.run(`UPDATE eventflows_${assignment}`);
      for (const call of [() => store.load("S", "k"), () => store.list()]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ service: "SQLite", serviceCode: "SAGA_CORRUPT", retryable: false });
        expect((error as Error).message).toContain('saga "S" key "k"');
        expect((error as Error).message).not.toContain("4111");
      }
      own.close();
    });
  }

  test("a failure that is JSON null is a ServiceError SAGA_CORRUPT", async () => {
    const { own, store } = await ownStore();
    const at = "2026-12-07T00:00:00.000Z";
    await store.recordFailure({ saga: "S", key: "k", eventId: "e", eventType: "T", error: "E", at });
    own.run(`UPDATE eventflows_saga_failures SET failure = 'null'`);
    expect(await store.failures().catch((e: unknown) => e)).toMatchObject({ serviceCode: "SAGA_CORRUPT" });
    own.close();
  });

  test("bad options are a ValidationError naming them", () => {
    const issues = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
      throw new Error("accepted");
    };
    expect(issues(() => new SqliteSagaStore(null as never))).toEqual([""]);
    expect(issues(() => new SqliteSagaStore({} as never))).toEqual(["driver"]);
    expect(issues(() => new SqliteSagaStore({ driver, tablePrefix: "Bad-" }))).toEqual(["tablePrefix"]);
    expect(issues(() => new SqliteSagaStore({ driver, maxStateBytes: 0 }))).toEqual(["maxStateBytes"]);
  });

  test("stores under two table prefixes in one database keep their instances apart", async () => {
    const other = new SqliteSagaStore({ driver, tablePrefix: "other_" });
    await migrateSqlite(driver, { tablePrefix: "other_" });
    const saga = `Prefixed-${crypto.randomUUID()}`;
    await new SqliteSagaStore({ driver }).commit(first(saga));
    expect(await other.load(saga, "k")).toBeUndefined();
    await other.commit(first(saga, { state: { n: 2 } }));
    expect((await other.load(saga, "k"))?.state).toEqual({ n: 2 });
    expect((await new SqliteSagaStore({ driver }).load(saga, "k"))?.state).toEqual({ n: 1 });
  });

  test("a commit whose batch fails on the database writes nothing and keeps the database's typed error", async () => {
    const saga = `Failing-${crypto.randomUUID()}`;
    const store = new SqliteSagaStore({ driver });
    await store.commit(first(saga));
    // Another tool made a timeout id the instance's commit will schedule: its INSERT fails the batch,
    // after the instance's row and handled id were written in it.
    const id = sagaTimeoutId(saga, "k", "t", 2);
    db.run(`INSERT INTO "eventflows_saga_timeouts" (id, saga, key, name, due_at) VALUES (?, 'x', 'y', 'z', 0)`, [id]);
    const error = await store
      .commit({
        ...first(saga, { state: { n: 2 }, handledId: "e2" }),
        expectedVersion: 1,
        schedule: [{ id, saga, key: "k", name: "t", dueAt: 5, data: null }],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ service: "SQLite", serviceCode: "CONSTRAINT" });
    expect(await store.load(saga, "k")).toMatchObject({ version: 1, state: { n: 1 } });
    expect(await store.hasHandled(saga, "k", "e2")).toBe(false);
    await store.dropTimeout(id);
  });
});
