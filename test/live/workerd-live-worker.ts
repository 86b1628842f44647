/**
 * A Worker for the workerd tests of the live routes (live-workerd.int.test.ts), bundled as wrangler
 * bundles. Only web-standard code.
 * - `/append` appends a few Cart and Order events to the first store; `/events/stream` serves it.
 * - The scenario (test/live/scenario.ts) runs against `/api/events` (SSE, behind the scenario's auth
 *   hook); `/scenario/*` appends to its store and reports the hub's connections.
 * - `/slow/events/stream` serves a hub with an 8-event buffer; `/slow/append` appends one 64 KiB
 *   event to its store and reports the hub's connections and the store's head.
 */
import { Hono } from "hono";
import { liveRoutes } from "../../adapters/hono/index.js";
import { InMemoryEventStore, LiveHub, type NewEvent } from "../../src/index.js";
import { scenarioServer } from "./scenario-access.js";

const store = new InMemoryEventStore();
const hub = new LiveHub({ store, pollIntervalMs: 50 });
const { store: scenarioStore, hub: scenarioHub, routes: scenarioRoutes } = scenarioServer();

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

app.post("/scenario/append", async (c) => {
  const { streamId, events } = (await c.req.json()) as { streamId: string; events: NewEvent[] };
  return c.json({ events: (await scenarioStore.appendToStream(streamId, events)).events });
});
app.get("/scenario/head", async (c) => c.json(await scenarioStore.getLastGlobalPosition()));
app.get("/scenario/connections", (c) => c.json({ live: scenarioHub.size }));
app.route("/api", scenarioRoutes);

const slowStore = new InMemoryEventStore();
const slowHub = new LiveHub({ store: slowStore, bufferSize: 8, pollIntervalMs: 50 });
const big = "x".repeat(64 * 1024);
app.post("/slow/append", async (c) => {
  await slowStore.appendToStream("Big-1", [{ type: "Big", data: { big } }]);
  return c.json({ head: await slowStore.getLastGlobalPosition(), connections: slowHub.size });
});
app.route("/slow", liveRoutes({ hub: slowHub, heartbeatMs: 1000 }));

export default app;
