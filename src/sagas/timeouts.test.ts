import { describe, expect, test } from "bun:test";
import { watched, withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { orderEvent, orderSaga, recordingBus } from "../../test/sagas/order-saga.ts";
import { HandlerNotFoundError, ValidationError } from "../errors.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { type FiredTimeoutReport, SagaRuntime } from "./saga-runtime.js";
import type { SagaFailureReport } from "./types.js";

const T0 = Date.parse("2026-12-03T10:00:00Z");
const MINUTE = 60_000;

describe("saga timeouts", () => {
  test("the payment timeout fires once after 15 minutes, late by what the clock says, and compensates", async () => {
    const store = new InMemorySagaStore();
    const { bus, sent } = recordingBus();
    const clock = { now: T0 };
    const reports: FiredTimeoutReport[] = [];
    const runtime = new SagaRuntime({
      store,
      commands: bus,
      sagas: [orderSaga],
      now: () => clock.now,
      onTimeoutFired: (fired) => reports.push(fired),
    });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    clock.now = T0 + 15 * MINUTE - 1;
    expect((await runtime.tick()).fired).toEqual([]);
    // Downtime: the next tick comes 40 minutes late.
    clock.now = T0 + 55 * MINUTE;
    const { fired } = await runtime.tick();
    expect(fired).toEqual([
      {
        saga: "Order",
        key: "o1",
        name: "payment-timeout",
        dueAt: T0 + 15 * MINUTE,
        firedAt: T0 + 55 * MINUTE,
        latenessMs: 40 * MINUTE,
        outcome: "completed",
      },
    ]);
    expect(reports).toEqual(fired as FiredTimeoutReport[]);
    expect((await runtime.tick(T0 + 120 * MINUTE)).fired).toEqual([]);
    const record = await store.load("Order", "o1");
    expect(record?.status).toBe("compensated");
    expect((record?.state as { steps: string[] } | undefined)?.steps).toEqual(["placed", "timed-out"]);
    expect(sent.map((s) => s.type)).toEqual(["ReserveStock", "ReleaseStock"]);
  });

  test("a cancelled timeout never fires; a completed instance's timeouts are dropped", async () => {
    const store = new InMemorySagaStore();
    const { bus } = recordingBus();
    const runtime = new SagaRuntime({ store, commands: bus, sagas: [orderSaga], now: () => T0 });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    await runtime.handle(orderEvent("PaymentCharged", "o1"));
    expect((await runtime.tick(T0 + 60 * MINUTE)).fired).toEqual([]);
    expect((await store.load("Order", "o1"))?.status).toBe("completed");
  });

  test("a timeout claimed just before a step cancelled or rescheduled it does not fire; the new schedule fires once", async () => {
    type E = { type: "Placed" | "Paid" | "Postponed"; data: { orderId: string } };
    const saga = defineSaga<E, { paid: boolean }>({
      name: "Race",
      startedBy: ["Placed"],
      handles: ["Paid", "Postponed"],
      correlate: (event) => event.data.orderId,
      initialState: { paid: false },
      on: {
        Placed: (_state, _event, ctx) => void ctx.schedule({ after: MINUTE, name: "expire" }),
        // Cancels without ending the instance: the timeout itself must go.
        Paid: (_state, _event, ctx) => {
          ctx.cancel("expire");
          return { paid: true };
        },
        Postponed: (_state, _event, ctx) => void ctx.schedule({ after: 10 * MINUTE, name: "expire" }),
      },
      onTimeout: { expire: (_state, _fired, ctx) => void ctx.dispatch("ReleaseStock", { orderId: ctx.key }) },
    });
    // Another process's step commits between this runtime's claim and its firing.
    let between: (() => Promise<unknown>) | undefined;
    class RacingStore extends InMemorySagaStore {
      override async claimDueTimeouts(options: Parameters<InMemorySagaStore["claimDueTimeouts"]>[0]) {
        const claimed = await super.claimDueTimeouts(options);
        const step = between;
        between = undefined;
        await step?.();
        return claimed;
      }
    }
    const store = new RacingStore();
    const { bus, sent } = recordingBus();
    let now = T0;
    const ticking = new SagaRuntime({ store, commands: bus, sagas: [saga], now: () => now });
    const other = new SagaRuntime({ store, commands: bus, sagas: [saga], now: () => now });
    await ticking.handle(orderEvent("Placed" as never, "cancelled"));
    await ticking.handle(orderEvent("Placed" as never, "postponed"));
    now = T0 + 2 * MINUTE;
    between = async () => {
      expect((await other.handle(orderEvent("Paid" as never, "cancelled")))[0]?.outcome).toBe("applied");
      expect((await other.handle(orderEvent("Postponed" as never, "postponed")))[0]?.outcome).toBe("applied");
    };
    expect((await ticking.tick()).fired).toEqual([]);
    expect(sent).toEqual([]);
    expect((await store.load("Race", "cancelled"))?.state).toEqual({ paid: true });
    // The postponed one fires at its new time, once.
    now = T0 + 13 * MINUTE;
    expect((await ticking.tick()).fired.map((f) => [f.key, f.dueAt, f.outcome])).toEqual([
      ["postponed", T0 + 12 * MINUTE, "applied"],
    ]);
    expect((await ticking.tick(T0 + 60 * MINUTE)).fired).toEqual([]);
    expect(sent.map((s) => s.payload)).toEqual([{ orderId: "postponed" }]);
  });

  test("a timeout whose handler throws is reported and fires again after its lease", async () => {
    let attempts = 0;
    const saga = defineSaga<{ type: "Go"; data: { id: string } }, { fired: number }>({
      name: "Flaky",
      startedBy: ["Go"],
      correlate: (event) => event.data.id,
      initialState: { fired: 0 },
      on: {
        Go: (state, _event, ctx) => {
          ctx.schedule({ at: new Date(T0 + 1000), name: "t", data: { n: 1 } });
          return state;
        },
      },
      onTimeout: {
        t: (state, fired) => {
          attempts++;
          if (attempts === 1) throw new Error("not yet");
          expect(fired.data).toEqual({ n: 1 });
          return { fired: state.fired + 1 };
        },
      },
    });
    const store = new InMemorySagaStore();
    const errors: unknown[] = [];
    const runtime = new SagaRuntime({
      store,
      commands: recordingBus().bus,
      sagas: [saga],
      now: () => T0,
      leaseMs: 5000,
      onError: (failure) => errors.push(failure.error),
    });
    await runtime.handle(orderEvent("Go" as never, "x", { id: "x" }));
    expect((await runtime.tick(T0 + 1000)).fired.map((f) => f.outcome)).toEqual(["failed"]);
    expect(errors).toHaveLength(1);
    expect((await runtime.tick(T0 + 2000)).fired).toEqual([]);
    expect((await runtime.tick(T0 + 6000)).fired.map((f) => f.outcome)).toEqual(["applied"]);
    expect((await store.load("Flaky", "x"))?.state).toEqual({ fired: 1 });
  });

  test("a step scheduling a timeout its saga has no onTimeout handler for fails as a ValidationError, nothing written", async () => {
    const saga = defineSaga<{ type: "Go"; data: { id: string; name: string } }, object>({
      name: "Unhandled",
      startedBy: ["Go"],
      correlate: (event) => event.data.id,
      initialState: {},
      on: {
        Go: (state, event, ctx) => {
          ctx.schedule({ after: 1000, name: event.data.name });
          return state;
        },
      },
      onTimeout: { known: (state) => state },
    });
    const store = new InMemorySagaStore();
    const errors: unknown[] = [];
    const runtime = new SagaRuntime({
      store,
      commands: recordingBus().bus,
      sagas: [saga],
      now: () => T0,
      onError: (failure) => errors.push(failure.error),
    });
    // "toString" is no handler either, though every object inherits one.
    for (const name of ["unknown", "toString"]) {
      const [outcome] = await runtime.handle(orderEvent("Go" as never, name, { id: name, name }));
      expect(outcome?.outcome).toBe("failed");
      expect(outcome?.error).toBeInstanceOf(ValidationError);
      expect((outcome?.error as ValidationError | undefined)?.issues).toEqual([
        { path: ["schedule", "name"], message: expect.stringContaining(`no onTimeout handler for "${name}"`) },
      ]);
    }
    expect(errors).toHaveLength(2);
    expect(await store.list()).toEqual([]);
    expect(await store.nextDueAt()).toBeUndefined();
    expect((await runtime.handle(orderEvent("Go" as never, "k", { id: "k", name: "known" })))[0]?.outcome).toBe(
      "started",
    );
  });

  /** A saga whose first step schedules `options`: its outcome and the store, which a refused step leaves empty. */
  async function scheduling(options: Record<string, unknown>) {
    const saga = defineSaga<{ type: "Go"; data: { id: string } }, object>({
      name: "Scheduling",
      startedBy: ["Go"],
      correlate: (event) => event.data.id,
      initialState: {},
      on: {
        Go: (state, _event, ctx) => {
          ctx.schedule(options as never);
          return state;
        },
      },
      onTimeout: { expiry: (state) => state },
    });
    const store = new InMemorySagaStore();
    const runtime = new SagaRuntime({
      store,
      commands: recordingBus().bus,
      sagas: [saga],
      now: () => T0,
      onError: () => {},
    });
    const [outcome] = await runtime.handle(orderEvent("Go" as never, "k", { id: "k" }));
    expect(outcome?.outcome).toBe("failed");
    expect(outcome?.error).toBeInstanceOf(ValidationError);
    expect(await store.list()).toEqual([]);
    expect(await store.nextDueAt()).toBeUndefined();
    return (outcome?.error as ValidationError | undefined)?.issues;
  }

  // The message said "must be a non-negative number of milliseconds" of a refused 2,147,483,648,000: it
  // contradicted itself (found by an outside audit of the examples). It names the bound now.
  test("a timeout after more than 2,147,483,647,000 ms fails the step with a ValidationError naming the bound", async () => {
    expect(await scheduling({ after: 2_147_483_648_000, name: "expiry" })).toEqual([
      {
        path: ["schedule", "after"],
        message: "must be a number of milliseconds from 0 to 2147483647000 (about 68 years), got 2147483648000",
      },
    ]);
  });

  // Taken, `dat` was dropped: the timeout fired with data null.
  test("a step scheduling with a key schedule does not take (dat for data) fails as a ValidationError naming it, nothing written", async () => {
    expect(await scheduling({ after: 1000, name: "expiry", dat: { x: 1 } })).toEqual([
      { path: ["schedule", "dat"], message: "is not an option (the options are after, at, name, data)" },
    ]);
  });

  test("a stored timeout the saga no longer handles is reported once and dropped, not fired every leaseMs", async () => {
    const definition = (onTimeout: Record<string, (state: object) => object>) =>
      defineSaga<{ type: "Go"; data: { id: string } }, object>({
        name: "Renamed",
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
    const store = new InMemorySagaStore();
    const commands = recordingBus().bus;
    // The version that scheduled it had the handler; the one running now has renamed it.
    const before = new SagaRuntime({ store, commands, sagas: [definition({ remind: (s) => s })], now: () => T0 });
    await before.handle(orderEvent("Go" as never, "x", { id: "x" }));
    const failures: SagaFailureReport[] = [];
    const after = new SagaRuntime({
      store,
      commands,
      sagas: [definition({ reminder: (s) => s })],
      now: () => T0,
      leaseMs: 5000,
      onError: (failure) => failures.push(failure),
    });
    const [fired] = (await after.tick(T0 + 1000)).fired;
    expect(fired?.outcome).toBe("failed");
    expect(fired?.error).toBeInstanceOf(HandlerNotFoundError);
    expect(failures.map((f) => [f.key, f.event.type, (f.error as HandlerNotFoundError).code])).toEqual([
      ["x", "timeout:remind", "HANDLER_NOT_FOUND"],
    ]);
    expect((await after.failures("Renamed")).map((f) => f.eventType)).toEqual(["timeout:remind"]);
    for (const at of [T0 + 7000, T0 + 60_000, T0 + 3_600_000]) expect((await after.tick(at)).fired).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(await store.nextDueAt()).toBeUndefined();
    expect((await store.load("Renamed", "x"))?.status).toBe("running");
  });

  test("three competing schedulers over 200 due timeouts fire each exactly once", async () => {
    const saga = defineSaga<{ type: "Arm"; data: { id: string } }, { fired: number }>({
      name: "Armed",
      startedBy: ["Arm"],
      correlate: (event) => event.data.id,
      initialState: { fired: 0 },
      on: {
        Arm: (state, _event, ctx) => {
          for (let i = 0; i < 10; i++) ctx.schedule({ after: i * 10, name: `t${i}` });
          return state;
        },
      },
      onTimeout: Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [
          `t${i}`,
          // May run again after a conflict with a sibling timeout's firing; only one run is saved.
          (state: { fired: number }) => ({ fired: state.fired + 1 }),
        ]),
      ),
    });
    const store = new InMemorySagaStore();
    const commands = recordingBus().bus;
    const runtimes = ["a", "b", "c"].map(
      (owner) => new SagaRuntime({ store, commands, sagas: [saga], now: () => T0, owner, tickLimit: 7 }),
    );
    const [first] = runtimes;
    for (let i = 0; i < 20; i++) await first?.handle(orderEvent("Arm" as never, `i${i}`, { id: `i${i}` }));
    const reports = await Promise.all(
      runtimes.map(async (runtime) => {
        const mine: FiredTimeoutReport[] = [];
        for (let round = 0; round < 15; round++) mine.push(...(await runtime.tick(T0 + 1000)).fired);
        return mine;
      }),
    );
    const firings = new Map<string, number>();
    for (const report of reports.flat()) {
      const id = `${report.key}/${report.name}`;
      firings.set(id, (firings.get(id) ?? 0) + 1);
    }
    expect(firings.size).toBe(200);
    expect([...firings.values()].every((n) => n === 1)).toBe(true);
    expect(reports.flat()).toHaveLength(200);
    expect(reports.every((mine) => mine.length > 0)).toBe(true);
    const states = await store.list({ saga: "Armed", limit: 100 });
    expect(states.map((r) => (r.state as { fired: number }).fired)).toEqual(Array(20).fill(10));
  });

  test("the timer loop ticks on its own until stopped", async () => {
    const store = new InMemorySagaStore();
    const { bus, sent } = recordingBus();
    let now = T0;
    const runtime = new SagaRuntime({ store, commands: bus, sagas: [orderSaga], now: () => now });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    now = T0 + 16 * MINUTE;
    // On a fake clock (the timers'; the saga's own clock stays where it is set): the first tick, intervalMs in.
    await withFakeClock(async (clock) => {
      const loop = runtime.start({ intervalMs: 5 });
      try {
        await clock.advance(4);
        expect((await store.load("Order", "o1"))?.status).toBe("running");
        await clock.advance(1);
      } finally {
        await clock.until(loop.stop());
      }
    });
    expect((await store.load("Order", "o1"))?.status).toBe("compensated");
    expect(sent.map((s) => s.type)).toEqual(["ReserveStock", "ReleaseStock"]);
  });

  test("a timeout handler that never settles holds the timer loop up for leaseMs at most: the other timeouts fire", async () => {
    const saga = defineSaga<{ type: "Arm"; data: { orderId: string } }, object>({
      name: "Stuck",
      startedBy: ["Arm"],
      correlate: (event) => event.data.orderId,
      initialState: {},
      on: { Arm: (_state, event, ctx) => void ctx.schedule({ at: event.data.orderId === "stuck" ? 1 : 2, name: "t" }) },
      onTimeout: { t: (state, _fired, ctx) => (ctx.key === "stuck" ? new Promise<object>(() => {}) : state) },
    });
    const fired: string[] = [];
    const outcomes = new Set<string>();
    const runtime = new SagaRuntime({
      store: new InMemorySagaStore(),
      commands: recordingBus().bus,
      sagas: [saga],
      leaseMs: 100,
      onTimeoutFired: (report) => {
        fired.push(report.key);
        outcomes.add(`${report.key} ${report.outcome}`);
      },
    });
    await runtime.handle(orderEvent("Arm" as never, "stuck"));
    await runtime.handle(orderEvent("Arm" as never, "fine"));
    // On a fake clock: the first tick comes at intervalMs (5), the stuck firing holds it for leaseMs (100).
    await withFakeClock(async (clock) => {
      const loop = runtime.start({ intervalMs: 5 });
      try {
        await clock.advance(104);
        expect(fired).toEqual([]);
        await clock.advance(1);
        expect(fired).toEqual(["stuck", "fine"]);
      } finally {
        await clock.until(loop.stop());
      }
      // The stuck one is reported failed (still claimed) each leaseMs; the one due after it fired, once.
      expect([...outcomes].sort()).toEqual(["fine applied", "stuck failed"]);
      expect(fired.filter((key) => key === "fine")).toHaveLength(1);
      // tick() itself (the Lambda and Cron drivers') returns after leaseMs, with the stuck firing reported failed.
      const ticked = watched(runtime.tick(Date.now() + 1000));
      await clock.advance(99);
      expect(ticked.settled).toBe(false);
      await clock.advance(1);
      const { fired: again } = await ticked.promise;
      expect(again.map((report) => [report.key, report.outcome])).toEqual([["stuck", "failed"]]);
    });
  });

  test("timeouts of instances whose keys and names hold / (k: x/t/y; k/t/x: y) both fire, each in its own instance", async () => {
    type Start = { type: "Start"; data: { orderId: string; name: string } };
    const fire = (
      _state: object,
      fired: { name: string },
      ctx: { key: string; dispatch: (t: string, p: unknown) => void },
    ) => void ctx.dispatch("ReserveStock", { orderId: ctx.key, sku: fired.name });
    const saga = defineSaga<Start, object>({
      name: "Slashes",
      startedBy: ["Start"],
      correlate: (event) => event.data.orderId,
      initialState: {},
      on: { Start: (_state, event, ctx) => void ctx.schedule({ at: T0 + MINUTE, name: event.data.name }) },
      onTimeout: { "x/t/y": fire, y: fire },
    });
    const { bus, sent } = recordingBus();
    const runtime = new SagaRuntime({ store: new InMemorySagaStore(), commands: bus, sagas: [saga], now: () => T0 });
    const started = [
      ...(await runtime.handle(orderEvent("Start" as never, "k", { name: "x/t/y" }))),
      ...(await runtime.handle(orderEvent("Start" as never, "k/t/x", { name: "y" }))),
    ];
    expect(started.map((o) => o.outcome)).toEqual(["started", "started"]);
    const { fired } = await runtime.tick(T0 + 2 * MINUTE);
    expect(fired.map((f) => [f.key, f.name, f.outcome])).toEqual([
      ["k", "x/t/y", "applied"],
      ["k/t/x", "y", "applied"],
    ]);
    expect(sent.map((s) => s.payload)).toEqual([
      { orderId: "k", sku: "x/t/y" },
      { orderId: "k/t/x", sku: "y" },
    ]);
  });
});
