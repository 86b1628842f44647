/**
 * subscribeLive's side of a Durable Object's flow control, over a real Bun WebSocket server that
 * speaks LiveSubscribers' protocol (a stand-in for the object, which runs only in workerd; the
 * object's own side is tested in test/runtime/suites/sqlite-live.ts): it acknowledges every
 * `ackEvery` events handled and pings every `pingMs`, as the `open` message asks; without them
 * (the Hono routes' `open`) it sends nothing.
 */
import { afterEach, expect, test } from "bun:test";
import { EventCorruptError, type EventFlowsError, isEventFlowsError } from "../errors.js";
import { testEnvelope } from "../testing/index.js";
import { LiveStreamError, subscribeLive } from "./index.js";

let server: ReturnType<typeof Bun.serve> | undefined;

/** A WebSocket server on loopback with these handlers: every request is upgraded. */
function serveWebSocket(websocket: Bun.WebSocketHandler<undefined>): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (request, s) =>
      s.upgrade(request, { data: undefined }) ? undefined : new Response("upgrade", { status: 426 }),
    websocket,
  });
}
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

function objectLike(open: Record<string, unknown>, events: number) {
  const received: string[] = [];
  // Pings by connection: what one connection received, however many the client opened.
  const pings = new Map<unknown, number>();
  server = serveWebSocket({
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
  server = serveWebSocket({
    open(ws) {
      opened += 1;
      ws.send(JSON.stringify({ kind: "open", position: 0 }));
      ws.close(1000, "bye");
    },
    message() {},
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

/**
 * A server whose nth connection sends `open`, then `script[n]`'s messages, then closes with its code and
 * reason (the last entry serves every later connection); `opened` counts the connections.
 */
function closingWith(script: readonly { code: number; reason: string; messages?: readonly string[] }[]) {
  const state = { opened: 0 };
  server = serveWebSocket({
    open(ws) {
      const step = script[Math.min(state.opened, script.length - 1)] as (typeof script)[number];
      state.opened += 1;
      ws.send(JSON.stringify({ kind: "open", position: 0 }));
      for (const message of step.messages ?? []) ws.send(message);
      ws.close(step.code, step.reason);
    },
    message() {},
  });
  return { url: `http://127.0.0.1:${server.port}/events`, state };
}

test("only the servers' closes (4008, 1001, 1011) reach onEnd, with the reason each stands for; 4001, 4999, 3000 are drops reported to onError", async () => {
  // Before: any close from 4001 to 4999 (a proxy's, a hostile server's) went to onEnd with its own text
  // ("proxy says go away"), and onError never heard of it.
  const closes = [
    { code: 4001, reason: "proxy says go away" },
    { code: 4999, reason: "whatever" },
    { code: 3000, reason: "x" },
    { code: 4008, reason: "slow-consumer" },
    { code: 1001, reason: "not shutdown" },
    { code: 1011, reason: "" },
  ];
  const { url, state } = closingWith([...closes, { code: 1000, reason: "bye" }]);
  const errors: unknown[] = [];
  const ends: string[] = [];
  const subscription = subscribeLive({
    url,
    transport: "websocket",
    backoff: { initialMs: 1, maxMs: 1 },
    onEvent: () => {},
    onError: (error) => void errors.push(error),
    onEnd: (reason) => void ends.push(reason),
  });
  try {
    await until(() => state.opened > closes.length && ends.length + errors.length >= closes.length, "the closes");
  } finally {
    await subscription.close();
  }
  expect(ends).toEqual(["slow-consumer", "shutdown", "error"]);
  const reported = errors.slice(0, 3) as LiveStreamError[];
  for (const error of reported) {
    expect(error).toBeInstanceOf(LiveStreamError);
    expect(isEventFlowsError(error)).toBe(true);
    expect(error.cause).toBeUndefined();
  }
  expect(reported.map((error) => `${error.code}: ${error.message}`)).toEqual([
    "LIVE_DISCONNECTED: The live stream closed (4001)",
    "LIVE_DISCONNECTED: The live stream closed (4999)",
    "LIVE_DISCONNECTED: The live stream closed (3000)",
  ]);
  // Nothing of the closes' own text reached a callback.
  expect(JSON.stringify([ends, errors.map((error) => (error as Error).message)])).not.toMatch(
    /proxy|whatever|not shutdown/,
  );
});

test("a Durable Object's error message before its 1011 close reaches onError as the typed EventCorruptError (the cause of a LIVE_DISCONNECTED), then onEnd('error')", async () => {
  // Before: the `{"kind":"error",…}` message was ignored (the client read only `open` and `event`), so the
  // error naming the unreadable row reached no callback: onEnd("error") alone.
  const corrupt = new EventCorruptError("Order-7", 3, "data is not JSON");
  const wire = JSON.stringify({
    kind: "error",
    error: {
      code: corrupt.code,
      message: corrupt.message,
      fields: { streamId: "Order-7", version: 3, reason: "data is not JSON" },
    },
  });
  const other = JSON.stringify({
    kind: "error",
    error: { code: "SERVICE_ERROR", message: "EventStoreObject subscribe failed", fields: {} },
  });
  const { url, state } = closingWith([
    { code: 1011, reason: "error", messages: [wire] },
    // Not an error of ours (no code): passed by, as any other message the client does not know.
    { code: 1011, reason: "error", messages: ['{"kind":"error","error":{"message":"no code"}}'] },
    // An error, then a close that is no server end: the drop reported carries it as its cause.
    { code: 1000, reason: "bye", messages: [other] },
  ]);
  const errors: LiveStreamError[] = [];
  const calls: string[] = [];
  const subscription = subscribeLive({
    url,
    transport: "websocket",
    backoff: { initialMs: 1, maxMs: 1 },
    onEvent: () => {},
    onError: (error) => {
      errors.push(error);
      calls.push(`onError ${error.code}`);
    },
    onEnd: (reason) => void calls.push(`onEnd ${reason}`),
  });
  try {
    await until(() => state.opened >= 3 && errors.length >= 2, "the three connections");
  } finally {
    await subscription.close();
  }
  expect(calls.slice(0, 4)).toEqual([
    "onError LIVE_DISCONNECTED",
    "onEnd error",
    "onEnd error",
    "onError LIVE_DISCONNECTED",
  ]);
  const [first, third] = errors as [LiveStreamError, LiveStreamError];
  expect(first).toBeInstanceOf(LiveStreamError);
  expect(first.message).toBe("The live stream's server reported an error (EVENT_CORRUPT) and closed (1011)");
  const cause = first.cause as EventCorruptError;
  expect(cause).toBeInstanceOf(EventCorruptError);
  expect(isEventFlowsError(cause)).toBe(true);
  expect([cause.code, cause.streamId, cause.version, cause.reason, cause.message]).toEqual([
    "EVENT_CORRUPT",
    "Order-7",
    3,
    "data is not JSON",
    corrupt.message,
  ]);
  expect(third.message).toBe("The live stream closed (1000)");
  const second = third.cause as EventFlowsError;
  expect(isEventFlowsError(second)).toBe(true);
  expect([second.code, second.message]).toEqual(["SERVICE_ERROR", "EventStoreObject subscribe failed"]);
});
