/**
 * subscribeLive's side of a Durable Object's flow control, over a real Bun WebSocket server that
 * speaks LiveSubscribers' protocol (a stand-in for the object, which runs only in workerd; the
 * object's own side is tested in test/runtime/suites/sqlite-live.ts): it acknowledges every
 * `ackEvery` events handled and pings every `pingMs`, as the `open` message asks; without them
 * (the Hono routes' `open`) it sends nothing.
 */
import { afterEach, expect, test } from "bun:test";
import { testEnvelope } from "../testing/index.js";
import { subscribeLive } from "./index.js";

let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

function objectLike(open: Record<string, unknown>, events: number) {
  const received: string[] = [];
  // Pings by connection: what one connection received, however many the client opened.
  const pings = new Map<unknown, number>();
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request, s) =>
      s.upgrade(request, { data: undefined }) ? undefined : new Response("upgrade", { status: 426 }),
    websocket: {
      open(ws) {
        ws.send(JSON.stringify({ kind: "open", position: 0, ...open }));
        for (let n = 1; n <= events; n++) {
          ws.send(JSON.stringify({ kind: "event", event: { ...testEnvelope("E", "S-1", { n }), globalPosition: n } }));
        }
      },
      message(ws, message) {
        received.push(String(message));
        // What workerd's auto-response does for the object.
        if (String(message) === '{"kind":"ping"}') {
          pings.set(ws, (pings.get(ws) ?? 0) + 1);
          ws.send('{"kind":"heartbeat"}');
        }
      },
    },
  });
  const mostPingsOnOneConnection = () => Math.max(0, ...pings.values());
  return { url: `http://127.0.0.1:${server.port}/events`, received, mostPingsOnOneConnection };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

test("acknowledges every ackEvery events handled and pings every pingMs when the open message asks", async () => {
  const { url, received } = objectLike({ ackEvery: 3, pingMs: 40 }, 7);
  const handled: number[] = [];
  const subscription = subscribeLive({
    url,
    transport: "websocket",
    from: 0,
    onEvent: (event) => void handled.push(event.globalPosition as number),
  });
  try {
    await until(
      () => handled.length === 7 && received.filter((m) => m.includes("ping")).length >= 2,
      "events and pings",
    );
    expect(handled).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(received.filter((m) => m.includes("ack"))).toEqual([
      '{"kind":"ack","received":3}',
      '{"kind":"ack","received":6}',
    ]);
  } finally {
    await subscription.close();
  }
});

test("sends nothing to a server whose open message asks for no flow control (the Hono live routes)", async () => {
  const { url, received } = objectLike({}, 5);
  const handled: number[] = [];
  const subscription = subscribeLive({
    url,
    transport: "websocket",
    from: 0,
    onEvent: (event) => void handled.push(event.globalPosition as number),
  });
  try {
    await until(() => handled.length === 5, "events");
    await Bun.sleep(100);
    expect(received).toEqual([]);
  } finally {
    await subscription.close();
  }
});

test("pings at least twice per idleTimeoutMs when the open message asks for rarer pings: a quiet connection stays up", async () => {
  const { url, mostPingsOnOneConnection } = objectLike({ pingMs: 60_000 }, 0);
  const subscription = subscribeLive({ url, transport: "websocket", from: 0, idleTimeoutMs: 100, onEvent: () => {} });
  try {
    // Pinging every 60 s, the idle watch closed each connection after 100 ms, before its first ping.
    // Three pings on one connection (at most 50 ms apart) kept it up past idleTimeoutMs. Not counted
    // in a fixed time, nor as "one connection in all": a loaded machine that stalls the event loop
    // past 100 ms closes a connection, as it should, and the pings it had were then too few (it failed so).
    await until(() => mostPingsOnOneConnection() >= 3, "three pings on one connection");
    expect(mostPingsOnOneConnection()).toBeGreaterThanOrEqual(3);
  } finally {
    await subscription.close();
  }
});

test("a close the server gives no reason for (1000 from a proxy, say) is reported as a drop, then reconnected", async () => {
  // Before: a 1000 was taken for the client's own close, so the drop went unreported (the guide sends
  // every close without one of the server's codes to onError).
  let opened = 0;
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request, s) =>
      s.upgrade(request, { data: undefined }) ? undefined : new Response("upgrade", { status: 426 }),
    websocket: {
      open(ws) {
        opened += 1;
        ws.send(JSON.stringify({ kind: "open", position: 0 }));
        ws.close(1000, "bye");
      },
      message() {},
    },
  });
  const errors: string[] = [];
  const ends: string[] = [];
  const subscription = subscribeLive({
    url: `http://127.0.0.1:${server.port}/events`,
    transport: "websocket",
    backoff: { initialMs: 1, maxMs: 1 },
    onEvent: () => {},
    onError: (error) => void errors.push(`${error.code}: ${error.message}`),
    onEnd: (reason) => void ends.push(reason),
  });
  const deadline = Date.now() + 2000;
  while (opened < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  await subscription.close();
  expect(opened).toBeGreaterThanOrEqual(2);
  expect(ends).toEqual([]);
  expect(errors[0]).toBe("LIVE_DISCONNECTED: The live stream closed (1000)");
});
