/**
 * A crash at each gap of a step (decide | save | dispatch | mark done), simulated in process: the
 * store is made to fail at that point, as if the process died there (mock: a real SIGKILL of a
 * child process is not what this file does). A fresh runtime over the same store then redelivers
 * the event and re-drives the outbox: every command takes effect exactly once. On Lambda and Workers
 * no restart runs `redrive()`: the redelivery and the timer's `tick` send what the crash left.
 */
import { describe, expect, test } from "bun:test";
import { withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { orderEvent, orderSaga } from "../../test/sagas/order-saga.ts";
import { InMemoryDedupStore } from "../dedup/in-memory-dedup-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime } from "./saga-runtime.js";
import type { ListSagasOptions, SagaCommit, SagaFailureReport, SagaRecord } from "./types.js";

type Gap = "before-save" | "after-save" | "after-dispatch";

class CrashingStore extends InMemorySagaStore {
  crashAt: Gap | undefined;
  /** How many `list` calls fail next, as on a store not up yet when a process starts. */
  failLists = 0;
  protected override async listInstances(
    options: ListSagasOptions & { readonly limit: number },
  ): Promise<SagaRecord[]> {
    if (this.failLists > 0) {
      this.failLists--;
      throw new Error("the saga store is not up yet");
    }
    return super.listInstances(options);
  }
  protected override async writeCommit(commit: SagaCommit): Promise<number> {
    if (this.crashAt === "before-save") this.#crash();
    const version = await super.writeCommit(commit);
    // Saved, and the process dies before the step goes on to dispatch.
    if (this.crashAt === "after-save") this.#crash();
    return version;
  }
  protected override async writeDispatched(saga: string, key: string, entryId: string): Promise<void> {
    if (this.crashAt === "after-dispatch") this.#crash();
    return super.writeDispatched(saga, key, entryId);
  }
  #crash(): never {
    this.crashAt = undefined;
    throw new Error("the process died here");
  }
}

/** Command handlers that skip an id they have seen, as the docs advise: effects counted per command. */
function idempotentServices() {
  const dedup = new InMemoryDedupStore();
  const attempts: string[] = [];
  const effects: string[] = [];
  const bus = new CommandBus();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"]) {
    bus.register(type, async (_payload, message) => {
      attempts.push(message.id);
      if (await dedup.has(message.id)) return;
      await dedup.add(message.id);
      effects.push(`${type} ${message.id}`);
    });
  }
  return { bus, attempts, effects };
}

describe("a crash at each gap of a step", () => {
  for (const gap of ["before-save", "after-save", "after-dispatch"] as const) {
    test(`${gap}: after a restart the command takes effect exactly once`, async () => {
      const store = new CrashingStore();
      const services = idempotentServices();
      const placed = orderEvent("OrderPlaced", "o1", { sku: "A" });
      store.crashAt = gap;
      const crashed = new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga], onError: () => {} });
      await crashed.handle(placed);

      const restarted = new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga] });
      await restarted.redrive();
      // The feed redelivers what it had not checkpointed.
      const [again] = await restarted.handle(placed);
      expect(again?.outcome).toBe(gap === "before-save" ? "started" : "duplicate");
      await restarted.redrive();

      expect(services.effects).toEqual(["ReserveStock Order/o1/1"]);
      expect(new Set(services.attempts)).toEqual(new Set(["Order/o1/1"]));
      expect(services.attempts.length).toBe(gap === "after-dispatch" ? 2 : 1);
      const record = await store.load("Order", "o1");
      expect(record).toMatchObject({ version: 1, outbox: [] });
    });
  }
});

/** A saga whose last step sends a command and completes: a crash after that save leaves an ended instance's outbox. */
type ShippingEvent = { type: "Paid"; data: { orderId: string } } | { type: "Noted"; data: { orderId: string } };
const shipping = defineSaga<ShippingEvent, object>({
  name: "Shipping",
  startedBy: ["Paid"],
  handles: ["Noted"],
  correlate: (event) => event.data.orderId,
  initialState: {},
  on: {
    Paid: (state, event, ctx) => {
      ctx.dispatch("ReserveStock", { orderId: event.data.orderId });
      ctx.complete();
      return state;
    },
    Noted: (state) => state,
  },
});

