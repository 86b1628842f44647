/**
 * Clients that leave, on Node (bundled and run with --expose-gc by node.test.ts): the node:http
 * bridge must tell the app when a client goes. 1. SSE clients close after forced GCs: the hub must
 * drop every connection through the Request's abort signal (the 60 s heartbeat is too slow to
 * notice in time). 2. A client that stopped reading leaves with its socket buffer full: the
 * response body must be cancelled (a wait for `drain` alone never ends: the issue-21 stall). Exits 0
 * when both hold.
 */
import { connect } from "node:net";
import { Hono } from "hono";
import { liveRoutes } from "../../adapters/hono/live-routes.js";
import { subscribeLive } from "../../src/client/index.js";
import { InMemoryEventStore, LiveHub } from "../../src/index.js";
import { serveOnNode } from "./node-server.js";

const clients = Number(process.argv[2] ?? "200");
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

const store = new InMemoryEventStore();
const hub = new LiveHub({ store, maxClients: clients });
let cancelled = false;
const app = new Hono();
app.route("/", liveRoutes({ hub, heartbeatMs: 60_000 }));
// An endless body: the client below never reads it.
app.get("/endless", () => {
  const chunk = new Uint8Array(64 * 1024);
  return new Response(
    new ReadableStream({
      pull: (controller) => controller.enqueue(chunk),
      cancel: () => {
        cancelled = true;
      },
    }),
  );
});
const { server, port } = await serveOnNode(app);
const failures: string[] = [];
try {
  const subscriptions = Array.from({ length: clients }, () =>
    subscribeLive({ url: `http://127.0.0.1:${port}/events`, onEvent: () => {} }),
  );
  if (!(await until(() => hub.size === clients, 20_000))) failures.push(`only ${hub.size} of ${clients} connected`);
  await store.appendToStream("Tick-1", [{ type: "Ticked", data: {} }]);
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(subscriptions.map((subscription) => subscription.close()));
  if (!(await until(() => hub.size === 0, 5_000))) {
    failures.push(`${hub.size} of ${clients} live connections outlived their clients`);
  }

  const socket = connect(port, "127.0.0.1");
  socket.pause();
  socket.write(`GET /endless HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
  // Long enough for the kernel's buffers and the response's to fill.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  socket.destroy();
  if (!(await until(() => cancelled, 5_000)))
    failures.push("the body of a client gone with a full buffer was not cancelled");
} finally {
  await hub.close();
  server.closeAllConnections();
  server.close();
}
for (const failure of failures) console.error(failure);
console.log(failures.length === 0 ? `node ${process.version}: ${clients} clients left, none outlived` : "failed");
process.exit(failures.length === 0 ? 0 : 1);
