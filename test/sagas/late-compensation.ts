/**
 * A step applied while its instance compensates (parked on a failing compensation, here) may still
 * dispatch a command and register its undo. Shared by the saga stores' tests: the undo must be sent
 * like the others, or the instance ends `compensated` with that command's effect never undone.
 */
import { expect } from "bun:test";
import { SagaRuntime, type SagaStore, ulid } from "../../src/index.js";
import { orderEvent, orderSaga, recordingBus } from "./order-saga.ts";

export async function checkLateCompensation(store: SagaStore): Promise<void> {
  const { bus, sent, failing } = recordingBus();
  const runtime = new SagaRuntime({
    store,
    commands: bus,
    sagas: [orderSaga],
    maxAttempts: 1,
    retryDelayMs: 0,
    onError: () => {},
  });
  const id = ulid();
  await runtime.handle(orderEvent("OrderPlaced", id, { sku: "A" }));
  failing.set("ReleaseStock", 1);
  await runtime.handle(orderEvent("PaymentFailed", id));
  expect((await store.load("Order", id))?.attention?.resumeStatus).toBe("compensating");
  // Late: the stock was reserved before the payment failed, but the event comes now.
  const [late] = await runtime.handle(orderEvent("StockReserved", id));
  expect(late?.outcome).toBe("applied");
  const resumed = await runtime.resume("Order", id);
  expect(sent.map((s) => [s.id.slice(id.length + 7), s.type])).toEqual([
    ["1", "ReserveStock"],
    ["c2", "ReleaseStock"],
    ["3", "ChargePayment"],
    ["c4", "RefundPayment"],
  ]);
  expect(resumed).toMatchObject({ status: "compensated", outbox: [], compensations: [] });
}
