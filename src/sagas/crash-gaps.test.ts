/**
 * A crash at each gap of a step (decide | save | dispatch | mark done), simulated in process: the
 * store is made to fail at that point, as if the process died there (mock: a real SIGKILL of a
 * child process is not what this file does). A fresh runtime over the same store then redelivers
 * the event and re-drives the outbox: every command takes effect exactly once.
 */
import { describe, expect, test } from "bun:test";
import { orderEvent, orderSaga } from "../../test/sagas/order-saga.ts";
import { InMemoryDedupStore } from "../dedup/in-memory-dedup-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime } from "./saga-runtime.js";
import type { SagaCommit } from "./types.js";

type Gap = "before-save" | "after-save" | "after-dispatch";

class CrashingStore extends InMemorySagaStore {
  crashAt: Gap | undefined;
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
