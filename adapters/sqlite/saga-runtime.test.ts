/**
 * The saga runtime on SqliteSagaStore (bun:sqlite, a WAL file): the order saga end to end (commands,
 * compensation, a timeout), fed from the SQLite feed, several runtimes over connections of their own,
 * and competing schedulers.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FiredTimeoutReport, SagaRuntime, ulid } from "../../src/index.js";
import { checkCompetingSchedulers } from "../../test/sagas/competing-schedulers.ts";
import { checkFeedResume } from "../../test/sagas/feed-resume.ts";
import { checkInterleavings, checkStalledSteps } from "../../test/sagas/interleavings.ts";
import { checkLateCompensation } from "../../test/sagas/late-compensation.ts";
import { orderEvent, orderSaga, recordingBus } from "../../test/sagas/order-saga.ts";
import { checkUnfinishedCompensation } from "../../test/sagas/unfinished-compensation.ts";
import {
  bunSqliteDriver,
  migrateSqlite,
  SqliteCheckpointStore,
  type SqliteDriver,
  SqliteEventStore,
  SqliteSagaStore,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-saga-runtime-"));
const file = join(dir, "sagas.db");
const opened: Database[] = [];
/** A connection of its own to the file, as another process would have. */
function connect(): SqliteDriver {
  const db = new Database(file);
  opened.push(db);
  return bunSqliteDriver(db);
}
const driver = connect();
await migrateSqlite(driver);
afterAll(() => {
  for (const db of opened) db.close();
  rmSync(dir, { recursive: true, force: true });
});
// As on D1: no interactive transaction, only all and batch.
const batchOnly: SqliteDriver = { name: driver.name, all: driver.all, batch: driver.batch };
const T0 = Date.parse("2026-12-03T10:00:00Z");

describe.each([
  ["bun:sqlite", driver],
  ["all and batch only, as on D1", batchOnly],
] as const)("SagaRuntime on SQLite (%s)", (_label, sagaDriver) => {
  test("duplicates apply once, a declined payment compensates in reverse order, the timeout is dropped", async () => {
    const store = new SqliteSagaStore({ driver: sagaDriver });
    const { bus, sent } = recordingBus();
    const runtime = new SagaRuntime({ store, commands: bus, sagas: [orderSaga], now: () => T0, retryDelayMs: 0 });
    const id = ulid();
    const placed = orderEvent("OrderPlaced", id, { sku: "A" });
    const outcomes = (await Promise.all([runtime.handle(placed), runtime.handle(placed)])).flat();
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(["duplicate", "started"]);
    await runtime.handle(orderEvent("StockReserved", id));
    await runtime.handle(orderEvent("PaymentFailed", id));
    expect(sent.map((s) => s.id)).toEqual([`Order/${id}/1`, `Order/${id}/2`, `Order/${id}/c3`, `Order/${id}/c4`]);
    expect(sent.map((s) => s.type).slice(2)).toEqual(["RefundPayment", "ReleaseStock"]);
    expect(await store.load("Order", id)).toMatchObject({ status: "compensated", outbox: [], version: 4 });
    expect((await runtime.tick(T0 + 60 * 60_000)).fired.filter((f) => f.key === id)).toEqual([]);
  });

  test("a step applied while the instance compensates has its compensation sent too", async () => {
    await checkLateCompensation(new SqliteSagaStore({ driver: sagaDriver }));
  });

  test("redrive finishes a compensation whose runtime stopped before saving it compensated (a stop simulated by a commit that never returns)", async () => {
    await checkUnfinishedCompensation(new SqliteSagaStore({ driver: sagaDriver }));
  });

  test("the payment timeout fires once when due and compensates in reverse order", async () => {
    const store = new SqliteSagaStore({ driver: sagaDriver });
    const { bus, sent } = recordingBus();
    let now = T0;
    const runtime = new SagaRuntime({
      store,
      commands: bus,
      sagas: [orderSaga],
      now: () => now,
      retryDelayMs: 0,
      onError: () => {},
    });
    const id = ulid();
    await runtime.handle(orderEvent("OrderPlaced", id, { sku: "B" }));
    await runtime.handle(orderEvent("StockReserved", id));
    const mine = (fired: readonly FiredTimeoutReport[]) => fired.filter((f) => f.key === id);
    expect(mine((await runtime.tick(T0 + 15 * 60_000 - 1)).fired)).toEqual([]);
    now = T0 + 15 * 60_000;
    const [fired] = mine((await runtime.tick(now)).fired);
    // Its step started the compensation, which ended with it: the instance is compensated.
    expect(fired).toMatchObject({ saga: "Order", name: "payment-timeout", outcome: "completed", latenessMs: 0 });
    expect(mine((await runtime.tick(now + 60 * 60_000)).fired)).toEqual([]);
    const record = await store.load("Order", id);
    expect(record).toMatchObject({
      status: "compensated",
      outbox: [],
      state: { sku: "B", steps: ["placed", "reserved", "timed-out"] },
    });
    expect(sent.map((s) => [s.id, s.type])).toEqual([
      [`Order/${id}/1`, "ReserveStock"],
      [`Order/${id}/2`, "ChargePayment"],
      [`Order/${id}/c3`, "RefundPayment"],
      [`Order/${id}/c4`, "ReleaseStock"],
    ]);
  });
});

describe("SagaRuntime on SQLite", () => {
  test("fed from the SQLite feed, it resumes from its checkpoint and applies each event once", async () => {
    await checkFeedResume({
      events: new SqliteEventStore({ driver }),
      checkpoints: new SqliteCheckpointStore({ driver }),
      store: new SqliteSagaStore({ driver }),
      at: T0,
    });
  }, 30_000);

  test("several runtimes on connections of their own, duplicated deliveries, ticks and crashes end as a sequential run (property)", async () => {
    await checkInterleavings(() => new SqliteSagaStore({ driver: connect() }), 15, { processes: true });
  }, 180_000);

  test("two runtimes handling the same events while handlers and command buses stall past leaseMs end as a sequential run (property)", async () => {
    await checkStalledSteps(() => new SqliteSagaStore({ driver: batchOnly }), 8, { boundMs: 150 });
  }, 180_000);

  test("three competing schedulers on connections of their own fire each of 200 due timeouts exactly once", async () => {
    await checkCompetingSchedulers(() => new SqliteSagaStore({ driver: connect() }), { at: T0 });
  }, 60_000);
});
