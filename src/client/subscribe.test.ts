/**
 * subscribeLive against servers that misbehave (a `fetch` standing in for them, no network) and
 * against options it could only fail on again and again.
 */
import { afterEach, describe, expect, jest, spyOn, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../errors.js";
import { LiveClientErrorCode, type LiveClientOptions, type LiveStreamError, subscribeLive } from "./index.js";

afterEach(() => {
  (Math.random as unknown as { mockRestore?: () => void }).mockRestore?.();
});

const encoder = new TextEncoder();
const SSE = { "content-type": "text/event-stream; charset=utf-8" };
const open = (position: number) => `event: open\ndata: {"position":${position}}\n\n`;
const event = (n: number) =>
  `id: ${n}\ndata: ${JSON.stringify({ id: `e${n}`, type: "E", streamId: "S-1", globalPosition: n, data: {} })}\n\n`;

/** A `fetch` whose n-th request (from 0) `respond` answers; it records each request's URL. */
function server(respond: (n: number, init: RequestInit) => Response | Promise<Response>) {
  const requests: { url: string }[] = [];
  const fetch = (async (input: string | URL | Request, init: RequestInit) => {
    // A turn of the event loop, as a network would take: a client that reconnects at once cannot starve timers.
    await new Promise((resolve) => setTimeout(resolve, 1));
    requests.push({ url: String(input) });
    return respond(requests.length - 1, init);
  }) as unknown as typeof globalThis.fetch;
  return { fetch, requests };
}

/** As `server`, without the turn of the event loop: on the fake clock, where a request takes no time. */
function instantServer(respond: (n: number) => Response) {
  const requests: { url: string }[] = [];
  const fetch = (async (input: string | URL | Request) => {
    requests.push({ url: String(input) });
    return respond(requests.length - 1);
  }) as unknown as typeof globalThis.fetch;
  return { fetch, requests };
}

/** On the fake clock: turns of the microtask queue until `done()` holds; no timer fires meanwhile, none is advanced. */
async function settled(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 1000 && !done(); i++) await Promise.resolve();
  return done();
}

/** On the fake clock: until `done()` holds, runs what is queued, then moves the clock to the next timer (at most 100). */
async function runUntil(done: () => boolean): Promise<boolean> {
  for (let timers = 0; timers < 100 && !(await settled(done)); timers++) jest.advanceTimersToNextTimer();
  return done();
}

