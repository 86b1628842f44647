/** The saga runtime on PostgresSagaStore: the order saga end to end, and competing schedulers on the real server. */
import { describe, expect, test } from "bun:test";
import {
  defineSaga,
  type FiredTimeoutReport,
  type SagaFailureReport,
  SagaRuntime,
  SagaStepTimeoutError,
  ulid,
} from "../../src/index.js";
import { eventually } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import { checkCompetingSchedulers } from "../../test/sagas/competing-schedulers.ts";
import { checkFeedResume } from "../../test/sagas/feed-resume.ts";
import { checkInterleavings, checkStalledSteps } from "../../test/sagas/interleavings.ts";
import { checkLateCompensation } from "../../test/sagas/late-compensation.ts";
import { type OrderEvent, type OrderState, orderEvent, orderSaga, recordingBus } from "../../test/sagas/order-saga.ts";
import { checkUnfinishedCompensation } from "../../test/sagas/unfinished-compensation.ts";
import { PostgresCheckpointStore, PostgresEventStore, PostgresSagaStore } from "./index.js";

const pg = usePostgresSchema("saga_runtime", {
  client: { max: 10 },
  migrate: ({ sql, schema }) => new PostgresEventStore({ sql, schema }).migrate(),
});
const { schema } = pg;
const T0 = Date.parse("2026-12-03T10:00:00Z");

