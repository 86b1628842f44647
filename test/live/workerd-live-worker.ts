/**
 * A Worker for the workerd test of the live routes (live-workerd.int.test.ts): an in-memory store
 * and a LiveHub held by the isolate, `POST /append` to append events, and `liveRoutes` SSE at
 * /events/stream. Only web-standard code, bundled as wrangler bundles.
 */
import { Hono } from "hono";
import { liveRoutes } from "../../adapters/hono/index.js";
import { InMemoryEventStore, LiveHub } from "../../src/index.js";

const store = new InMemoryEventStore();
const hub = new LiveHub({ store, pollIntervalMs: 50 });

const app = new Hono();
app.post("/append", async (c) => {
  await store.appendToStream("Cart-1", [
    { type: "ItemAdded", data: { sku: "TEA" } },
    { type: "ItemAdded", data: { sku: "COFFEE" } },
  ]);
  await store.appendToStream("Order-1", [{ type: "OrderPlaced", data: {} }]);
  await store.appendToStream("Cart-1", [{ type: "CheckedOut", data: {} }]);
  return c.json({ head: await store.getLastGlobalPosition(), connections: hub.size });
});
app.route("/", liveRoutes({ hub, heartbeatMs: 1000 }));

export default app;