function live(fetch: typeof globalThis.fetch, options: Partial<LiveClientOptions> = {}) {
  const handled: number[] = [];
  const errors: LiveStreamError[] = [];
  const subscription = subscribeLive({
    url: "http://live.test/events",
    fetch,
    from: 0,
    onEvent: (e) => void handled.push(e.globalPosition as number),
    onError: (error) => void errors.push(error),
    ...options,
  });
  return { handled, errors, subscription };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("subscribeLive options", () => {
  test("options it could only fail on are a ValidationError at once, and nothing is requested", () => {
    const { fetch, requests } = server(() => new Response("", { status: 503 }));
    const bad: Partial<LiveClientOptions>[] = [
      { url: "not a url" },
      { url: "ftp://live.test/events" },
      { url: "wss://live.test/events" }, // SSE runs over fetch: http(s) only
      { url: "https://alice:s3cret@live.test/events" }, // fetch refuses it, quoting the password
      { url: "wss://token@live.test/events", transport: "websocket" },
      // Headers fetch refuses, Node's TypeError quoting the value: "Bearer s3cret " is an invalid header value.
      { headers: { authorization: "Bearer s3cret\u0000" } },
      { headers: { authorization: "Bearer s3cret\u0100" } },
      { headers: { "bad name": "s3cret" } },
      { transport: "ws" as "websocket" },
      { from: -1 },
      { from: 1.5 },
      { from: Number.NaN },
      { backoff: { initialMs: -1 } },
      { backoff: { initialMs: Number.NaN } },
      { backoff: { maxMs: 0 } },
      { maxMessageLength: 0 },
      { maxMessageLength: 1.5 },
      { idleTimeoutMs: 0 },
      { idleTimeoutMs: Number.POSITIVE_INFINITY },
      { onEvent: undefined as unknown as () => void },
      { transport: "websocket", WebSocket: "ws" as unknown as typeof WebSocket },
      // Subprotocols WebSocket itself refuses (a SyntaxError on each connection, retried for ever):
      // not tokens (a space, a comma, base64's "=" and "/"), empty, repeated, not strings.
      { transport: "websocket", protocols: "a b" },
      { transport: "websocket", protocols: "tok,en" },
      { transport: "websocket", protocols: "eyJ0b2tlbiI6MX0=" },
      { transport: "websocket", protocols: ["ok", "a/b"] },
      { transport: "websocket", protocols: "" },
      { transport: "websocket", protocols: ["x", "x"] },
      { transport: "websocket", protocols: 42 as unknown as string },
      // Hooks, a backoff or a filter of another type: called or read on every failure, or matching everything.
      { onError: 5 as never },
      { onEnd: "log" as never },
      { backoff: 500 as never },
      { filter: 5 as never },
      { filter: "Order" as never },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        live(fetch, options);
      } catch (error) {
        thrown = error;
      }
      expect({ options, validation: isValidationError(thrown) }).toEqual({ options, validation: true });
      expect(
        JSON.stringify({ message: (thrown as Error).message, issues: (thrown as { issues?: unknown }).issues }),
      ).not.toContain("s3cret");
    }
    // Options that are no object at all: a ValidationError too, not a TypeError, and a URL given instead not echoed.
    for (const options of [undefined, null, "https://live.test/events?token=s3cret", 5]) {
      let thrown: unknown;
      try {
        subscribeLive(options as never);
      } catch (error) {
        thrown = error;
      }
      expect({ options, validation: isValidationError(thrown) }).toEqual({ options, validation: true });
      expect((thrown as Error).message).toBe(
        "Invalid live subscription options: options must be an object: { url, onEvent, ... }",
      );
    }
    expect(requests).toEqual([]);
    // Node 20 has no global WebSocket: without the option, the WebSocket transport is refused there.
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => live(fetch, { transport: "websocket" })).toThrow(/no global WebSocket/);
    } finally {
      global.WebSocket = saved;
    }
  });

  test("a wss: URL stays wss: (it was turned into ws:, in clear)", async () => {
    const urls: string[] = [];
    class Socket extends EventTarget {
      readyState = 0;
      constructor(url: URL) {
        super();
        urls.push(String(url));
        setTimeout(() => this.dispatchEvent(Object.assign(new Event("close"), { code: 1000, reason: "" })), 1);
      }
      close() {}
      send() {}
    }
    const { subscription } = live(server(() => new Response("")).fetch, {
      url: "wss://live.test/events",
      transport: "websocket",
      protocols: ["eventflows.v1", "Bearer.eyJhbGciOiJIUzI1NiJ9.e30.x-_y"],
      WebSocket: Socket as unknown as typeof WebSocket,
    });
    while (urls.length === 0) await sleep(2);
    await subscription.close();
    expect(urls[0]).toBe("wss://live.test/events/ws?from=0");
  });
});

