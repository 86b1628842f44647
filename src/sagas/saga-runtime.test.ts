import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FAKE_EPOCH, watched, withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { checkLateCompensation } from "../../test/sagas/late-compensation.ts";
import {
  type Commands,
  type OrderEvent,
  type OrderState,
  orderEvent,
  orderSaga,
  recordingBus,
} from "../../test/sagas/order-saga.ts";
import { checkUnfinishedCompensation } from "../../test/sagas/unfinished-compensation.ts";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { ErrorCode, SagaStepTimeoutError, ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { eventually } from "../testing/assert.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime, type SagaRuntimeOptions } from "./saga-runtime.js";
import type { ListSagasOptions, SagaCommit, SagaFailureReport, SagaRecord } from "./types.js";

function setup(options: Partial<SagaRuntimeOptions> = {}) {
  const store = new InMemorySagaStore();
  const { bus, sent, failing } = recordingBus();
  const clock = { now: Date.parse("2026-12-03T10:00:00Z") };
  const errors: SagaFailureReport[] = [];
  const runtime = new SagaRuntime({
    store,
    commands: bus,
    sagas: [orderSaga],
    now: () => clock.now,
    retryDelayMs: 0,
    onError: (failure) => errors.push(failure),
    ...options,
  });
  return { store, runtime, sent, failing, clock, errors, bus };
}

describe("SagaRuntime: steps, outbox and deterministic command ids", () => {
  test("a start event creates the instance, saves the step and dispatches its command under <saga>/<key>/<step>", async () => {
    const { runtime, store, sent } = setup();
    const [outcome] = await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "TEA" }));
    expect(outcome).toMatchObject({ saga: "Order", key: "o1", outcome: "started", version: 1 });
    expect(sent).toEqual([{ type: "ReserveStock", id: "Order/o1/1", payload: { orderId: "o1", sku: "TEA" } }]);
    const record = await store.load("Order", "o1");
    expect(record?.outbox).toEqual([]);
    expect(record?.state).toEqual({ sku: "TEA", steps: ["placed"] });
    await runtime.handle(orderEvent("StockReserved", "o1"));
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1", "Order/o1/2"]);
  });

  test("a duplicate delivery, even concurrent, is applied once and dispatches nothing more", async () => {
    const { runtime, store, sent } = setup();
    const placed = orderEvent("OrderPlaced", "o1", { sku: "TEA" });
    const outcomes = (
      await Promise.all([runtime.handle(placed), runtime.handle(placed), runtime.handle(placed)])
    ).flat();
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(["duplicate", "duplicate", "started"]);
    expect((await store.load("Order", "o1"))?.state).toEqual({ sku: "TEA", steps: ["placed"] });
    expect(sent.length).toBe(1);
  });

  test("a re-drive or a redelivery while a step's save is answered late does not make the step send its commands again (a store that holds the commit's answer back)", async () => {
    // Mock: a commit that lands at once and is answered late (a slow network); no emulator holds an answer back.
    class LateAnswer extends InMemorySagaStore {
      landed: (() => void) | undefined;
      answer: Promise<void> | undefined;
      protected override async writeCommit(commit: SagaCommit): Promise<number> {
        const version = await super.writeCommit(commit);
        this.landed?.();
        if (this.answer !== undefined) await this.answer;
        return version;
      }
    }
    const store = new LateAnswer();
    const { bus, sent } = recordingBus();
    const runtime = new SagaRuntime({ store, commands: bus, sagas: [orderSaga] });
    let answer = () => {};
    store.answer = new Promise((resolve) => {
      answer = resolve;
    });
    const landed = new Promise<void>((resolve) => {
      store.landed = resolve;
    });
    const placed = orderEvent("OrderPlaced", "o1", { sku: "TEA" });
    const handling = runtime.handle(placed);
    await landed;
    store.answer = undefined;
    // Meanwhile this runtime finds the saved command (a redelivery of the event, a re-drive) and sends it.
    expect((await runtime.handle(placed))[0]?.outcome).toBe("duplicate");
    await runtime.redrive();
    answer();
    expect((await handling)[0]?.outcome).toBe("started");
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1"]);
    expect((await store.load("Order", "o1"))?.outbox).toEqual([]);
  });

  test("tick re-drives at most once per redriveIntervalMs (5 minutes by default) of the runtime's clock (a store counting its lists)", async () => {
    class CountedLists extends InMemorySagaStore {
      lists = 0;
      protected override async listInstances(
        options: ListSagasOptions & { readonly limit: number },
      ): Promise<SagaRecord[]> {
        this.lists++;
        return super.listInstances(options);
      }
    }
    const store = new CountedLists();
    const { runtime, clock } = setup({ store });
    for (let i = 0; i < 3; i++) await runtime.tick();
    // One re-drive: the instances with a pending outbox, then the compensating ones.
    expect(store.lists).toBe(2);
    clock.now += 299_999;
    await runtime.tick();
    expect(store.lists).toBe(2);
    clock.now += 1;
    await runtime.tick();
    await runtime.tick();
    expect(store.lists).toBe(4);
    // A clock that went back does not hold the next re-drive off for longer.
    clock.now -= 60_000;
    await runtime.tick();
    expect(store.lists).toBe(6);
    const often = new CountedLists();
    const minutely = setup({ store: often, redriveIntervalMs: 60_000 });
    await minutely.runtime.tick();
    minutely.clock.now += 60_000;
    await minutely.runtime.tick();
    expect(often.lists).toBe(4);
  });

  test("an event before its instance exists is no-instance; after completion, finished", async () => {
    const { runtime } = setup();
    expect((await runtime.handle(orderEvent("StockReserved", "o9")))[0]?.outcome).toBe("no-instance");
    await runtime.handle(orderEvent("OrderPlaced", "o9", { sku: "A" }));
    expect((await runtime.handle(orderEvent("PaymentCharged", "o9")))[0]?.outcome).toBe("completed");
    expect((await runtime.handle(orderEvent("StockReserved", "o9")))[0]?.outcome).toBe("finished");
  });

  test("a failing saga is reported with its event and instance, and stops neither the bus nor other sagas", async () => {
    const broken = defineSaga<{ type: "OrderPlaced"; data: { orderId: string } }, { n: number }>({
      name: "Broken",
      startedBy: ["OrderPlaced"],
      correlate: (event) => event.data.orderId,
      initialState: { n: 0 },
      on: {
        OrderPlaced: () => {
          throw new Error("boom: postgres://app:hunter2@db.internal/orders refused password=hunter2");
        },
      },
    });
    const { runtime, store, sent, errors } = setup({ sagas: [broken, orderSaga] });
    const bus = new InMemoryEventBus({ onError: () => {} });
    const seen: string[] = [];
    bus.subscribeToAll((event) => {
      seen.push(event.type);
    });
    runtime.attach(bus);
    const placed = orderEvent("OrderPlaced", "o1", { sku: "A" });
    const result = await bus.publish([placed]);
    expect(result.failures).toEqual([]);
    expect(seen).toEqual(["OrderPlaced"]);
    expect(sent.map((s) => s.type)).toEqual(["ReserveStock"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ saga: "Broken", key: "o1", event: { id: placed.id, type: "OrderPlaced" } });
    expect(await store.load("Broken", "o1")).toBeUndefined();
    const [failure] = await runtime.failures("Broken");
    expect(failure).toMatchObject({ saga: "Broken", key: "o1", eventId: placed.id, eventType: "OrderPlaced" });
    expect(failure?.error).toContain("boom");
    // The record is kept in a store operators read: credentials in the message are masked, as logs mask them.
    expect(failure?.error).not.toContain("hunter2");
    expect(failure?.error).toContain("db.internal/orders");
  });

  test("fed from a store's global feed, it resumes from its checkpoint without re-applying", async () => {
    const events = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const { runtime, store, sent } = setup();
    await events.appendToStream("Order-o1", [{ type: "OrderPlaced", data: { orderId: "o1", sku: "A" } }]);
    const first = await runtime.subscribe(events, { checkpoints, pollIntervalMs: 5 });
    await eventually(async () => expect((await store.load("Order", "o1"))?.version).toBe(1));
    await first.stop();
    await events.appendToStream("Order-o1", [{ type: "StockReserved", data: { orderId: "o1" } }]);
    const second = await runtime.subscribe(events, { checkpoints, pollIntervalMs: 5 });
    await eventually(async () => expect((await store.load("Order", "o1"))?.version).toBe(2));
    await second.stop();
    expect(await checkpoints.load("sagas")).toBe(2);
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1", "Order/o1/2"]);
  });
});

