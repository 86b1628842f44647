/**
 * An operations world for the admin routes' tests: carts in an event store, a cart projection caught
 * up into its read models, an order saga parked in needs-attention, and events written by an
 * attacker (markup in stream ids, data and metadata). The unit tests, and the browser tests on the
 * in-memory store and on PostgreSQL, run against it.
 */
import { Hono } from "hono";
import { adminRoutes, UnauthorizedError } from "../../adapters/hono/index.js";
import {
  type EventStore,
  LiveHub,
  ProjectionRunner,
  type ReadModelStore,
  SagaRuntime,
  type SagaStore,
} from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { orderSaga, recordingBus } from "../sagas/order-saga.ts";
import { cartItems } from "./cart-projection.ts";

export const ADMIN_TOKEN = "admin-test-token";
/** What an attacker writes: markup that would run if the page ever rendered data as HTML. */
export const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
export const HOSTILE_STREAM = `Cart-<svg onload="window.__pwned=3">`;
export const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

export interface AdminWorldStores {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  readonly sagaStore: SagaStore;
}

export async function adminWorld(stores: AdminWorldStores) {
  const { eventStore, readModels, sagaStore } = stores;
  await eventStore.appendToStream("Cart-1", [
    // A fixed id, so the screenshots of this event are the same from run to run.
    {
      id: "01KBHW00000000000000000001",
      type: "ItemAdded",
      data: { sku: "TEA" },
      metadata: { traceparent: TRACEPARENT, userId: "ada" },
    },
    { type: "ItemAdded", data: { sku: "COFFEE" } },
  ]);
  await eventStore.appendToStream("Cart-2", [{ type: "ItemAdded", data: { sku: "MILK" } }]);
  await eventStore.appendToStream(HOSTILE_STREAM, [
    { type: "ItemAdded", data: { sku: HOSTILE, note: `"></pre>${HOSTILE}` }, metadata: { userId: HOSTILE } },
  ]);
  for (let n = 1; n <= 5; n++) await eventStore.appendToStream(`Order-${n}`, [{ type: "OrderNoted", data: { n } }]);
  const runner = new ProjectionRunner({ projection: cartItems, eventStore, readModels });
  await runner.catchUp();

  const { bus, sent, failing } = recordingBus();
  const sagas = new SagaRuntime({
    store: sagaStore,
    commands: bus,
    sagas: [orderSaga],
    retryDelayMs: 0,
    maxAttempts: 2,
    onError: () => undefined,
  });
  failing.set("ReserveStock", 2);
  await sagas.handle(testEnvelope("OrderPlaced", "Order-o1", { orderId: "o1", sku: HOSTILE }));

  // The page watches the feed over SSE from this hub (the polling fallback has its unit tests).
  const live = new LiveHub({ store: eventStore, pollIntervalMs: 100 });
  const app = new Hono();
  app.route(
    "/admin",
    adminRoutes({
      store: eventStore,
      projections: [{ runner, readModels }],
      sagas,
      traceUrl: "https://traces.example/trace/{traceId}",
      live,
      pollIntervalMs: 200,
      auth: ({ request }) => {
        if (request.headers.get("authorization") !== `Bearer ${ADMIN_TOKEN}`) throw new UnauthorizedError();
        return { userId: "operator" };
      },
    }),
  );
  return { app, live, runner, sagas, sent, failing, ...stores };
}