describe("subscribeLive against a misbehaving server", () => {
  test("a connection that handled events and then failed (network error) reconnects at once, resuming", async () => {
    spyOn(Math, "random").mockReturnValue(0.5);
    jest.useFakeTimers({ now: 0 });
    try {
      const { fetch, requests } = instantServer((n) => {
        let sent = false;
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent) return controller.error(new TypeError("terminated"));
              sent = true;
              controller.enqueue(encoder.encode(open(n) + event(n + 1)));
            },
          }),
          { headers: SSE },
        );
      });
      const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
      expect(await runUntil(() => requests.length >= 4)).toBe(true);
      // Requests take no time on this clock: a backoff would have moved it 30 s (half of 60 s) before
      // the second connection; reconnecting at once, only by the three zero-delay waits (a millisecond each at most).
      expect(Date.now()).toBeLessThanOrEqual(3);
      await subscription.close();
      expect(handled.slice(0, 4)).toEqual([1, 2, 3, 4]);
      expect(requests.slice(0, 4).map((r) => new URL(r.url).searchParams.get("from"))).toEqual(["0", "1", "2", "3"]);
      expect(errors.every((e) => e.code === LiveClientErrorCode.Disconnected)).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  test("events the server sends again or out of order are handled once, and a replay is no progress: it backs off", async () => {
    spyOn(Math, "random").mockReturnValue(0.5);
    jest.useFakeTimers({ now: 0 });
    try {
      // It ignores `from`: every connection replays the same events, some twice, then ends.
      const { fetch, requests } = instantServer(
        () => new Response(open(0) + event(1) + event(2) + event(2) + event(1) + event(3), { headers: SSE }),
      );
      const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 1000, maxMs: 1000 } });
      // The first connection handled events: the second comes at once. It handled none: once it has
      // ended (reported), the one timer left is the wait before a third, half of 1000 ms.
      expect(await runUntil(() => errors.length === 2 && jest.getTimerCount() === 1)).toBe(true);
      expect({ requests: requests.length, handled }).toEqual({ requests: 2, handled: [1, 2, 3] });
      jest.advanceTimersByTime(499);
      expect(await settled(() => requests.length > 2)).toBe(false);
      jest.advanceTimersByTime(1);
      expect(await settled(() => requests.length > 2)).toBe(true);
      await subscription.close();
      expect(handled).toEqual([1, 2, 3]);
    } finally {
      jest.useRealTimers();
    }
  });

  test("a stream that ends without the server's end message is a drop reported to onError, not a silent reconnect", async () => {
    // Before: the loop reconnected and onError heard nothing, though the guide lists a drop the
    // server did not report (a proxy closing the response, say) among what goes to it.
    const { fetch, requests } = server((n) => new Response(open(n) + event(n + 1), { headers: SSE }));
    const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 1, maxMs: 1 } });
    const deadline = Date.now() + 10_000;
    while (requests.length < 3 && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(handled.slice(0, 3)).toEqual([1, 2, 3]);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]?.code).toBe(LiveClientErrorCode.Disconnected);
    expect(errors[0]?.message).toBe("The live stream ended without the server's end message");
  });

  test("an event whose globalPosition is no position drops the connection and is reported; the resume point stays the last good one", async () => {
    const bad = (position: unknown) =>
      `data: ${JSON.stringify({ id: "x", type: "E", streamId: "S-1", globalPosition: position, data: {} })}\n\n`;
    const sent = [bad(1.5), bad("7"), bad(-1), bad(2 ** 53)];
    const { fetch, requests } = server((n) =>
      n < sent.length
        ? new Response(open(0) + event(n + 1) + sent[n], { headers: SSE })
        : new Response(open(0), { headers: SSE }),
    );
    const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 1, maxMs: 1 } });
    while (requests.length <= sent.length) await sleep(2);
    await subscription.close();
    expect(handled).toEqual([1, 2, 3, 4]);
    expect(errors.slice(0, sent.length).map((e) => e.code)).toEqual(sent.map(() => LiveClientErrorCode.Disconnected));
    // Each reconnect resumed after the last event handled, never from what the bad event said.
    expect(requests.slice(1, sent.length + 1).map((r) => new URL(r.url).searchParams.get("from"))).toEqual([
      "1",
      "2",
      "3",
      "4",
    ]);
  });

  test("headers given per connection that fetch refuses are reported without them (no cause quoting the token), and retried", async () => {
    const { fetch, requests } = server(() => new Response(open(0), { headers: SSE }));
    const { errors, subscription } = live(fetch, {
      headers: () => ({ authorization: "Bearer s3cret\u0000" }),
      backoff: { initialMs: 1, maxMs: 1 },
    });
    while (errors.length < 2) await sleep(2);
    await subscription.close();
    expect(requests).toEqual([]);
    for (const error of errors) {
      expect(error.code).toBe(LiveClientErrorCode.Disconnected);
      expect(error.cause).toBeUndefined();
      expect(error.message).not.toContain("s3cret");
    }
  });

  test("a headers function that never settles is a drop after idleTimeoutMs, retried; close() does not wait for it", async () => {
    const { fetch, requests } = server(() => new Response(open(0), { headers: SSE }));
    let asked = 0;
    const { errors, subscription } = live(fetch, {
      headers: () => {
        asked += 1;
        return new Promise<never>(() => {});
      },
      idleTimeoutMs: 50,
      backoff: { initialMs: 1, maxMs: 1 },
    });
    // No clock is read: the headers never settle, so close() resolving at all shows it did not wait for them.
    while (asked < 3) await sleep(5);
    await subscription.close();
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(requests).toHaveLength(0);
    expect(errors[0]).toMatchObject({
      code: LiveClientErrorCode.Disconnected,
      message: "The headers function did not settle within idleTimeoutMs (50 ms)",
    });
  });

  test("a network failure is reported as its name, message and code: not the runtime's error, whose path (Bun's) holds the URL and its token", async () => {
    // As Bun's fetch fails: the URL, query and all, on the error's `path`; once at the request, once reading the body.
    const failure = (url: string) =>
      Object.assign(new TypeError("ECONNRESET: closed"), { code: "ECONNRESET", path: url });
    const { fetch } = server((n) => {
      const url = `http://live.test/events/stream?token=s3cret&n=${n}`;
      if (n % 2 === 0) throw Object.assign(new TypeError("fetch failed", { cause: failure(url) }), { path: url });
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(encoder.encode(open(0))),
        pull: (controller) => controller.error(failure(url)),
      });
      return new Response(body, { headers: SSE });
    });
    const { errors, subscription } = live(fetch, {
      url: "http://live.test/events?token=s3cret",
      backoff: { initialMs: 1, maxMs: 1 },
    });
    while (errors.length < 2) await sleep(2);
    await subscription.close();
    for (const error of errors.slice(0, 2)) {
      expect(JSON.stringify(error, ["message", "name", "code", "path", "cause"])).not.toContain("s3cret");
      const causes: unknown[] = [];
      for (let cause = error.cause; cause instanceof Error; cause = cause.cause) causes.push(cause);
      expect(causes.length).toBeGreaterThan(0);
      for (const cause of causes) expect((cause as { path?: string }).path).toBeUndefined();
      expect(causes.some((cause) => (cause as { code?: string }).code === "ECONNRESET")).toBe(true);
    }
  });

  test("an onEvent that throws is reported with its own error as the cause, and the events resume after the last handled", async () => {
    const { fetch, requests } = server(() => new Response(open(0) + event(1) + event(2), { headers: SSE }));
    const own = new Error("the application's own failure");
    let calls = 0;
    const { errors, subscription } = live(fetch, {
      backoff: { initialMs: 1, maxMs: 1 },
      onEvent: (e) => {
        calls += 1;
        if (e.globalPosition === 2 && calls === 2) throw own;
      },
    });
    while (errors.length === 0 || requests.length < 2) await sleep(2);
    await subscription.close();
    expect(errors[0]?.cause).toBe(own);
    expect(errors[0]?.message).toBe("The onEvent handler failed");
    expect(requests[1]?.url).toContain("from=1");
  });

  test("close() in a long backoff wait ends the wait at once: closed resolves, nothing more is requested", async () => {
    spyOn(Math, "random").mockReturnValue(1);
    const { fetch, requests } = server(() => new Response("busy", { status: 503 }));
    const { errors, subscription } = live(fetch, { backoff: { initialMs: 3_600_000, maxMs: 3_600_000 } });
    while (errors.length === 0) await sleep(5);
    // The wait is an hour, past any test timeout: closed resolving at all shows close() ended it.
    await subscription.close();
    await subscription.closed;
    await sleep(20);
    expect(requests.length).toBe(1);
  });

  test("a server that never answers the request is a drop after idleTimeoutMs, and is retried", async () => {
    const { fetch, requests } = server(
      (_, init) =>
        new Promise<Response>((_resolve, reject) =>
          init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
        ),
    );
    const { errors, subscription } = live(fetch, { idleTimeoutMs: 50, backoff: { initialMs: 1, maxMs: 1 } });
    // Each drop takes the 50 ms idle timeout: waited for, not assumed to fit a fixed sleep.
    const deadline = Date.now() + 10_000;
    while ((requests.length < 3 || errors.length < 2) && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(requests.length).toBeGreaterThanOrEqual(3);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e.code === LiveClientErrorCode.Disconnected)).toBe(true);
  });

  test("a 200 that is not an event stream (an app's HTML fallback) is reported, not read as an empty stream", async () => {
    const { fetch } = server(
      () => new Response(`<html><body>data: 1\n\n</body></html>`, { headers: { "content-type": "text/html" } }),
    );
    const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 1, maxMs: 1 } });
    const deadline = Date.now() + 10_000;
    while (errors.length === 0 && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(handled).toEqual([]);
    expect(errors[0]?.code).toBe(LiveClientErrorCode.Disconnected);
    expect(errors[0]?.status).toBe(200);
    expect(errors[0]?.message).toContain("text/event-stream");
  });

  test("a server that never ends a line is dropped past maxMessageLength, reported and retried: memory stays bounded", async () => {
    let pulls = 0;
    const { fetch, requests } = server((n) => {
      if (n > 0) return new Response(`${open(0)}${event(1)}`, { headers: SSE });
      // The first answer: an event, then one line that never ends.
      let first = true;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(encoder.encode(first ? `${open(0)}data: ` : "x".repeat(1000)));
          first = false;
        },
      });
      return new Response(body, { headers: SSE });
    });
    const { handled, errors, subscription } = live(fetch, {
      maxMessageLength: 5000,
      backoff: { initialMs: 1, maxMs: 1 },
    });
    const deadline = Date.now() + 10_000;
    while (handled.length === 0 && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(errors[0]?.code).toBe(LiveClientErrorCode.Disconnected);
    expect(errors[0]?.message).toContain("longer than 5000 characters");
    expect(pulls).toBeLessThanOrEqual(8);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(handled).toEqual([1]);
  });

  test("a 503 or 429 with Retry-After is not asked again sooner (up to backoff.maxMs); without it, the backoff alone", async () => {
    // The client's own clock, faked: each wait is seen to end exactly when it should, whatever the machine's speed.
    jest.useFakeTimers();
    try {
      spyOn(Math, "random").mockReturnValue(0); // the backoff alone would reconnect at once, every time
      const answers = [
        new Response("busy", { status: 503, headers: { "retry-after": "1" } }),
        new Response("slow down", {
          status: 429,
          headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() },
        }),
        new Response("failed", { status: 500 }),
      ];
      let requests = 0;
      const fetch = (async () =>
        answers[requests++] ??
        new Response(`${open(0)}${event(1)}`, { headers: SSE })) as unknown as typeof globalThis.fetch;
      const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 1, maxMs: 1500 } });
      // After each failure the one timer left is the reconnect wait (the idle watch is cleared):
      // a millisecond short of it, nothing is asked; at it, the next request goes out.
      for (const [failures, waitMs] of [
        [1, 1000], // Retry-After: 1 (seconds)
        [2, 1500], // an HTTP date a minute away: maxMs
        [3, 0], // a 500 without one: at once
      ] as const) {
        expect(await settled(() => errors.length === failures && jest.getTimerCount() === 1)).toBe(true);
        expect(requests).toBe(failures);
        if (waitMs > 0) {
          jest.advanceTimersByTime(waitMs - 1);
          expect(await settled(() => requests > failures)).toBe(false);
        }
        jest.advanceTimersByTime(Math.min(waitMs, 1));
        expect(await settled(() => requests > failures)).toBe(true);
      }
      expect(await settled(() => handled.length > 0)).toBe(true);
      expect(handled).toEqual([1]);
      expect(errors.map((e) => e.status)).toEqual([503, 429, 500]);
      await subscription.close();
    } finally {
      jest.useRealTimers();
    }
  });

  test("an onEvent slower than idleTimeoutMs is not the connection going idle, and heartbeats keep a quiet one up: no abort, no drop", async () => {
    // On the fake clock: each onEvent takes 250 ms against an idle timeout of 100 ms, whatever the machine's
    // speed. Before, on a real server and the real clock, heartbeats every 20 ms had to keep a 100 ms idle
    // watch fed: a loaded machine that stalled the event loop past 80 ms let it fire, as it should, and
    // the test failed. An idle watch left armed during onEvent aborts the request at 100 ms.
    jest.useFakeTimers({ now: 0 });
    try {
      const signals: AbortSignal[] = [];
      let requests = 0;
      // The events at once, then a heartbeat every 50 ms; the stream ends only as fetch's would: on abort.
      const fetch = (async (_input: string | URL | Request, init: RequestInit) => {
        requests++;
        const signal = init.signal as AbortSignal;
        signals.push(signal);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode(open(0) + event(1) + event(2) + event(3)));
            const beats = setInterval(() => controller.enqueue(encoder.encode(": heartbeat\n\n")), 50);
            signal.addEventListener("abort", () => {
              clearInterval(beats);
              controller.error(new DOMException("aborted", "AbortError"));
            });
          },
        });
        return new Response(body, { headers: SSE });
      }) as unknown as typeof globalThis.fetch;
      const handled: number[] = [];
      const abortedAfter: boolean[] = [];
      const errors: LiveStreamError[] = [];
      const subscription = subscribeLive({
        url: "http://live.test/events",
        fetch,
        from: 0,
        idleTimeoutMs: 100,
        onEvent: async (e) => {
          await sleep(250);
          handled.push(e.globalPosition as number);
          abortedAfter.push(signals.some((signal) => signal.aborted));
        },
        onError: (error) => void errors.push(error),
      });
      expect(await runUntil(() => handled.length === 3)).toBe(true);
      expect(Date.now()).toBe(750);
      // Then 300 ms of heartbeats only: each one read resets the idle watch, and the connection stays up.
      for (let beat = 0; beat < 6; beat++) {
        jest.advanceTimersByTime(50);
        await settled(() => false);
      }
      expect(signals.some((signal) => signal.aborted)).toBe(false);
      await subscription.close();
      expect(handled).toEqual([1, 2, 3]);
      expect(abortedAfter).toEqual([false, false, false]);
      expect(errors).toEqual([]);
      expect(requests).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});