describe("SagaRuntime on PostgreSQL", () => {
  test("duplicates apply once, a declined payment compensates in reverse order, the timeout is dropped", async () => {
    const store = new PostgresSagaStore(pg.options);
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
    const record = await store.load("Order", id);
    expect(record).toMatchObject({ status: "compensated", outbox: [], version: 4 });
    expect((await runtime.tick(T0 + 60 * 60_000)).fired.filter((f) => f.key === id)).toEqual([]);
  });

  test("a step applied while the instance compensates has its compensation sent too", async () => {
    await checkLateCompensation(new PostgresSagaStore(pg.options));
  });

  test("redrive finishes a compensation whose runtime stopped before saving it compensated (a stop simulated by a commit that never returns)", async () => {
    await checkUnfinishedCompensation(new PostgresSagaStore(pg.options));
  });

  test("an event id PostgreSQL cannot keep fails the step, and its failure is still recorded there", async () => {
    const store = new PostgresSagaStore(pg.options);
    const { bus, sent } = recordingBus();
    const errors: SagaFailureReport[] = [];
    const runtime = new SagaRuntime({
      store,
      commands: bus,
      sagas: [orderSaga],
      now: () => T0,
      onError: (failure) => errors.push(failure),
    });
    const u = ulid();
    const ids = [`${u}\u0000`, `${u}\udc00`, `${u}${"x".repeat(3000)}`];
    for (const id of ids) {
      const [outcome] = await runtime.handle({ ...orderEvent("OrderPlaced", ulid(), { sku: "A" }), id });
      expect(outcome).toMatchObject({ outcome: "failed", error: { code: "VALIDATION_FAILED" } });
    }
    expect(errors.map((e) => e.event.id)).toEqual(ids);
    const recorded = (await runtime.failures()).map((f) => f.eventId).filter((id) => id.startsWith(u));
    expect(recorded).toEqual([`${u}\ufffd`, `${u}\ufffd`, `${u}${"x".repeat(2048 - u.length)}`]);
    expect(sent).toEqual([]);
  });

  test("a step that does not settle within leaseMs fails with a SagaStepTimeoutError and saves all of itself or nothing", async () => {
    const name = `Stuck-${ulid()}`;
    const gate: { wait?: Promise<void> } = {};
    const saga = defineSaga<OrderEvent, OrderState>({
      ...orderSaga,
      name,
      on: {
        ...orderSaga.on,
        OrderPlaced: async (state, event, ctx) => {
          if (gate.wait !== undefined) await gate.wait;
          ctx.dispatch("ReserveStock", { orderId: event.data.orderId, sku: event.data.sku });
          return { sku: event.data.sku, steps: [...state.steps, "placed"] };
        },
      },
    });
    const rows = async (key: string) => {
      const count = async (table: string) =>
        Number(
          (
            await pg.sql.unsafe(`SELECT count(*) AS n FROM ${schema}.${table} WHERE saga = $1 AND key = $2`, [
              name,
              key,
            ])
          )[0]?.n,
        );
      return {
        instance: await count("sagas"),
        handled: await count("saga_handled"),
        outbox: await count("saga_outbox"),
      };
    };
    const store = new PostgresSagaStore(pg.options);
    const { bus, sent } = recordingBus();
    // Bounded at 1 s for the steps that are meant to get stuck; the others go through a patient runtime.
    const runtime = new SagaRuntime({ store, commands: bus, sagas: [saga], leaseMs: 1000, onError: () => {} });
    const patient = new SagaRuntime({ store, commands: bus, sagas: [saga] });

    // The handler never returns in time: nothing is written, even once it returns; a redelivery runs it.
    let release!: () => void;
    gate.wait = new Promise<void>((resolve) => {
      release = resolve;
    });
    const placed = orderEvent("OrderPlaced", "k1", { sku: "A" });
    const [timedOut] = await runtime.handle(placed);
    expect(timedOut).toMatchObject({ outcome: "failed", retryable: true });
    expect(timedOut?.error).toBeInstanceOf(SagaStepTimeoutError);
    expect(timedOut?.error).toMatchObject({ saga: name, key: "k1", step: "OrderPlaced", eventId: placed.id });
    release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await rows("k1")).toEqual({ instance: 0, handled: 0, outbox: 0 });
    gate.wait = undefined;
    expect((await patient.handle(placed))[0]?.outcome).toBe("started");
    await eventually(async () => expect(await rows("k1")).toEqual({ instance: 1, handled: 1, outbox: 0 }));
    expect(sent.map((s) => s.id)).toEqual([`${name}/k1/1`]);

    // The store does not answer: another transaction holds the instance's row. The step is given up;
    // once the lock goes, its commit lands whole (state, handled id, command), and a redelivery is a duplicate.
    let unlock!: () => void;
    const locked = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const lock = pg.sql.begin(async (tx) => {
      await tx.unsafe(`SELECT 1 FROM ${schema}.sagas WHERE saga = $1 AND key = $2 FOR UPDATE`, [name, "k1"]);
      holding();
      await locked;
    });
    await held;
    const reserved = orderEvent("StockReserved", "k1");
    const [blocked] = await runtime.handle(reserved);
    expect(blocked).toMatchObject({ outcome: "failed", retryable: true, error: { code: "SAGA_STEP_TIMEOUT" } });
    unlock();
    await lock;
    await eventually(async () => expect((await store.load(name, "k1"))?.version).toBe(2));
    expect(await store.hasHandled(name, "k1", reserved.id)).toBe(true);
    // The redelivery finds the command still in the outbox when the late step has not sent it yet, and sends it
    // too: another runtime, so under the same id.
    expect((await patient.handle(reserved))[0]?.outcome).toBe("duplicate");
    await eventually(() => expect([...new Set(sent.map((s) => s.id))]).toEqual([`${name}/k1/1`, `${name}/k1/2`]));
    // The outbox row goes once the command is sent: a moment after `sent` has it, under load.
    await eventually(async () => expect(await rows("k1")).toEqual({ instance: 1, handled: 2, outbox: 0 }));
  }, 30_000);

  test("fed from the PostgreSQL global feed, it resumes from its checkpoint and applies each event once", async () => {
    await checkFeedResume({
      events: new PostgresEventStore(pg.options),
      checkpoints: new PostgresCheckpointStore(pg.options),
      store: new PostgresSagaStore(pg.options),
      at: T0,
    });
  }, 30_000);

  test("several runtimes, duplicated deliveries, ticks and crashes end as a sequential run, each command once in effect (property)", async () => {
    await checkInterleavings(() => new PostgresSagaStore(pg.options), 25, { processes: true });
  }, 180_000);

  test("two runtimes handling the same events while handlers and command buses stall past leaseMs end as a sequential run (property)", async () => {
    await checkStalledSteps(() => new PostgresSagaStore(pg.options), 12, { boundMs: 150 });
  }, 180_000);

  test("three competing schedulers over 200 due timeouts fire each exactly once", async () => {
    await checkCompetingSchedulers(() => new PostgresSagaStore(pg.options), { at: T0, spread: true });
  }, 60_000);

  test("a stored timeout the saga no longer handles is reported once and its row deleted, not fired every leaseMs", async () => {
    const name = `Renamed-${ulid()}`;
    const definition = (onTimeout: Record<string, (state: object) => object>) =>
      defineSaga<{ type: "Go"; data: { id: string } }, object>({
        name,
        startedBy: ["Go"],
        correlate: (event) => event.data.id,
        initialState: {},
        on: {
          Go: (state, _event, ctx) => {
            ctx.schedule({ after: 1000, name: "remind" });
            return state;
          },
        },
        onTimeout,
      });
    const store = new PostgresSagaStore(pg.options);
    const commands = recordingBus().bus;
    const before = new SagaRuntime({ store, commands, sagas: [definition({ remind: (s) => s })], now: () => T0 });
    // A step cannot schedule a timeout its saga does not handle: refused, nothing written.
    const refused = new SagaRuntime({ store, commands, sagas: [definition({})], now: () => T0, onError: () => {} });
    const [outcome] = await refused.handle(orderEvent("Go" as never, "y", { id: "y" }));
    expect(outcome?.error).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["schedule", "name"] }] });
    expect(await store.load(name, "y")).toBeUndefined();

    await before.handle(orderEvent("Go" as never, "x", { id: "x" }));
    const timeoutRows = async () =>
      Number((await pg.sql.unsafe(`SELECT count(*) AS n FROM ${schema}.saga_timeouts WHERE saga = $1`, [name]))[0]?.n);
    expect(await timeoutRows()).toBe(1);
    const failures: SagaFailureReport[] = [];
    const after = new SagaRuntime({
      store,
      commands,
      sagas: [definition({ reminder: (s) => s })],
      now: () => T0,
      leaseMs: 1000,
      onError: (failure) => failures.push(failure),
    });
    const mine = (fired: readonly FiredTimeoutReport[]) => fired.filter((f) => f.saga === name);
    const [fired] = mine((await after.tick(T0 + 1000)).fired);
    expect([fired?.outcome, (fired?.error as { code?: string } | undefined)?.code]).toEqual([
      "failed",
      "HANDLER_NOT_FOUND",
    ]);
    for (const at of [T0 + 5000, T0 + 60_000]) expect(mine((await after.tick(at)).fired)).toEqual([]);
    expect(failures.map((f) => [f.saga, f.key, f.event.type])).toEqual([[name, "x", "timeout:remind"]]);
    expect((await after.failures(name)).map((f) => [f.key, f.eventType])).toEqual([
      ["y", "Go"],
      ["x", "timeout:remind"],
    ]);
    expect(await timeoutRows()).toBe(0);
    expect((await store.load(name, "x"))?.status).toBe("running");
  });
});