describe("SagaRuntime: compensation and operations", () => {
  test("a payment failure compensates in reverse order, each once, then the instance is compensated", async () => {
    const { runtime, store, sent } = setup();
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    await runtime.handle(orderEvent("StockReserved", "o1"));
    const failed = orderEvent("PaymentFailed", "o1");
    const [outcome] = await runtime.handle(failed);
    expect(outcome?.outcome).toBe("completed");
    expect(sent.map((s) => `${s.type} ${s.id}`)).toEqual([
      "ReserveStock Order/o1/1",
      "ChargePayment Order/o1/2",
      "RefundPayment Order/o1/c3",
      "ReleaseStock Order/o1/c4",
    ]);
    expect((await store.load("Order", "o1"))?.status).toBe("compensated");
    await runtime.handle(failed);
    await runtime.redrive();
    expect(sent).toHaveLength(4);
  });

  test("a compensation that keeps failing parks the instance in needs-attention; resume finishes it", async () => {
    const { runtime, store, sent, failing, errors } = setup({ maxAttempts: 2 });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    failing.set("ReleaseStock", 5);
    await runtime.handle(orderEvent("PaymentFailed", "o1"));
    const [parked] = await runtime.needsAttention();
    expect(parked).toMatchObject({ saga: "Order", key: "o1", status: "needs-attention" });
    expect(parked?.attention).toMatchObject({
      entryId: "Order/o1/c2",
      commandType: "ReleaseStock",
      attempts: 2,
      resumeStatus: "compensating",
    });
    expect(parked?.attention?.error).toContain("ReleaseStock is down");
    expect(errors.map((e) => e.event.type)).toEqual(["ReleaseStock"]);
    expect(failing.get("ReleaseStock")).toBe(3);
    // A restart's re-drive leaves a parked instance to its operator.
    expect(await runtime.redrive()).toBe(0);
    failing.set("ReleaseStock", 0);
    const resumed = await runtime.resume("Order", "o1");
    expect(resumed.status).toBe("compensated");
    expect(await runtime.needsAttention()).toEqual([]);
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1", "Order/o1/c2"]);
    expect((await store.load("Order", "o1"))?.outbox).toEqual([]);
    await expect(runtime.resume("Order", "o1")).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  test("a step applied while the instance compensates has its compensation sent too, newest first after its command", async () => {
    await checkLateCompensation(new InMemorySagaStore());
  });

  test("redrive finishes a compensation whose runtime stopped before saving it compensated (a stop simulated by a commit that never returns)", async () => {
    await checkUnfinishedCompensation(new InMemorySagaStore());
  });

  test("an operator can give up on a command that keeps failing and compensate instead", async () => {
    const { runtime, store, sent, failing } = setup({ maxAttempts: 2 });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    failing.set("ChargePayment", 100);
    await runtime.handle(orderEvent("StockReserved", "o1"));
    expect((await runtime.needsAttention()).map((r) => r.attention?.commandType)).toEqual(["ChargePayment"]);
    const compensated = await runtime.compensate("Order", "o1");
    expect(compensated.status).toBe("compensated");
    expect(sent.map((s) => `${s.type} ${s.id}`)).toEqual([
      "ReserveStock Order/o1/1",
      "RefundPayment Order/o1/c3",
      "ReleaseStock Order/o1/c4",
    ]);
    const failures = await runtime.failures("Order");
    expect(failures.at(-1)).toMatchObject({ eventId: "Order/o1/2", eventType: "ChargePayment" });
    expect(failures.at(-1)?.error).toContain("dropped by an operator");
    expect((await store.load("Order", "o1"))?.outbox).toEqual([]);
    await expect(runtime.compensate("Order", "o1")).rejects.toMatchObject({ code: ErrorCode.Validation });
  });

  test("resume and compensate refuse a saga the runtime does not run (another deployment's, same store)", async () => {
    const { runtime, store, failing } = setup({ maxAttempts: 2 });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    failing.set("ChargePayment", 100);
    await runtime.handle(orderEvent("StockReserved", "o1"));
    const parked = await store.load("Order", "o1");
    expect(parked?.status).toBe("needs-attention");
    // An operator's runtime over the same store that runs another saga, with a bus of its own.
    const other = recordingBus();
    const otherSaga = defineSaga({
      name: "Other",
      initialState: {},
      startedBy: ["OrderPlaced"],
      correlate: { OrderPlaced: (event: { streamId: string }) => event.streamId },
      on: { OrderPlaced: (state: object) => state },
    } as never);
    const operator = new SagaRuntime({ store, commands: other.bus, sagas: [otherSaga], retryDelayMs: 0 });
    for (const act of [() => operator.resume("Order", "o1"), () => operator.compensate("Order", "o1")]) {
      await expect(act()).rejects.toMatchObject({
        code: ErrorCode.Validation,
        message: expect.stringContaining('Saga "Order" is not run by this runtime'),
      });
    }
    expect(other.sent).toEqual([]);
    expect(await store.load("Order", "o1")).toEqual(parked);
  });

  test("a command failing with U+0000 in its message still parks the instance and is recorded", async () => {
    const store = new InMemorySagaStore();
    const down = new CommandBus<Commands>();
    down.register("ReserveStock", () => {
      throw new Error("refused: \u0000 in the reply");
    });
    const runtime = new SagaRuntime({ store, commands: down, sagas: [orderSaga], maxAttempts: 1, onError: () => {} });
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    // The stores refuse U+0000 in JSON: the error's text is kept with U+FFFD in its place.
    const parked = await store.load("Order", "o1");
    expect(parked?.status).toBe("needs-attention");
    expect(parked?.attention?.error).toBe("Error: refused: \ufffd in the reply");
    expect((await runtime.failures("Order")).at(-1)?.error).toBe("Error: refused: \ufffd in the reply");
  });

  test("a handler or command throwing a value with no text (no prototype) is still recorded, and the command parks", async () => {
    const saga = defineSaga<{ type: "X"; data: { orderId: string } }, object>({
      name: "Opaque",
      startedBy: ["X"],
      correlate: (event) => event.data.orderId,
      initialState: {},
      on: {
        X: (_state, event, ctx) => {
          if (event.data.orderId === "handler") throw Object.create(null);
          ctx.dispatch("ReserveStock", { orderId: "x", sku: "y" });
          return undefined;
        },
      },
    });
    const store = new InMemorySagaStore();
    const down = new CommandBus<Commands>();
    down.register("ReserveStock", () => {
      throw Object.create(null);
    });
    const runtime = new SagaRuntime({ store, commands: down, sagas: [saga], maxAttempts: 1, onError: () => {} });
    const [handler] = await runtime.handle(orderEvent("X" as never, "handler"));
    expect(handler).toMatchObject({ outcome: "failed", retryable: false });
    const [command] = await runtime.handle(orderEvent("X" as never, "command"));
    expect(command?.outcome).toBe("started");
    const parked = await store.load("Opaque", "command");
    expect(parked?.status).toBe("needs-attention");
    expect(parked?.attention?.error).toBe("a thrown value that cannot be turned into text");
    expect((await runtime.failures("Opaque")).map((f) => [f.key, f.error])).toEqual([
      ["handler", "a thrown value that cannot be turned into text"],
      ["command", "a thrown value that cannot be turned into text"],
    ]);
  });

  test("after a crash between save and dispatch, redrive sends each pending command once, same id", async () => {
    const store = new InMemorySagaStore();
    const down = new CommandBus<Commands>();
    // Mock: a process that dies after its save: no emulator can crash a dispatch mid-way.
    down.use(() => {
      throw new Error("the process died before dispatching");
    });
    const crashed = new SagaRuntime({ store, commands: down, sagas: [orderSaga], maxAttempts: 1, onError: () => {} });
    await crashed.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    const parked = await store.load("Order", "o1");
    expect(parked?.outbox.map((e) => e.id)).toEqual(["Order/o1/1"]);
    // The operator path and the restart path meet: resume dispatches the saved entry, once.
    const { bus, sent } = recordingBus();
    const restarted = new SagaRuntime({ store, commands: bus, sagas: [orderSaga], retryDelayMs: 0 });
    await restarted.resume("Order", "o1");
    await restarted.redrive();
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1"]);
  });
});

describe("SagaRuntime: bad input is a typed error before anything is written", () => {
  test("a definition without correlation, a handler or with a non-JSON initial state is refused", () => {
    const base = {
      name: "Bad",
      startedBy: ["A"] as "A"[],
      initialState: {},
      on: { A: () => undefined },
      correlate: (e: { data: unknown }) => String(e.data),
    };
    expect(() => defineSaga({ ...base, correlate: undefined as never })).toThrow(/correlate/);
    expect(() => defineSaga({ ...base, correlate: {} })).toThrow(/"A" has no correlation function/);
    expect(() => defineSaga({ ...base, on: {} })).toThrow(/"A" has no handler/);
    expect(() => defineSaga({ ...base, initialState: { at: new Date() } })).toThrow(/initialState/);
    expect(() => defineSaga({ ...base, startedBy: [] })).toThrow(/startedBy/);
    expect(() => defineSaga({ ...base, onTimeout: { expiry: "later" as never } })).toThrow(ValidationError);
    expect(() => defineSaga({ ...base, onTimeout: 5 as never })).toThrow(/onTimeout/);
    // A `/` in the name: saga `a/b` with key `c` and saga `a` with key `b/c` would share command ids.
    expect(() => defineSaga({ ...base, name: "Order/Fulfilment" })).toThrow(/cannot contain \//);
    // An initial state no store can save (U+0000) would fail every start.
    expect(() => defineSaga({ ...base, initialState: { note: "a\u0000b" } })).toThrow(/initialState\.note.*U\+0000/);
    // Event types named like Object's methods find no handler or correlation there (before, Object's
    // toString was run as both: every "toString" event went to key "[object Undefined]", as its state).
    const proto = { ...base, startedBy: ["toString", "constructor"] as never[], on: {}, correlate: {} };
    expect(() => defineSaga(proto as never)).toThrow(/"toString" has no correlation function/);
    expect(() => defineSaga({ ...proto, correlate: () => "k" } as never)).toThrow(/"constructor" has no handler/);
  });

  test("a misspelt key of the definition, and a handler for a type it does not declare, are refused by name", async () => {
    const base = {
      name: "Fulfilment",
      startedBy: ["OrderPlaced"],
      correlate: () => "o1",
      initialState: {},
      on: { OrderPlaced: () => undefined, PaymentFailed: () => undefined },
    };
    const define = defineSaga as (input: unknown) => unknown;
    const refusal = (input: object) => {
      try {
        define(input);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    // Taken, `handels` was dropped: PaymentFailed reached no instance (no outcome, no failure), so the
    // saga never compensated.
    expect(refusal({ ...base, handels: ["PaymentFailed"] })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [
        {
          path: ["handels"],
          message: expect.stringMatching(/^is not an option \(the options are name, startedBy, handles, /),
        },
        { path: ["on", "PaymentFailed"], message: expect.stringContaining("in neither startedBy nor handles") },
      ],
    });
    expect(refusal({ ...base, handles: ["PaymentFailed"], onTimout: {} })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [{ path: ["onTimout"], message: expect.stringContaining("is not an option") }],
    });
    // A handler of a type in neither list would never run: refused, though every declared type has one.
    expect(refusal(base)).toMatchObject({
      code: ErrorCode.Validation,
      issues: [
        {
          path: ["on", "PaymentFailed"],
          message: '"PaymentFailed" is in neither startedBy nor handles: its handler would never run',
        },
      ],
    });
    expect(refusal({ ...base, handles: ["PaymentFailed"], onTimeout: {} })).toBeUndefined();
    // What a definition adds (types, keyOf) is no misspelling: a saga derived from a defined one is taken.
    expect(refusal({ ...orderSaga, name: "Copy" })).toBeUndefined();
  });

  test("runtime options it would only fail on later, and a start interval no timer keeps, are a ValidationError at once", () => {
    const good = { store: new InMemorySagaStore(), commands: recordingBus().bus, sagas: [orderSaga] };
    for (const bad of [
      { store: undefined },
      { store: {} },
      { commands: undefined },
      { sagas: undefined },
      { sagas: [{}] },
      { now: 5 },
      { onError: "log" },
      { owner: "" },
      // What every timeout claim refuses: before, each tick failed instead.
      { owner: "x".repeat(513) },
      { owner: "a\nb" },
      { owner: 5 },
    ]) {
      expect({ bad, threw: () => new SagaRuntime({ ...good, ...(bad as object) } as never) }.threw).toThrow(
        ValidationError,
      );
    }
    expect(() => new SagaRuntime(null as never)).toThrow(ValidationError);
    const runtime = new SagaRuntime(good);
    for (const intervalMs of [-1, 0, 1.5, "x", 2 ** 31]) {
      expect(() => runtime.start({ intervalMs: intervalMs as never })).toThrow(ValidationError);
    }
    runtime.start({ intervalMs: 50 }).stop();
  });

  test("retryDelayMs is a number from 0 to 60000: a numeric string, NaN or a value out of range is refused by name", () => {
    const good = { store: new InMemorySagaStore(), commands: recordingBus().bus, sagas: [orderSaga] };
    // Before, "5" passed the range check by coercion and reached setTimeout as a string.
    for (const retryDelayMs of ["5", "0", Number.NaN, -1, 60_001, null, true]) {
      expect(() => new SagaRuntime({ ...good, retryDelayMs: retryDelayMs as never })).toThrow(
        /^Invalid saga runtime options: retryDelayMs: must be a number from 0 to 60000/,
      );
    }
    for (const retryDelayMs of [0, 2.5, 60_000]) expect(new SagaRuntime({ ...good, retryDelayMs })).toBeDefined();
  });

  test("redriveIntervalMs is an integer from 1 to 86,400,000, refused by name otherwise", () => {
    const good = { store: new InMemorySagaStore(), commands: recordingBus().bus, sagas: [orderSaga] };
    for (const redriveIntervalMs of [0, -1, 1.5, "60000", Number.NaN, 86_400_001, null]) {
      expect(() => new SagaRuntime({ ...good, redriveIntervalMs: redriveIntervalMs as never })).toThrow(
        /^Invalid saga runtime options: redriveIntervalMs: redriveIntervalMs must be an integer from 1 to 86400000/,
      );
    }
    for (const redriveIntervalMs of [1, 60_000, 86_400_000]) {
      expect(new SagaRuntime({ ...good, redriveIntervalMs })).toBeDefined();
    }
  });

  test('telemetry is a boolean, as the event store\'s is: "false" (a string) left the spans on unnoticed', () => {
    const good = { store: new InMemorySagaStore(), commands: recordingBus().bus, sagas: [orderSaga] };
    for (const telemetry of ["false", 0, null, "off"]) {
      expect(() => new SagaRuntime({ ...good, telemetry: telemetry as never })).toThrow(
        /^Invalid saga runtime options: telemetry: must be a boolean/,
      );
    }
    for (const telemetry of [true, false, undefined]) expect(new SagaRuntime({ ...good, telemetry })).toBeDefined();
  });

  test("subscribe and attach from JavaScript without a store, bus or checkpoint store are a ValidationError, not a TypeError", async () => {
    const { runtime } = setup();
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    for (const [given, options] of [
      [null, { checkpoints }],
      [{}, { checkpoints }],
      [store, null],
      [store, "sagas"],
      [store, {}],
      [store, { checkpoints: 5 }],
      [store, { checkpoints: { load: async () => undefined } }],
    ] as const) {
      await expect(runtime.subscribe(given as never, options as never)).rejects.toBeInstanceOf(ValidationError);
    }
    for (const bus of [null, undefined, {}, "bus"]) expect(() => runtime.attach(bus as never)).toThrow(ValidationError);
    const subscription = await runtime.subscribe(store, { checkpoints });
    await subscription.stop();
  });

  test("subscribe refuses a key it does not take, naming its own options, before the checkpoint is read", async () => {
    const { runtime } = setup();
    const store = new InMemoryEventStore();
    let loads = 0;
    const inner = new InMemoryCheckpointStore();
    const checkpoints = Object.assign(Object.create(inner), {
      load: (id: string) => {
        loads++;
        return inner.load(id);
      },
    });
    // `after` and `handler` are the runtime's to set (from the checkpoint, to its handle): given, they were
    // dropped without a word; a misspelt `checkpointID` was refused only after the read, by subscribeToAll,
    // whose message listed `handler` and `after` as the options and not `checkpoints` or `checkpointId`.
    for (const key of ["checkpointID", "after", "handler"]) {
      const error = await runtime.subscribe(store, { checkpoints, [key]: 0 } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(String((error as Error).message)).toContain(`${key}: is not an option`);
      expect(String((error as Error).message)).toContain("checkpoints, checkpointId");
      expect(String((error as Error).message)).not.toContain("handler, after");
    }
    expect(loads).toBe(0);
    const subscription = await runtime.subscribe(store, { checkpoints, checkpointId: "s", pollIntervalMs: 5 });
    await subscription.stop();
    expect(loads).toBe(1);
  });

  test("an event without its key fails as a ValidationError and writes nothing", async () => {
    const { runtime, store, sent, errors } = setup();
    const [outcome] = await runtime.handle(orderEvent("OrderPlaced", "", { sku: "A" }));
    expect(outcome).toMatchObject({ outcome: "failed", retryable: false });
    expect(outcome?.error).toMatchObject({ code: ErrorCode.Validation });
    expect(errors[0]?.key).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect(sent).toEqual([]);
  });

  test("an event id no store keeps as a handled id fails the step, and the failure is still recorded", async () => {
    const { runtime, store, sent, errors } = setup();
    const ids = ["e\u0000x", "e\ud800x", "x".repeat(3000), `${"y".repeat(2047)}\u{1F600}`];
    for (const [i, id] of ids.entries()) {
      const [outcome] = await runtime.handle({ ...orderEvent("OrderPlaced", `o${i}`, { sku: "A" }), id });
      expect(outcome).toMatchObject({ outcome: "failed", retryable: false });
      expect(outcome?.error).toMatchObject({ code: ErrorCode.Validation });
    }
    // One report per failure: the record was written, so no second report says it was not.
    expect(errors.map((e) => e.event.id)).toEqual(ids);
    const recorded = (await runtime.failures()).map((f) => f.eventId);
    // Kept as every store can: U+0000 and lone surrogates become U+FFFD; cut to 2,048 characters (a
    // cut that would split a surrogate pair leaves U+FFFD).
    expect(recorded).toEqual(["e\ufffdx", "e\ufffdx", "x".repeat(2048), `${"y".repeat(2047)}\ufffd`]);
    expect(await store.list()).toEqual([]);
    expect(sent).toEqual([]);
  });

  test("several keys make one composite key; a missing one is named", async () => {
    const saga = defineSaga<{ type: "X"; data: { tenant?: string; id: string } }, object>({
      name: "Composite",
      startedBy: ["X"],
      correlate: (event) => [event.data.tenant as string, event.data.id],
      initialState: {},
      on: { X: () => undefined },
    });
    const { runtime, store } = setup({ sagas: [saga] });
    await runtime.handle(orderEvent("X" as never, "x", { tenant: "t/1", id: "9" }));
    expect((await store.list({ saga: "Composite" })).map((r) => r.key)).toEqual(["t%2F1/9"]);
    const [missing] = await runtime.handle(orderEvent("X" as never, "x", { id: "9", tenant: undefined }));
    expect(String((missing?.error as Error | undefined)?.message)).toContain("the key is missing");
  });

  test("a state that is not JSON, or oversized, fails the step with nothing written", async () => {
    const saga = defineSaga<{ type: "X"; data: { orderId: string; size: number } }, object>({
      name: "Stateful",
      startedBy: ["X"],
      correlate: (event) => event.data.orderId,
      initialState: {},
      on: {
        X: (_state, event, ctx) => {
          ctx.dispatch("ReserveStock", { orderId: "x", sku: "y" });
          if (event.data.size === -2) {
            return {
              get total(): number {
                throw new TypeError("not loaded");
              },
            };
          }
          return event.data.size < 0 ? { when: new Date() } : { blob: "x".repeat(event.data.size) };
        },
      },
    });
    const store = new InMemorySagaStore({ maxStateBytes: 1000 });
    const { runtime, sent } = setup({ sagas: [saga], store });
    const [notJson] = await runtime.handle(orderEvent("X" as never, "a", { size: -1 }));
    expect(notJson?.error).toMatchObject({ code: ErrorCode.Validation });
    // A getter that throws when the state is read: the saga's failure (not retryable), never the raw error.
    const [unreadable] = await runtime.handle(orderEvent("X" as never, "a", { size: -2 }));
    expect(unreadable).toMatchObject({ outcome: "failed", retryable: false, error: { code: ErrorCode.Validation } });
    const [tooBig] = await runtime.handle(orderEvent("X" as never, "a", { size: 2000 }));
    expect(tooBig?.error).toMatchObject({ code: ErrorCode.PayloadTooLarge });
    expect(await store.list()).toEqual([]);
    expect(sent).toEqual([]);
    expect((await runtime.handle(orderEvent("X" as never, "a", { size: 10 })))[0]?.outcome).toBe("started");
  });

  test("an event without an id is refused (it could never be told from its redelivery); null is no event", async () => {
    const { runtime, store, sent, errors } = setup();
    const { id: _, ...noId } = orderEvent("OrderPlaced", "o1", { sku: "TEA" });
    for (let delivery = 0; delivery < 2; delivery++) {
      const [outcome] = await runtime.handle(noId as never);
      expect(outcome).toMatchObject({ outcome: "failed", retryable: false, error: { code: ErrorCode.Validation } });
    }
    expect(errors.length).toBe(2);
    expect(await store.load("Order", "o1")).toBeUndefined();
    expect(sent).toEqual([]);
    expect(await runtime.handle(null as never)).toEqual([]);
  });

  test("an event id with no text of its own ({ toString: 0 }, no prototype, a symbol) fails the step, never throws, and is recorded", async () => {
    // JSON from a queue can hold {"id": {"toString": 0}}: String() and a template literal throw on it,
    // and handle() threw that TypeError out of an uncorrelatable event's message (sagas.md: it never throws).
    const { runtime, errors } = setup();
    const ids = [{ toString: 0 }, Object.create(null), Symbol("id")];
    for (const id of ids) {
      const [outcome] = await runtime.handle({ id, type: "OrderPlaced", data: {} } as never);
      expect(outcome).toMatchObject({ outcome: "failed", retryable: false, error: { code: ErrorCode.Validation } });
      const [correlated] = await runtime.handle({ ...orderEvent("OrderPlaced", "o1", { sku: "A" }), id } as never);
      expect(correlated).toMatchObject({ outcome: "failed", retryable: false, error: { code: ErrorCode.Validation } });
    }
    // One report per failure: each record was written, so no second report says it was not.
    expect(errors.length).toBe(6);
    expect((await runtime.failures()).map((f) => f.eventId)).toEqual([
      "object",
      "object",
      "object",
      "object",
      "Symbol(id)",
      "Symbol(id)",
    ]);
  });

  test("handle() answers an outcome list for any value given as an event, never a rejection", async () => {
    const { runtime } = setup({ onError: () => undefined });
    const eventLike = fc.record(
      {
        type: fc.constant("OrderPlaced"),
        id: fc.anything({ withNullPrototype: true }),
        data: fc.anything(),
        metadata: fc.anything(),
      },
      { requiredKeys: ["type"] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), eventLike), async (value) => {
        expect(Array.isArray(await runtime.handle(value as never))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test("a bad timeout or command in a step fails it as a ValidationError", async () => {
    const saga = defineSaga<{ type: "X"; data: { orderId: string; bad: string } }, object>({
      name: "BadStep",
      startedBy: ["X"],
      correlate: (event) => event.data.orderId,
      initialState: {},
      on: {
        X: (_s, event, ctx) => {
          if (event.data.bad === "timeout") ctx.schedule({ name: "t", after: -5 });
          else ctx.dispatch("", {});
          return undefined;
        },
      },
    });
    const { runtime, store } = setup({ sagas: [saga] });
    for (const bad of ["timeout", "command"]) {
      const [outcome] = await runtime.handle(orderEvent("X" as never, "a", { bad }));
      expect(outcome?.error).toMatchObject({ code: ErrorCode.Validation });
    }
    expect(await store.list()).toEqual([]);
  });
});

describe("SagaRuntime: steps that never settle, and thrown values that are not errors", () => {
  /** The order saga, with an OrderPlaced handler that waits on `gate` while it is set. */
  function gated() {
    const gate: { wait?: Promise<void> } = {};
    const saga = defineSaga<OrderEvent, OrderState>({
      ...orderSaga,
      startedBy: ["OrderPlaced"],
      handles: [],
      on: {
        OrderPlaced: async (state, event, ctx) => {
          const wait = gate.wait;
          if (wait !== undefined) await wait;
          ctx.dispatch("ReserveStock", { orderId: event.data.orderId, sku: event.data.sku });
          return { sku: event.data.sku, steps: [...state.steps, "placed"] };
        },
      },
      onTimeout: {},
    });
    return { gate, saga };
  }

  // On a fake clock: the step is given up at leaseMs of the runtime's own time, not a millisecond before.
  test("a handler that never settles fails the step after leaseMs with a SagaStepTimeoutError; returning late saves nothing; a redelivery runs it", async () => {
    const { gate, saga } = gated();
    let release!: () => void;
    gate.wait = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { runtime, store, sent, errors, bus } = setup({ sagas: [saga], leaseMs: 50 });
    const placed = orderEvent("OrderPlaced", "o1", { sku: "A" });
    await withFakeClock(async (clock) => {
      const handling = watched(runtime.handle(placed));
      await clock.advance(49);
      expect(handling.settled).toBe(false);
      await clock.advance(1);
      expect(handling.settled).toBe(true);
      const [outcome] = await handling.promise;
      expect(outcome).toMatchObject({
        saga: "Order",
        key: "o1",
        eventId: placed.id,
        outcome: "failed",
        retryable: true,
      });
      expect(outcome?.error).toBeInstanceOf(SagaStepTimeoutError);
      expect(outcome?.error).toMatchObject({
        code: "SAGA_STEP_TIMEOUT",
        saga: "Order",
        key: "o1",
        step: "OrderPlaced",
        eventId: placed.id,
        timeoutMs: 50,
      });
      expect((outcome?.error as Error | undefined)?.message).toBe(
        'Saga "Order" stopped waiting on "OrderPlaced" after 50 ms (leaseMs): a handler, the saga store or a command did not answer',
      );
      expect(errors.map((e) => e.error)).toEqual([outcome?.error]);
      expect(await runtime.failures("Order")).toHaveLength(1);
      // The handler returns after all: the step was given up, and nothing of it is saved or sent.
      release();
      await clock.advance(1000);
    });
    expect(await store.load("Order", "o1")).toBeUndefined();
    expect(await store.hasHandled("Order", "o1", placed.id)).toBe(false);
    expect(sent).toEqual([]);
    // Redelivered, the step runs: once, all of it.
    gate.wait = undefined;
    const patient = new SagaRuntime({ store, commands: bus, sagas: [saga] });
    const [again] = await patient.handle(placed);
    expect(again).toMatchObject({ outcome: "started", version: 1 });
    expect(sent.map((s) => s.id)).toEqual(["Order/o1/1"]);
    expect((await patient.handle(placed))[0]?.outcome).toBe("duplicate");
  });

  test("a command bus that never answers: handle returns after leaseMs; the step is saved, its command waits in the outbox and is sent once by a redrive", async () => {
    const store = new InMemorySagaStore();
    const silent = { execute: () => new Promise<never>(() => {}) };
    const errors: SagaFailureReport[] = [];
    const stuck = new SagaRuntime({
      store,
      commands: silent,
      sagas: [orderSaga],
      leaseMs: 50,
      onError: (f) => errors.push(f),
    });
    const placed = orderEvent("OrderPlaced", "o2", { sku: "A" });
    // On a fake clock: handle returns at leaseMs of the runtime's own time, not a millisecond before.
    const [outcome] = await withFakeClock(async (clock) => {
      const handling = watched(stuck.handle(placed));
      await clock.advance(49);
      expect(handling.settled).toBe(false);
      await clock.advance(1);
      expect(handling.settled).toBe(true);
      return handling.promise;
    });
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, error: { code: "SAGA_STEP_TIMEOUT" } });
    expect(errors).toHaveLength(1);
    // Saved with its handled id: state, command and mark together.
    expect(await store.load("Order", "o2")).toMatchObject({ version: 1, outbox: [{ id: "Order/o2/1" }] });
    expect((await stuck.handle(placed))[0]?.outcome).toBe("duplicate");
    const { bus, sent } = recordingBus();
    const restarted = new SagaRuntime({ store, commands: bus, sagas: [orderSaga] });
    expect(await restarted.redrive()).toBe(1);
    expect(sent.map((s) => s.id)).toEqual(["Order/o2/1"]);
    expect((await store.load("Order", "o2"))?.outbox).toEqual([]);
  });

  test("a command that never answers is a failed attempt after leaseMs: retried, then the instance parks, and the runtime's dispatch for it is free again", async () => {
    const store = new InMemorySagaStore();
    const { bus, sent } = recordingBus();
    let silent = true;
    const attempts: string[] = [];
    const commands = {
      execute: (type: string, payload: unknown, options?: { id?: string }) => {
        attempts.push(options?.id ?? "");
        return silent ? new Promise<never>(() => {}) : bus.execute(type as "ReserveStock", payload as never, options);
      },
    };
    const runtime = new SagaRuntime({
      store,
      commands,
      sagas: [orderSaga],
      leaseMs: 200,
      maxAttempts: 2,
      retryDelayMs: 0,
      onError: () => {},
    });
    // On a fake clock: two attempts of leaseMs each (the first while handle waits), then parked.
    await withFakeClock(async (clock) => {
      await clock.until(runtime.handle(orderEvent("OrderPlaced", "o4", { sku: "A" })));
      expect(clock.now() - FAKE_EPOCH).toBe(200);
      await clock.advance(199);
      expect((await store.load("Order", "o4"))?.status).toBe("running");
      await clock.advance(1);
      expect((await store.load("Order", "o4"))?.status).toBe("needs-attention");
    });
    const parked = await store.load("Order", "o4");
    expect(parked?.attention).toMatchObject({ entryId: "Order/o4/1", commandType: "ReserveStock", attempts: 2 });
    expect(parked?.attention?.error).toContain("SagaStepTimeoutError (SAGA_STEP_TIMEOUT)");
    expect(attempts).toEqual(["Order/o4/1", "Order/o4/1"]);
    // The command bus answers again: the same runtime resumes the instance and sends what waits.
    silent = false;
    await runtime.resume("Order", "o4");
    await runtime.handle(orderEvent("StockReserved", "o4"));
    expect(sent.map((s) => s.id)).toEqual(["Order/o4/1", "Order/o4/2"]);
    expect((await store.load("Order", "o4"))?.outbox).toEqual([]);
  });

  test("fed from a store's feed, a step that did not settle in time is retried there, and the checkpoint waits for it", async () => {
    const { gate, saga } = gated();
    gate.wait = new Promise<void>(() => {});
    const events = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const { runtime, store, sent, errors } = setup({ sagas: [saga], leaseMs: 50 });
    await events.appendToStream("Order-o6", [{ type: "OrderPlaced", data: { orderId: "o6", sku: "A" } }]);
    // On a fake clock: the step is given up at leaseMs (50), and the retry comes retryDelayMs (5) later.
    await withFakeClock(async (clock) => {
      const subscription = await runtime.subscribe(events, {
        checkpoints,
        pollIntervalMs: 5,
        retryDelayMs: 5,
        onError: () => {},
      });
      try {
        await clock.advance(49);
        expect(errors).toEqual([]);
        await clock.advance(1);
        expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(["SAGA_STEP_TIMEOUT"]);
        expect(await checkpoints.load("sagas")).toBeUndefined();
        // The handler answers again: the retry saves the step, and the feed moves on.
        gate.wait = undefined;
        await clock.advance(5);
        expect(await checkpoints.load("sagas")).toBe(1);
      } finally {
        await clock.until(subscription.stop());
      }
    });
    expect((await store.load("Order", "o6"))?.version).toBe(1);
    expect(sent.map((s) => s.id)).toEqual(["Order/o6/1"]);
    expect(errors).toHaveLength(1);
  });

  test("a handler that throws a value that is not an Error fails the step, recorded, nothing saved", async () => {
    const odd: unknown[] = [null, undefined, 42, "down", Symbol("s"), Object.create(null), { message: 5 }];
    for (const [i, value] of odd.entries()) {
      const saga = defineSaga<OrderEvent, OrderState>({
        ...orderSaga,
        name: `Thrower${i}`,
        handles: [],
        on: {
          OrderPlaced: () => {
            throw value;
          },
        },
        onTimeout: {},
      });
      const { runtime, store, sent, errors } = setup({ sagas: [saga] });
      const [outcome] = await runtime.handle(orderEvent("OrderPlaced", "o3", { sku: "A" }));
      expect(outcome).toMatchObject({ outcome: "failed", retryable: false });
      expect(Object.is(outcome?.error, value)).toBe(true);
      expect(errors).toHaveLength(1);
      expect(await store.load(saga.name, "o3")).toBeUndefined();
      expect(sent).toEqual([]);
      const [failure] = await runtime.failures(saga.name);
      expect(typeof failure?.error).toBe("string");
      expect(failure?.error.length).toBeGreaterThan(0);
    }
  });
});

describe("SagaRuntime.start refuses what its options do not take", () => {
  test("a misspelt interval is refused by name, not dropped for the 1,000 ms default; nothing starts", () => {
    const { runtime } = setup();
    let caught: unknown;
    try {
      runtime.start({ intervallMs: 50 } as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues).toEqual([
      { path: ["intervallMs"], message: "is not an option (the options are intervalMs)" },
    ]);
    // Options of another kind are no options either: refused, not read as none.
    for (const options of ["fast", 5, []]) expect(() => runtime.start(options as never)).toThrow(ValidationError);
  });
});