/**
 * A real HTTP server (Bun.serve on a loopback port) whose answer to each request `respond` gives: what a
 * hostile or broken server sends reaches the client through the runtime's own fetch and body stream.
 */
function realServer(respond: (request: Request, n: number) => Response | Promise<Response>) {
  const requests: { from: string | null }[] = [];
  const listening = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 10,
    fetch: (request) => {
      requests.push({ from: new URL(request.url).searchParams.get("from") });
      return respond(request, requests.length - 1);
    },
  });
  return { url: `http://127.0.0.1:${listening.port}/events`, requests, stop: () => listening.stop(true) };
}

/**
 * Subscribes to `server` with `options`, waits until `done()` holds (at most `timeoutMs`, looking
 * every `pollMs`), then closes the subscription and stops the server, whatever happened.
 */
async function subscribedUntil(
  server: ReturnType<typeof realServer>,
  options: Omit<LiveClientOptions, "url">,
  done: () => boolean,
  timeoutMs: number,
  pollMs = 5,
): Promise<void> {
  const subscription = subscribeLive({ url: server.url, ...options });
  try {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline) await sleep(pollMs);
  } finally {
    await subscription.close();
    server.stop();
  }
}

describe("subscribeLive against a hostile server (a real one, on a loopback port)", () => {
  test("what is no event envelope (null, a number, a list, no globalPosition) is not handed to onEvent: a drop, reported, backed off", async () => {
    spyOn(Math, "random").mockReturnValue(1);
    const junk = ["null", "5", '"text"', "[1,2]", JSON.stringify({ id: "x", type: "E", streamId: "S-1", data: {} })];
    const server = realServer((_, n) =>
      n < junk.length
        ? new Response(`${open(0)}${event(n + 1)}data: ${junk[n]}\n\n${event(n + 2)}`, { headers: SSE })
        : new Response(open(0), { headers: SSE }),
    );
    const handed: unknown[] = [];
    const errors: LiveStreamError[] = [];
    await subscribedUntil(
      server,
      {
        from: 0,
        backoff: { initialMs: 1, maxMs: 5 },
        onEvent: (e) => void handed.push(e),
        onError: (error) => void errors.push(error),
      },
      () => server.requests.length > junk.length,
      3000,
    );
    // Each connection: the good event before the junk is handled, the junk and what follows it are not.
    expect(handed.map((e) => (e as { globalPosition: number }).globalPosition)).toEqual([1, 2, 3, 4, 5]);
    expect(errors.slice(0, junk.length).map((e) => [e.code, e.message])).toEqual([
      ...[0, 1, 2, 3].map(() => [
        LiveClientErrorCode.Disconnected,
        "The live stream sent an event that is not an object",
      ]),
      [
        LiveClientErrorCode.Disconnected,
        "The live stream sent an event whose globalPosition is not a non-negative integer",
      ],
    ]);
    expect(server.requests.slice(1, junk.length + 1).map((r) => r.from)).toEqual(["1", "2", "3", "4", "5"]);
  });

  test("an event that is not JSON is reported as such, without the parser's message (which on Node quotes the data)", async () => {
    const server = realServer(
      () => new Response(`${open(0)}data: {"token":"s3cret-token", oops}\n\n`, { headers: SSE }),
    );
    const errors: LiveStreamError[] = [];
    await subscribedUntil(
      server,
      {
        from: 0,
        backoff: { initialMs: 1, maxMs: 1 },
        onEvent: () => {},
        onError: (error) => void errors.push(error),
      },
      () => errors.length >= 2,
      2000,
    );
    expect(errors[0]).toMatchObject({
      code: LiveClientErrorCode.Disconnected,
      message: "The live stream sent an event that is not JSON",
    });
    expect(errors[0]?.cause).toBeUndefined();
    expect(JSON.stringify(errors.map((e) => [e.message, String(e.cause)]))).not.toContain("s3cret");
  });

  test("malformed SSE: no line end at the end, CR-only lines, an event without data, an id with NUL, a 10 MB line", async () => {
    const big = JSON.stringify({
      id: "e3",
      type: "E",
      streamId: "S-1",
      globalPosition: 3,
      data: { x: "y".repeat(10_000_000) },
    });
    const bodies = [
      // An event without data is no message; an `id:` holding NUL is ignored; the last message has no blank line.
      `${open(0)}event: message\nid: 7\n\nid: a\u0000b\n${event(1)}${event(2).trimEnd()}`,
      // CR-only line ends, then a 10 MB line.
      `${open(0)}${event(2).replaceAll("\n", "\r")}data: ${big}\r\r`,
    ];
    const server = realServer((_, n) => new Response(bodies[n] ?? open(0), { headers: SSE }));
    const handled: number[] = [];
    await subscribedUntil(
      server,
      {
        from: 0,
        backoff: { initialMs: 1, maxMs: 1 },
        onEvent: (e) => void handled.push(e.globalPosition as number),
      },
      () => handled.length >= 3,
      5000,
    );
    // Event 2, unfinished on the first connection, is read again from the second: once.
    expect(handled).toEqual([1, 2, 3]);
    expect(server.requests.slice(0, 2).map((r) => r.from)).toEqual(["0", "1"]);
  }, 10_000);

  test("close() right after subscribing, while the server has not answered, and after the stream began: closed resolves at once", async () => {
    const server = realServer((request) =>
      new URL(request.url).pathname.startsWith("/hang/")
        ? new Promise<Response>(() => {}) // never answers
        : new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(encoder.encode(`${open(0)}${event(1)}`));
              },
            }),
            { headers: SSE, signal: request.signal } as ResponseInit,
          ),
    );
    try {
      // The request goes out as subscribeLive returns (an append made next comes after it), and is aborted.
      const handedBefore: unknown[] = [];
      const hang = server.url.replace("/events", "/hang");
      const before = subscribeLive({ url: hang, onEvent: (e) => void handedBefore.push(e) });
      await before.close();
      await sleep(50);
      expect(handedBefore).toEqual([]);
      const sentBefore = server.requests.length;
      expect(sentBefore).toBeLessThanOrEqual(1);

      // No clock is read: with an idle timeout of an hour, past any test timeout, close() resolving at all
      // shows it aborted the request rather than waiting for the server or the timeout.
      const waiting = subscribeLive({ url: hang, onEvent: () => {}, idleTimeoutMs: 3_600_000 });
      while (server.requests.length === sentBefore) await sleep(5);
      await waiting.close();

      const handled: number[] = [];
      const streaming = subscribeLive({
        url: server.url,
        onEvent: (e) => void handled.push(e.globalPosition as number),
        idleTimeoutMs: 3_600_000, // the stream never ends: likewise
      });
      while (handled.length === 0) await sleep(5);
      await streaming.close();
      expect(streaming.position).toBe(1);
      await sleep(50);
      expect(server.requests.length).toBe(sentBefore + 2);
    } finally {
      server.stop();
    }
  });

  test("cut anywhere, split anywhere, any line ends: every event is handled once, in order, resumed exactly (property)", async () => {
    const total = 8;
    let plan = { cuts: [] as number[], splits: [] as number[], eol: "\n", abrupt: false };
    const server = realServer((request, n) => {
      const from = Number(new URL(request.url).searchParams.get("from") ?? 0);
      let text = `event: open${plan.eol}data: {"position":${from}}${plan.eol}${plan.eol}`;
      for (let i = from + 1; i <= total; i++) text += event(i).replaceAll("\n", plan.eol);
      const bytes = encoder.encode(text);
      // The n-th connection is cut at a share of its bytes (past the plan: sent whole), and split into chunks.
      const cut = n < plan.cuts.length ? Math.floor((plan.cuts[n] as number) * bytes.length) : bytes.length;
      const pieces: Uint8Array[] = [];
      let at = 0;
      for (const size of plan.splits) {
        if (at >= cut) break;
        pieces.push(bytes.slice(at, Math.min(cut, at + 1 + size)));
        at = Math.min(cut, at + 1 + size);
      }
      if (at < cut) pieces.push(bytes.slice(at, cut));
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            const piece = pieces.shift();
            if (piece !== undefined) {
              controller.enqueue(piece);
              await sleep(0);
            } else if (n < plan.cuts.length && plan.abrupt) controller.error();
            else controller.close();
          },
        }),
        { headers: SSE },
      );
    });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
          fc.array(fc.nat(60), { maxLength: 24 }),
          fc.constantFrom("\n", "\r", "\r\n"),
          fc.boolean(),
          async (cuts, splits, eol, abrupt) => {
            plan = { cuts, splits, eol, abrupt };
            server.requests.length = 0;
            const handled: number[] = [];
            const subscription = subscribeLive({
              url: server.url,
              from: 0,
              backoff: { initialMs: 1, maxMs: 2 },
              onEvent: (e) => void handled.push(e.globalPosition as number),
            });
            const deadline = Date.now() + 10_000;
            while (handled.length < total && Date.now() < deadline) await sleep(2);
            await sleep(5);
            await subscription.close();
            expect(handled).toEqual(Array.from({ length: total }, (_, i) => i + 1));
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      server.stop();
    }
  }, 60_000);
});
