/**
 * A runtime subscribed to a store's feed with a checkpoint: stopped after the first event and
 * subscribed again, it takes the second from where it stopped, and each event's command goes out
 * once. Run on each SQL store with its own event, checkpoint and saga stores.
 */
import { expect } from "bun:test";
import { type CheckpointStore, type EventStore, SagaRuntime, type SagaStore, ulid } from "../../src/index.js";
import { eventually } from "../../src/testing/index.js";
import { orderSaga, recordingBus } from "./order-saga.ts";

export interface FeedResumeStores {
  readonly events: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly store: SagaStore;
  /** The runtime's "now". */
  readonly at: number;
}

export async function checkFeedResume({ events, checkpoints, store, at }: FeedResumeStores): Promise<void> {
  const { bus, sent } = recordingBus();
  const runtime = new SagaRuntime({ store, commands: bus, sagas: [orderSaga], now: () => at, retryDelayMs: 0 });
  const id = ulid();
  const checkpointId = `sagas-${id}`;
  await events.appendToStream(`Order-${id}`, [{ type: "OrderPlaced", data: { orderId: id, sku: "A" } }]);
  const first = await runtime.subscribe(events, { checkpoints, checkpointId, pollIntervalMs: 10 });
  await eventually(async () => expect((await store.load("Order", id))?.version).toBe(1), 10_000);
  await first.stop();
  await events.appendToStream(`Order-${id}`, [{ type: "StockReserved", data: { orderId: id } }]);
  const second = await runtime.subscribe(events, { checkpoints, checkpointId, pollIntervalMs: 10 });
  await eventually(async () => expect((await store.load("Order", id))?.version).toBe(2), 10_000);
  await second.stop();
  expect(sent.map((s) => s.id).filter((s) => s.startsWith(`Order/${id}/`))).toEqual([`Order/${id}/1`, `Order/${id}/2`]);
  expect(await checkpoints.load(checkpointId)).toBe(second.position);
}