describe("commands a crash left in the outbox, with no restart to re-drive them (Lambda, Workers; mock: a store that throws after its save)", () => {
  test("after-save: the event's redelivery alone (duplicate) sends the saved command, under its id", async () => {
    const store = new CrashingStore();
    const services = idempotentServices();
    const placed = orderEvent("OrderPlaced", "o1", { sku: "A" });
    store.crashAt = "after-save";
    const crashed = new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga], onError: () => {} });
    await crashed.handle(placed);
    expect(services.attempts).toEqual([]);

    // The queue redelivers it to another Lambda instance: a fresh runtime, and nothing calls redrive.
    const lambda = new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga] });
    expect((await lambda.handle(placed))[0]?.outcome).toBe("duplicate");
    expect(services.effects).toEqual(["ReserveStock Order/o1/1"]);
    expect((await store.load("Order", "o1"))?.outbox).toEqual([]);
    // Nothing left: a further redelivery sends nothing more.
    expect((await lambda.handle(placed))[0]?.outcome).toBe("duplicate");
    expect(services.attempts).toEqual(["Order/o1/1"]);
  });

  test("after-save of a step that ended the instance: a later event of it (finished) sends the saved command", async () => {
    const store = new CrashingStore();
    const services = idempotentServices();
    const event = (type: ShippingEvent["type"]) => ({ ...orderEvent("OrderPlaced", "o1"), type });
    store.crashAt = "after-save";
    const crashed = new SagaRuntime({ store, commands: services.bus, sagas: [shipping], onError: () => {} });
    await crashed.handle(event("Paid"));
    expect((await store.load("Shipping", "o1"))?.status).toBe("completed");

    const lambda = new SagaRuntime({ store, commands: services.bus, sagas: [shipping] });
    expect((await lambda.handle(event("Noted")))[0]?.outcome).toBe("finished");
    expect(services.effects).toEqual(["ReserveStock Shipping/o1/1"]);
    expect((await store.load("Shipping", "o1"))?.outbox).toEqual([]);
  });

  test("after-save of a timeout's firing: the timer's next tick, on a fresh runtime, sends the compensation", async () => {
    const store = new CrashingStore();
    const services = idempotentServices();
    const clock = { now: Date.parse("2026-12-03T10:00:00Z") };
    const runtime = () =>
      new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga], now: () => clock.now, onError: () => {} });
    const crashed = runtime();
    await crashed.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    clock.now += 16 * 60_000;
    store.crashAt = "after-save";
    // A killed invocation does not go on: the re-drive its tick would run next reaches the store no more.
    store.failLists = 1;
    expect((await crashed.tick()).fired.map((f) => f.outcome)).toEqual(["failed"]);
    expect(await store.load("Order", "o1")).toMatchObject({ status: "compensating", outbox: [{ id: "Order/o1/c2" }] });

    // The schedule's next invocation: nothing is due (the firing was saved), and its tick re-drives.
    const lambda = runtime();
    expect((await lambda.tick()).fired).toEqual([]);
    expect(services.effects).toEqual(["ReserveStock Order/o1/1", "ReleaseStock Order/o1/c2"]);
    expect(await store.load("Order", "o1")).toMatchObject({ status: "compensated", outbox: [] });
  });

  test("start(): a re-drive that failed (the store not up yet; mock: its first list throws) is tried again by a tick redriveIntervalMs later", async () => {
    const store = new CrashingStore();
    const services = idempotentServices();
    store.crashAt = "after-save";
    await new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga], onError: () => {} }).handle(
      orderEvent("OrderPlaced", "o1", { sku: "A" }),
    );
    store.failLists = 1;
    const clock = { now: Date.parse("2026-12-03T10:00:00Z") };
    const errors: SagaFailureReport[] = [];
    const restarted = new SagaRuntime({
      store,
      commands: services.bus,
      sagas: [orderSaga],
      now: () => clock.now,
      onError: (failure) => errors.push(failure),
    });
    // On a fake clock (the loop's timers): it ticks every 5 ms; the saga clock moves by hand.
    await withFakeClock(async (timers) => {
      const loop = restarted.start({ intervalMs: 5 });
      try {
        await timers.advance(50);
        expect(errors.map((e) => String(e.error))).toEqual(["Error: the saga store is not up yet"]);
        expect(services.attempts).toEqual([]);
        clock.now += 300_000 - 1;
        await timers.advance(10);
        expect(services.attempts).toEqual([]);
        clock.now += 1;
        await timers.advance(10);
        expect(services.effects).toEqual(["ReserveStock Order/o1/1"]);
      } finally {
        await timers.until(loop.stop());
      }
    });
    expect((await store.load("Order", "o1"))?.outbox).toEqual([]);
    expect(errors.map((e) => e.event)).toEqual([{ id: "redrive", type: "redrive" }]);
  });

  test("start() re-drives first even when a tick of the same runtime re-drove within redriveIntervalMs", async () => {
    const store = new CrashingStore();
    const services = idempotentServices();
    // The saga clock stands still: the tick's re-drive began no time before start().
    const now = () => Date.parse("2026-12-03T10:00:00Z");
    const runtime = new SagaRuntime({ store, commands: services.bus, sagas: [orderSaga], now, onError: () => {} });
    // Its tick re-drives (nothing to send yet), then a crash after a save leaves a command in the outbox.
    await runtime.tick();
    store.crashAt = "after-save";
    await runtime.handle(orderEvent("OrderPlaced", "o1", { sku: "A" }));
    store.crashAt = undefined;
    expect(services.attempts).toEqual([]);
    // Before, start() asked the interval as tick does, found a re-drive begun moments ago, and sent nothing.
    await withFakeClock(async (timers) => {
      const loop = runtime.start({ intervalMs: 60_000 });
      try {
        await timers.advance(10);
        expect(services.effects).toEqual(["ReserveStock Order/o1/1"]);
      } finally {
        await timers.until(loop.stop());
      }
    });
  });
});
