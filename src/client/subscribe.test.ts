/**
 * subscribeLive against servers that misbehave (a `fetch` standing in for them, no network) and
 * against options it could only fail on again and again.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
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

/** A `fetch` whose n-th request (from 0) `respond` answers; it records when each came. */
function server(respond: (n: number, init: RequestInit) => Response | Promise<Response>) {
  const requests: { at: number; url: string }[] = [];
  const fetch = (async (input: string | URL | Request, init: RequestInit) => {
    // A turn of the event loop, as a network would take: a client that reconnects at once cannot starve timers.
    await new Promise((resolve) => setTimeout(resolve, 1));
    requests.push({ at: Date.now(), url: String(input) });
    return respond(requests.length - 1, init);
  }) as unknown as typeof globalThis.fetch;
  return { fetch, requests };
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
    const { fetch, requests } = server((n) => {
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
    // A backoff would wait 30 s (half of 60 s): reconnecting at once is 4 connections well within a second.
    const { handled, errors, subscription } = live(fetch, { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    const deadline = Date.now() + 1000;
    while (requests.length < 4 && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(requests.length).toBeGreaterThanOrEqual(4);
    expect(handled.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(requests.slice(0, 4).map((r) => new URL(r.url).searchParams.get("from"))).toEqual(["0", "1", "2", "3"]);
    expect(errors.every((e) => e.code === LiveClientErrorCode.Disconnected)).toBe(true);
  });

  test("events the server sends again or out of order are handled once, and a replay is no progress: it backs off", async () => {
    spyOn(Math, "random").mockReturnValue(0.5);
    // It ignores `from`: every connection replays the same events, some twice, then ends.
    const { fetch, requests } = server(
      () => new Response(open(0) + event(1) + event(2) + event(2) + event(1) + event(3), { headers: SSE }),
    );
    const { handled, subscription } = live(fetch, { backoff: { initialMs: 1000, maxMs: 1000 } });
    await sleep(300);
    await subscription.close();
    expect(handled).toEqual([1, 2, 3]);
    // The first connection handled events: the second comes at once; it handled none: a 500 ms wait.
    expect(requests.length).toBe(2);
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
    const started = Date.now();
    await subscription.close();
    await subscription.closed;
    expect(Date.now() - started).toBeLessThan(1000);
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
    await sleep(400);
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
    const deadline = Date.now() + 2000;
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
    const deadline = Date.now() + 2000;
    while (handled.length === 0 && Date.now() < deadline) await sleep(5);
    await subscription.close();
    expect(errors[0]?.code).toBe(LiveClientErrorCode.Disconnected);
    expect(errors[0]?.message).toContain("longer than 5000 characters");
    expect(pulls).toBeLessThanOrEqual(8);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(handled).toEqual([1]);
  });
});
