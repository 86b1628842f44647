/**
 * A runtime that stops after a compensation's last command was marked sent but before the instance
 * was saved `compensated` (simulated: its store never answers that commit, and the runtime is
 * abandoned). Shared by the saga stores' tests: another runtime's `redrive` must finish it, or it stays
 * `compensating` for good, its timeouts still firing and its events still applied.
 */
import { expect } from "bun:test";
import { SagaRuntime, type SagaStore, ulid } from "../../src/index.js";
import { orderEvent, orderSaga, recordingBus } from "./order-saga.ts";

/** The store as the stopped runtime saw it: a commit that ends a compensation never returns. */
function stopsBeforeCompensated(store: SagaStore): SagaStore {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property !== "commit") return value.bind(target);
      return (commit: Parameters<SagaStore["commit"]>[0]) =>
        commit.status === "compensated" ? new Promise(() => {}) : target.commit(commit);
    },
  });
}

export async function checkUnfinishedCompensation(store: SagaStore): Promise<void> {
  const { bus, sent } = recordingBus();
  const options = { commands: bus, sagas: [orderSaga], retryDelayMs: 0, onError: () => {} };
  const stopped = new SagaRuntime({ ...options, store: stopsBeforeCompensated(store), leaseMs: 50 });
  const id = ulid();
  await stopped.handle(orderEvent("OrderPlaced", id, { sku: "A" }));
  await stopped.handle(orderEvent("PaymentFailed", id));
  expect(await store.load("Order", id)).toMatchObject({ status: "compensating", outbox: [] });
  const restarted = new SagaRuntime({ ...options, store });
  expect(await restarted.redrive()).toBeGreaterThanOrEqual(1);
  expect(await store.load("Order", id)).toMatchObject({ status: "compensated", outbox: [] });
  // Only this instance's commands: a store shared with other tests may hold their instances too.
  expect(sent.filter((s) => s.id.startsWith(`Order/${id}/`)).map((s) => s.type)).toEqual([
    "ReserveStock",
    "ReleaseStock",
  ]);
}
