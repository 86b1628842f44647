/**
 * A slow client on Node (bundled and run by node.test.ts): through the real node:http bridge
 * (node-server.ts), a raw socket subscribes (SSE, then WebSocket through `ws`) and stops reading.
 * Its socket buffers fill, the bridge (SSE: waits for `drain`) or the pump (WebSocket: `ws`'s
 * `bufferedAmount`) stops taking events, the connection's hub buffer fills and the hub drops it,
 * while a client that reads keeps up. SSE: when the slow socket reads again, its stream ends with
 * `event: end` `slow-consumer`; WebSocket: a close frame 4008. Exits 0 when both hold.
 */
import { connect, type Socket } from "node:net";
import { Hono } from "hono";
import { liveRoutes } from "../../adapters/hono/live-routes.js";
import { subscribeLive } from "../../src/client/index.js";
import { InMemoryEventStore, LiveHub } from "../../src/index.js";
import { loadWs, nodeUpgradeWebSocket, serveOnNode } from "./node-server.js";

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ws = await loadWs();
const store = new InMemoryEventStore();
const hub = new LiveHub({ store, bufferSize: 8, pollIntervalMs: 50 });
const app = new Hono();
app.route(
  "/",
  liveRoutes({ hub, heartbeatMs: 1000, upgradeWebSocket: nodeUpgradeWebSocket(ws), maxBufferedBytes: 64 * 1024 }),
);
const { server, port } = await serveOnNode(app);

/** A raw socket that sends `request`, waits for `ready` in what comes back, then stops reading. */
async function slowSocket(request: string, ready: string): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => void chunks.push(chunk));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(request);
  const received = () => Buffer.concat(chunks).toString("latin1");
  await until(() => received().includes(ready), 5000, "the slow client's subscription");
  socket.pause();
  return { socket, received };
}

/**
 * Appends 64 KiB events until the hub holds only the fast client, letting the fast client catch up
 * every few events (Node's fetch reads slower than the appends come); resolves how many it took.
 */
async function appendUntilDropped(fast: { readonly position: number | undefined }): Promise<number> {
  const big = "x".repeat(64 * 1024);
  let appended = 0;
  while (hub.size === 2 && appended < 2000) {
    await store.appendToStream(`Big-${appended}`, [{ type: "Big", data: { big } }]);
    appended += 1;
    if (appended % 4 === 0) {
      const last = await store.getLastGlobalPosition();
      await until(() => (fast.position ?? 0) >= last, 10_000, "the fast client to keep up");
    }
  }
  if (hub.size !== 1) throw new Error(`after ${appended} events the hub holds ${hub.size} connections, not 1`);
  return appended;
}

async function scenario(transport: "sse" | "websocket"): Promise<string> {
  const request =
    transport === "sse"
      ? "GET /events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
      : "GET /events/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const slow = await slowSocket(request, transport === "sse" ? "event: open" : '"kind":"open"');
  const fastEnds: string[] = [];
  const fast = subscribeLive({
    url: `http://127.0.0.1:${port}/events`,
    transport,
    from: await store.getLastGlobalPosition(),
    WebSocket: (globalThis.WebSocket ?? ws.WebSocket) as typeof WebSocket,
    onEvent: () => {},
    onEnd: (reason) => void fastEnds.push(reason),
  });
  try {
    await until(() => hub.size === 2, 5000, "both connections");
    const appended = await appendUntilDropped(fast);
    const last = await store.getLastGlobalPosition();
    await until(() => (fast.position ?? 0) >= last, 10_000, "the fast client to keep up");
    if (fastEnds.length > 0) throw new Error(`the fast client was dropped too: ${fastEnds.join()}`);
    // The slow client reads again: it is told why it was dropped.
    slow.socket.resume();
    if (transport === "sse") {
      await until(() => slow.received().includes("event: end"), 10_000, "the end event");
      if (!slow.received().includes('event: end\ndata: {"reason":"slow-consumer"}'))
        throw new Error("no slow-consumer end");
    } else {
      // A server close frame: 0x88, a length byte, then the code 4008 (0x0FA8) and the reason.
      const closeFrame = "\x88\x0f\x0f\xa8slow-consumer";
      await until(() => slow.received().includes(closeFrame), 10_000, "the 4008 close frame");
    }
    return `${transport}: the slow client was dropped (slow-consumer) after ${appended} 64 KiB events; the fast one kept up`;
  } finally {
    slow.socket.destroy();
    await fast.close();
    await until(() => hub.size === 0, 5000, "the connections' teardown");
  }
}

let code = 1;
try {
  for (const transport of ["sse", "websocket"] as const)
    console.log(`node ${process.version}: ${await scenario(transport)}`);
  code = 0;
} catch (error) {
  console.error(error);
} finally {
  await hub.close();
  server.closeAllConnections();
  server.close();
}
process.exit(code);
