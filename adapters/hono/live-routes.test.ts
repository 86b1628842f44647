import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as tcpConnect } from "node:net";
import fc from "fast-check";
import { Hono } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";
import { parseSse, type SseMessage, subscribeLive } from "../../src/client/index.js";
import {
  type EventEnvelope,
  InMemoryEventStore,
  jsonLogger,
  type LiveFilter,
  LiveHub,
  matchesFilter,
  setLogger,
  ValidationError,
} from "../../src/index.js";
import { ForbiddenError, UnauthorizedError } from "../http/index.js";
import { liveRoutes } from "./live-routes.js";

// A real Bun server, real sockets (fetch for SSE, Bun's WebSocket), the in-memory store behind a LiveHub.
const store = new InMemoryEventStore();
const hub = new LiveHub({ store, bufferSize: 2000, pollIntervalMs: 50 });
const app = new Hono();
app.route(
  "/api",
  liveRoutes({
    hub,
    upgradeWebSocket,
    heartbeatMs: 200,
    auth: ({ request }) => {
      const token = request.headers.get("authorization") ?? new URL(request.url).searchParams.get("token");
      if (token === null) throw new UnauthorizedError();
      // A hook that returns its refusal instead of throwing it: refused all the same, never a principal.
      if (token === "Bearer mistaken") return new UnauthorizedError() as never;
      return { userId: token.replace(/^Bearer /, "") };
    },
    // "guest" may not subscribe to Secret; "limited" sees only events whose data.public is true.
    authorize: (principal, { filter }) => {
      if (principal?.userId === "guest" && (filter.categories ?? []).includes("Secret")) return false;
      if (principal?.userId === "banned") throw new ForbiddenError("banned");
      if (principal?.userId === "limited") return (event) => (event.data as { public?: boolean }).public === true;
      return true;
    },
  }),
);
let server: ReturnType<typeof Bun.serve>;
let base: string;
beforeAll(() => {
  server = Bun.serve({ port: 0, fetch: app.fetch, websocket, idleTimeout: 30 });
  base = `http://127.0.0.1:${server.port}/api/events`;
});
afterAll(async () => {
  await hub.close();
  server.stop(true);
});

const CATEGORIES = ["Order", "Cart", "Secret"] as const;
const TYPES = ["Opened", "Changed", "Closed"] as const;

/** Appends `count` events over streams of three categories, in appends of 1-5, and returns them as stored. */
async function appendEvents(count: number): Promise<EventEnvelope[]> {
  const stored: EventEnvelope[] = [];
  let i = 0;
  while (i < count) {
    const size = Math.min(count - i, 1 + (i % 5));
    const category = CATEGORIES[i % 3] as string;
    const streamId = `${category}-${i % 7}`;
    const events = Array.from({ length: size }, (_, k) => ({
      type: TYPES[(i + k) % 3] as string,
      data: { n: i + k, public: (i + k) % 2 === 0 },
    }));
    const result = await store.appendToStream(streamId, events);
    stored.push(...result.events);
    i += size;
  }
  return stored;
}

const FILTERS: readonly LiveFilter[] = [
  {},
  { categories: ["Order"] },
  { categories: ["Cart", "Secret"] },
  { types: ["Opened"] },
  { streams: ["Order-0", "Cart-1"] },
  { categories: ["Order"], types: ["Changed", "Closed"] },
];

interface Received {
  readonly events: EventEnvelope[];
  readonly ends: string[];
  close(): Promise<void>;
}

function subscribe(
  transport: "sse" | "websocket",
  filter: LiveFilter,
  from: number,
  user = "alice",
  onEvent?: (event: EventEnvelope) => void,
): Received {
  const events: EventEnvelope[] = [];
  const ends: string[] = [];
  const subscription = subscribeLive({
    url: transport === "sse" ? base : `${base}?token=${user}`,
    transport,
    filter,
    from,
    headers: { authorization: `Bearer ${user}` },
    backoff: { initialMs: 20, maxMs: 100 },
    onEvent: (event) => {
      events.push(event);
      onEvent?.(event);
    },
    onEnd: (reason) => ends.push(reason),
  });
  return { events, ends, close: () => subscription.close() };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const expectedFor = (all: readonly EventEnvelope[], filter: LiveFilter) => all.filter((e) => matchesFilter(filter, e));
const ids = (events: readonly EventEnvelope[]) => events.map((e) => e.id);

/** Appends 40 events in 4 rounds while a client follows, then expects it saw those its filter matches, each once, in order. */
async function expectEachOnceWhileAppending(events: readonly EventEnvelope[], filter: LiveFilter): Promise<void> {
  const appended: EventEnvelope[] = [];
  for (let i = 0; i < 4; i++) {
    appended.push(...(await appendEvents(10)));
    await Bun.sleep(5);
  }
  const expected = expectedFor(appended, filter);
  await until(() => events.length >= expected.length, 5000, "every event");
  await Bun.sleep(20);
  expect(ids(events)).toEqual(ids(expected));
}

describe("live routes on Bun (real server and sockets)", () => {
  test("1,000 events reach 50 SSE and 50 WebSocket clients, each exactly its filtered events in order", async () => {
    const from = await store.getLastGlobalPosition();
    const clients = Array.from({ length: 100 }, (_, i) =>
      subscribe(i % 2 === 0 ? "sse" : "websocket", FILTERS[i % FILTERS.length] as LiveFilter, from),
    );
    try {
      await until(() => hub.size === 100, 10_000, "100 connections");
      const appended = await appendEvents(1000);
      for (const [i, client] of clients.entries()) {
        const expected = expectedFor(appended, FILTERS[i % FILTERS.length] as LiveFilter);
        await until(() => client.events.length >= expected.length, 30_000, `client ${i}'s events`);
        expect(ids(client.events)).toEqual(ids(expected));
      }
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
    await until(() => hub.size === 0, 5000, "teardown of every connection");
  }, 60_000);

  test("a client that disconnects and resumes from its last position loses and repeats nothing (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("sse" as const, "websocket" as const),
        fc.nat({ max: FILTERS.length - 1 }),
        fc.integer({ min: 0, max: 39 }),
        async (transport, f, cut) => {
          const filter = FILTERS[f] as LiveFilter;
          const start = await store.getLastGlobalPosition();
          const appended = await appendEvents(40);
          const expected = expectedFor(appended, filter);
          const wanted = Math.min(cut, expected.length);
          // First connection: take `wanted` events, then drop the connection.
          const first = subscribe(transport, filter, start);
          await until(() => first.events.length >= wanted, 5000, "the first part");
          await first.close();
          const seen = first.events.slice(0, Math.max(wanted, first.events.length));
          const resumeAt = seen.at(-1)?.globalPosition ?? start;
          // More events while disconnected, then resume after the last one seen.
          const later = await appendEvents(10);
          const all = [...expected, ...expectedFor(later, filter)];
          const second = subscribe(transport, filter, resumeAt);
          try {
            await until(() => seen.length + second.events.length >= all.length, 5000, "the resumed part");
            await Bun.sleep(20);
            expect(ids([...seen, ...second.events])).toEqual(ids(all));
          } finally {
            await second.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 60_000);

  // A network that cuts each of the first responses after some bytes (inside an event or between
  // two), by an error or a clean end, while events are appended: the client reconnects by itself.
  test("a client whose connections are cut at any byte gets each event after its resume point once, in order (property)", async () => {
    const cutting = (cuts: readonly { at: number; error: boolean }[]): typeof fetch => {
      let n = 0;
      return (async (input: string | URL | Request, init?: RequestInit) => {
        const response = await fetch(input, init);
        const cut = cuts[n++];
        if (cut === undefined || response.body === null) return response;
        const reader = response.body.getReader();
        let passed = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) return controller.close();
            if (passed + value.length < cut.at) {
              passed += value.length;
              return controller.enqueue(value);
            }
            controller.enqueue(value.subarray(0, cut.at - passed));
            await reader.cancel();
            if (cut.error) controller.error(new TypeError("terminated"));
            else controller.close();
          },
          cancel: (reason) => reader.cancel(reason),
        });
        return new Response(body, { status: response.status, headers: response.headers });
      }) as typeof fetch;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: FILTERS.length - 1 }),
        fc.array(fc.record({ at: fc.integer({ min: 1, max: 4000 }), error: fc.boolean() }), { maxLength: 5 }),
        async (f, cuts) => {
          const filter = FILTERS[f] as LiveFilter;
          const start = await store.getLastGlobalPosition();
          const events: EventEnvelope[] = [];
          const subscription = subscribeLive({
            url: base,
            filter,
            from: start,
            headers: { authorization: "Bearer alice" },
            backoff: { initialMs: 5, maxMs: 20 },
            fetch: cutting(cuts),
            onEvent: (event) => void events.push(event),
          });
          try {
            await expectEachOnceWhileAppending(events, filter);
          } finally {
            await subscription.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  }, 60_000);

  // The same over WebSocket: the first sockets close themselves after some messages (the client
  // takes a close it did not ask for as a drop, whatever its code).
  test("a WebSocket client whose sockets close after any message gets each event after its resume point once, in order (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: FILTERS.length - 1 }),
        fc.array(fc.record({ after: fc.integer({ min: 1, max: 12 }), code: fc.constantFrom(1000, 3000, 4000) }), {
          maxLength: 5,
        }),
        async (f, cuts) => {
          const filter = FILTERS[f] as LiveFilter;
          const start = await store.getLastGlobalPosition();
          let opened = 0;
          class Cutting extends WebSocket {
            constructor(url: string | URL, protocols?: string | string[]) {
              super(url, protocols);
              const cut = cuts[opened++];
              if (cut === undefined) return;
              let messages = 0;
              this.addEventListener("message", () => {
                if (++messages === cut.after) this.close(cut.code, "cut");
              });
            }
          }
          const events: EventEnvelope[] = [];
          const subscription = subscribeLive({
            url: `${base}?token=alice`,
            transport: "websocket",
            WebSocket: Cutting,
            filter,
            from: start,
            backoff: { initialMs: 5, maxMs: 20 },
            onEvent: (event) => void events.push(event),
          });
          try {
            await expectEachOnceWhileAppending(events, filter);
          } finally {
            await subscription.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  }, 60_000);

  test("SSE resumes from Last-Event-ID, as EventSource sends it on reconnect", async () => {
    const start = await store.getLastGlobalPosition();
    const appended = await appendEvents(5);
    const resumeAfter = appended[1]?.globalPosition as number;
    const controller = new AbortController();
    const response = await fetch(`${base}/stream?from=${start}`, {
      headers: { authorization: "Bearer alice", "last-event-id": String(resumeAfter) },
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    // The open message (its id the resume point, resumeAfter), then the three events after it.
    while ((text.match(/^data: /gm) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const positions = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(positions).toEqual([resumeAfter, ...appended.slice(2).map((e) => e.globalPosition as number)]);
  });

  test("a raw EventSource dropped before its first event resumes from where its stream started: the open message carries the id", async () => {
    // As a browser's EventSource: no `from`, and on reconnect the last `id` it saw as Last-Event-ID.
    const first = new AbortController();
    const response = await fetch(`${base}/stream`, {
      headers: { authorization: "Bearer alice" },
      signal: first.signal,
    });
    const messages = parseSse(response.body as ReadableStream<Uint8Array>);
    const open = (await messages.next()).value as SseMessage;
    expect(open.event).toBe("open");
    const position = (JSON.parse(open.data) as { position: number }).position;
    expect(open.id).toBe(String(position));
    first.abort();
    await messages.return();
    // Appended while it is away: a reconnect without Last-Event-ID would start after them.
    const missed = await appendEvents(3);
    const again = new AbortController();
    const resumed = await fetch(`${base}/stream`, {
      headers: { authorization: "Bearer alice", "last-event-id": open.id as string },
      signal: again.signal,
    });
    const received: EventEnvelope[] = [];
    for await (const message of parseSse(resumed.body as ReadableStream<Uint8Array>)) {
      if (message.event === "message") received.push(JSON.parse(message.data) as EventEnvelope);
      if (received.length === missed.length) break;
    }
    again.abort();
    expect(ids(received)).toEqual(ids(missed));
  });

  test("per-event authorization withholds what the principal may not see", async () => {
    const from = await store.getLastGlobalPosition();
    const limited = subscribe("sse", {}, from, "limited");
    try {
      const appended = await appendEvents(30);
      const expected = appended.filter((e) => (e.data as { public: boolean }).public);
      await until(() => limited.events.length >= expected.length, 5000, "the public events");
      await Bun.sleep(50);
      expect(ids(limited.events)).toEqual(ids(expected));
    } finally {
      await limited.close();
    }
  });

  test("unauthorized subscriptions get 401, forbidden ones 403, a bad position 400 (SSE and WebSocket)", async () => {
    const sse = (query: string, authorization?: string) =>
      fetch(`${base}/stream${query}`, { headers: authorization === undefined ? {} : { authorization } });
    const noCredentials = await sse("");
    expect(noCredentials.status).toBe(401);
    expect(noCredentials.headers.get("www-authenticate")).toBe("Bearer");
    expect((await noCredentials.json()).code).toBe("UNAUTHORIZED");
    expect((await sse("?category=Secret", "Bearer guest")).status).toBe(403);
    expect((await sse("", "Bearer banned")).status).toBe(403);
    expect((await sse("", "Bearer mistaken")).status).toBe(403);
    expect((await sse("?from=-1", "Bearer alice")).status).toBe(400);
    // Past 2^53 (within the sixteen digits a position may have): 400 for GET and HEAD alike, on `from`.
    for (const from of ["9007199254740992", "9999999999999999"]) {
      const refused = await sse(`?from=${from}`, "Bearer alice");
      expect([from, refused.status]).toEqual([from, 400]);
      expect((await refused.json()).issues).toEqual([{ path: ["from"], message: expect.stringContaining("from") }]);
      const head = await fetch(`${base}/stream?from=${from}`, {
        method: "HEAD",
        headers: { authorization: "Bearer alice" },
      });
      expect([from, head.status]).toEqual([from, 400]);
    }
    // Given twice it names no one position (a proxy may read the other one): 400, even beside Last-Event-ID.
    for (const query of ["?from=5&from=0", "?from=1&from=1", "?from=&from=3"]) {
      const repeated = await sse(query, "Bearer alice");
      expect([query, repeated.status]).toEqual([query, 400]);
      expect((await repeated.json()).issues).toEqual([{ path: ["from"], message: expect.stringContaining("from") }]);
    }
    const withHeader = await fetch(`${base}/stream?from=5&from=0`, {
      headers: { authorization: "Bearer alice", "last-event-id": "3" },
    });
    expect(withHeader.status).toBe(400);
    await withHeader.body?.cancel();
    const largest = await sse("?from=9007199254740991", "Bearer alice");
    expect(largest.status).toBe(200);
    await largest.body?.cancel();
    const ws = (query: string) =>
      fetch(`${base}/ws${query}`, { headers: { upgrade: "websocket", connection: "upgrade" } });
    expect((await ws("")).status).toBe(401);
    expect((await ws("?token=guest&category=Secret")).status).toBe(403);
    expect(hub.size).toBe(0);
  });

  // A browser sends its cookies with a WebSocket handshake to any site, and CORS does not apply: a page of
  // another origin read the events of whoever visited it (seen in Chromium against the packed package).
  test("a WebSocket upgrade from a page of another origin is 403 before the auth hook; the server's own, a listed one and none are served", async () => {
    const open = (url: string, origin?: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url, { headers: origin === undefined ? {} : { origin } } as never);
        socket.onmessage = (message) => {
          resolve(JSON.parse(String(message.data)).kind);
          socket.close();
        };
        socket.onerror = () => resolve("refused");
      });
    const ws = `${base.replace("http:", "ws:")}/ws?token=alice`;
    expect(await open(ws, "http://evil.example")).toBe("refused");
    expect(await open(ws, "null")).toBe("refused");
    const refused = await fetch(`${base}/ws?token=alice`, {
      headers: { upgrade: "websocket", connection: "upgrade", origin: "https://evil.example" },
    });
    expect([refused.status, refused.headers.get("content-type")]).toEqual([403, "application/problem+json"]);
    expect(await refused.json()).toMatchObject({ code: "FORBIDDEN" });
    // The page's own host (its scheme aside: a proxy may end TLS), and clients that name no page.
    expect(await open(ws, `https://127.0.0.1:${server.port}`)).toBe("open");
    expect(await open(ws)).toBe("open");
    const listed = new Hono().route(
      "/api",
      liveRoutes({ hub, upgradeWebSocket, origins: ["https://app.example"], auth: () => true }),
    );
    const own = Bun.serve({ port: 0, fetch: listed.fetch, websocket });
    try {
      const url = `ws://127.0.0.1:${own.port}/api/events/ws`;
      expect(await open(url, "https://app.example")).toBe("open");
      expect(await open(url, "https://app.example.evil")).toBe("refused");
    } finally {
      own.stop(true);
    }
    await until(() => hub.size === 0, 2000, "no connection left");
  });

  // URLSearchParams reads them as U+FFFD: `%ED%A0%80` (an encoded lone surrogate, which a filter may
  // not hold) named a category of U+FFFD, and the client got a 200 stream of nothing.
  test("a filter or position with percent-escapes of bytes that are not UTF-8 is 400 naming the parameter (SSE and WebSocket)", async () => {
    const because = "the value has percent-escapes of bytes that are not UTF-8";
    for (const [query, name] of [
      ["category=%ED%A0%80", "category"],
      ["stream=Cart-%FF", "stream"],
      ["type=Added&type=%C0%AF", "type"],
      ["category=Cart&stream=%E2%82", "stream"],
      ["from=%FF", "from"],
    ] as const) {
      const sse = await fetch(`${base}/stream?${query}`, { headers: { authorization: "Bearer alice" } });
      expect([query, sse.status, sse.headers.get("content-type")]).toEqual([query, 400, "application/problem+json"]);
      expect((await sse.json()).issues).toEqual([{ path: [name], message: because }]);
      const ws = await fetch(`${base}/ws?token=alice&${query}`, {
        headers: { upgrade: "websocket", connection: "upgrade" },
      });
      expect([query, ws.status]).toEqual([query, 400]);
      expect((await ws.json()).issues).toEqual([{ path: [name], message: because }]);
    }
    expect(hub.size).toBe(0);
    // A parameter the routes do not read is not theirs to refuse; well-formed UTF-8 is a filter like any.
    for (const query of ["category=Cart&utm=%E9t%E9", "category=Caf%C3%A9"]) {
      const sse = await fetch(`${base}/stream?${query}`, { headers: { authorization: "Bearer alice" } });
      expect([query, sse.status]).toEqual([query, 200]);
      await sse.body?.cancel();
    }
  });

  test("a WebSocket upgrade Bun cannot complete (no Sec-WebSocket-Key, or a malformed one) is a 400 problem, not the app's 404 page; nothing stays connected", async () => {
    // (A Sec-WebSocket-Version other than 13 Bun answers itself, before the routes: 426 naming 13.)
    for (const headers of ["Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13"]) {
      const answer = await new Promise<string>((resolve) => {
        const socket = tcpConnect(server.port ?? 0, "127.0.0.1");
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString("latin1");
        });
        socket.on("error", () => resolve(text));
        socket.on("close", () => resolve(text));
        socket.write(
          `GET /api/events/ws?token=alice HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n\r\n`,
        );
        setTimeout(() => socket.destroy(), 300);
      });
      const [head = "", body = ""] = answer.split("\r\n\r\n");
      expect([headers, head.split("\r\n")[0]]).toEqual([headers, "HTTP/1.1 400 Bad Request"]);
      expect(head.toLowerCase()).toContain("content-type: application/problem+json");
      expect(JSON.parse(body)).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    }
    await until(() => hub.size === 0, 2000, "no connection left");
  });

  test("clients that connect and vanish (SSE and WebSocket, at once or after the first bytes, without a close) leave nothing in the hub", async () => {
    const key = btoa("0123456789abcdef");
    const requests = [
      "GET /api/events/stream?token=alice HTTP/1.1\r\nHost: x\r\n\r\n",
      `GET /api/events/ws?token=alice HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ];
    const vanish = (request: string, afterMs: number) =>
      new Promise<void>((resolve) => {
        const socket = tcpConnect(server.port ?? 0, "127.0.0.1");
        socket.on("error", () => {});
        socket.write(request);
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, afterMs);
      });
    await Promise.all(Array.from({ length: 40 }, (_, i) => vanish(requests[i % 2] as string, i % 4 < 2 ? 0 : 30)));
    await until(() => hub.size === 0, 3000, "every vanished client's teardown");
    // The server still serves: a client that stays gets the next event.
    const stays = subscribe("sse", { streams: ["Vanish-1"] }, 0);
    try {
      await store.appendToStream("Vanish-1", [{ type: "Opened", data: {} }]);
      await until(() => stays.events.length === 1, 3000, "the event");
    } finally {
      await stays.close();
    }
  });

  test("a WebSocket client sending garbage (text, binary) is ignored and still gets its events; one past the server's maxPayloadLength is closed 1009 and leaves the hub", async () => {
    const framesHub = new LiveHub({ store });
    const framesApp = new Hono().route("/api", liveRoutes({ hub: framesHub, upgradeWebSocket, heartbeatMs: 1000 }));
    const framesServer = Bun.serve({
      port: 0,
      fetch: framesApp.fetch,
      websocket: { ...websocket, maxPayloadLength: 1024 },
    });
    try {
      const socket = new WebSocket(`ws://127.0.0.1:${framesServer.port}/api/events/ws?stream=Frames-1`);
      const kinds: string[] = [];
      let closed: { code: number; reason: string } | undefined;
      socket.onmessage = (message) => kinds.push(JSON.parse(String(message.data)).kind);
      socket.onclose = (event) => {
        closed = { code: event.code, reason: event.reason };
      };
      await new Promise((resolve) => {
        socket.onopen = resolve;
      });
      for (let i = 0; i < 50; i++) socket.send(`{"kind":"garbage ${i}"`);
      socket.send(new Uint8Array([0, 255, 0]));
      await store.appendToStream("Frames-1", [{ type: "Opened", data: {} }]);
      await until(() => kinds.includes("event"), 2000, "the event after the garbage");
      expect(closed).toBeUndefined();
      expect(framesHub.size).toBe(1);
      socket.send("x".repeat(2048));
      await until(() => closed !== undefined, 2000, "the close");
      expect(closed?.code).toBe(1009);
      await until(() => framesHub.size === 0, 2000, "the hub to free the connection");
    } finally {
      framesServer.stop(true);
      await framesHub.close();
    }
  });

  test("the client stops for good when the server refuses it (401), and says why", async () => {
    const errors: { code: string; status?: number }[] = [];
    const subscription = subscribeLive({ url: base, onEvent: () => {}, onError: (error) => errors.push(error) });
    await subscription.closed;
    expect(errors).toEqual([expect.objectContaining({ code: "LIVE_SUBSCRIPTION_REFUSED", status: 401 })]);
  });

  test("a client dropped by the server (hub shut down) is told the reason and reconnects, resuming", async () => {
    const from = await store.getLastGlobalPosition();
    let current = new LiveHub({ store });
    const routes = liveRoutes({ hub: () => current });
    const own = Bun.serve({ port: 0, fetch: routes.fetch });
    const events: EventEnvelope[] = [];
    const ends: string[] = [];
    const subscription = subscribeLive({
      url: `http://127.0.0.1:${own.port}/events`,
      from,
      backoff: { initialMs: 10, maxMs: 50 },
      onEvent: (event) => void events.push(event),
      onEnd: (reason) => void ends.push(reason),
    });
    try {
      const first = await appendEvents(5);
      await until(() => events.length === 5, 5000, "the first events");
      const old = current;
      current = new LiveHub({ store });
      await old.close();
      const second = await appendEvents(5);
      await until(() => events.length === 10, 5000, "the events after the reconnect");
      expect(ends).toEqual(["shutdown"]);
      expect(ids(events)).toEqual(ids([...first, ...second]));
    } finally {
      await subscription.close();
      await current.close();
      own.stop(true);
    }
  });

  test("the server failing to read the store reaches the same callback on both transports: onEnd('error')", async () => {
    // A store whose catch-up read fails: the SSE body ends with `end` error, the WebSocket closes 1011 error.
    const failing = new InMemoryEventStore();
    await failing.appendToStream("Order-1", [{ type: "Opened", data: {} }]);
    failing.readAll = () => {
      throw new Error("the store is down");
    };
    const failingHub = new LiveHub({ store: failing });
    setLogger({ ...jsonLogger(), error: () => {} }); // the failures are expected
    const routes = new Hono().route("/", liveRoutes({ hub: failingHub, upgradeWebSocket }));
    const own = Bun.serve({ port: 0, fetch: routes.fetch, websocket });
    try {
      for (const transport of ["sse", "websocket"] as const) {
        const ends: string[] = [];
        const errors: string[] = [];
        const subscription = subscribeLive({
          url: `http://127.0.0.1:${own.port}/events`,
          transport,
          from: 0,
          backoff: { initialMs: 1000, maxMs: 1000 },
          onEvent: () => {},
          onEnd: (reason) => void ends.push(reason),
          onError: (error) => void errors.push(error.message),
        });
        try {
          await until(() => ends.length + errors.length > 0, 5000, `the ${transport} failure`);
          // Every end is this one failure: the client reconnects after a backoff with full jitter, which
          // may be a few milliseconds, so the next attempt's end may already be there too.
          expect({ transport, ends: [...new Set(ends)], errors }).toEqual({ transport, ends: ["error"], errors: [] });
        } finally {
          await subscription.close();
        }
      }
    } finally {
      setLogger(undefined);
      await failingHub.close();
      own.stop(true);
    }
  });

  test("a closed hub answers 503 with Retry-After: a client it dropped with `shutdown` retries instead of stopping", async () => {
    const from = await store.getLastGlobalPosition();
    let current = new LiveHub({ store });
    const routes = liveRoutes({ hub: () => current });
    const own = Bun.serve({ port: 0, fetch: routes.fetch });
    const events: EventEnvelope[] = [];
    const statuses: (number | undefined)[] = [];
    const subscription = subscribeLive({
      url: `http://127.0.0.1:${own.port}/events`,
      from,
      backoff: { initialMs: 10, maxMs: 50 },
      onEvent: (event) => void events.push(event),
      onError: (error) => void statuses.push(error.status),
    });
    let stopped = false;
    void subscription.closed.then(() => {
      stopped = true;
    });
    try {
      const first = await appendEvents(3);
      await until(() => events.length === 3, 5000, "the first events");
      const old = current;
      await old.close(); // still the hub the routes serve: the reconnect meets it closed
      await until(() => statuses.length >= 2, 5000, "reconnects refused by the closed hub");
      expect(stopped).toBe(false);
      expect(statuses.every((status) => status === 503)).toBe(true);
      const closedAnswer = await routes.request("/events/stream");
      expect(closedAnswer.status).toBe(503);
      expect(closedAnswer.headers.get("retry-after")).toBe("1");
      expect((await closedAnswer.json()).code).toBe("LIVE_HUB_CLOSED");
      current = new LiveHub({ store });
      const second = await appendEvents(3);
      await until(() => events.length === 6, 5000, "the events after the new hub");
      expect(ids(events)).toEqual(ids([...first, ...second]));
    } finally {
      await subscription.close();
      await current.close();
      own.stop(true);
    }
  });

  test("a client without `from` dropped before its first event resumes from where its stream started (the open message)", async () => {
    let current = new LiveHub({ store });
    const routes = liveRoutes({ hub: () => current });
    const own = Bun.serve({ port: 0, fetch: routes.fetch });
    const events: EventEnvelope[] = [];
    const subscription = subscribeLive({
      url: `http://127.0.0.1:${own.port}/events`,
      backoff: { initialMs: 200, maxMs: 200 },
      onEvent: (event) => void events.push(event),
    });
    try {
      await until(() => current.size === 1, 5000, "the subscription");
      await Bun.sleep(20); // the open message is in
      const old = current;
      current = new LiveHub({ store });
      await old.close();
      // Appended while the client waits to reconnect: a reconnect "from now" would miss them.
      const missed = await appendEvents(3);
      await until(() => events.length === 3, 5000, "the events appended while disconnected");
      expect(ids(events)).toEqual(ids(missed));
    } finally {
      await subscription.close();
      await current.close();
      own.stop(true);
    }
  });

  test("a slow SSE client (its socket not read) is dropped with a final `end` event while others keep up", async () => {
    const slowHub = new LiveHub({ store, bufferSize: 8, pollIntervalMs: 50 });
    const slowApp = liveRoutes({ hub: slowHub, heartbeatMs: 1000 });
    const slowServer = Bun.serve({ port: 0, fetch: slowApp.fetch, idleTimeout: 30 });
    // A raw socket that sends the request and stops reading: the kernel buffers fill, then the server's.
    const socket = tcpConnect(slowServer.port as number, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    await until(() => received.includes("event: open"), 5000, "the slow client's subscription");
    socket.pause();
    const fast = subscribeLive({
      url: `http://127.0.0.1:${slowServer.port}/events`,
      from: await store.getLastGlobalPosition(),
      onEvent: () => {},
    });
    try {
      await until(() => slowHub.size === 2, 5000, "both connections");
      // 64 KiB events until the slow connection is dropped: its socket buffers fill, then its 8-event buffer.
      const big = "x".repeat(64 * 1024);
      let appended = 0;
      while (slowHub.size === 2 && appended < 2000) {
        await store.appendToStream(`Big-${appended}`, [{ type: "Big", data: { big } }]);
        appended += 1;
        if (appended % 20 === 0) await Bun.sleep(5);
      }
      expect(slowHub.size).toBe(1); // only the fast client is left
      const last = await store.getLastGlobalPosition();
      await until(() => (fast.position ?? 0) >= last, 10_000, "the fast client to keep up");
      // The slow client reads again: its stream ends with the reason.
      socket.resume();
      await until(() => received.includes("event: end"), 10_000, "the end event");
      expect(received).toContain('event: end\ndata: {"reason":"slow-consumer"}');
    } finally {
      socket.destroy();
      await fast.close();
      await slowHub.close();
      slowServer.stop(true);
    }
  }, 60_000);

  test("Bun dropping WebSocket messages past its backpressureLimit ends the client with 4008 slow-consumer, without a gap", async () => {
    const dropHub = new LiveHub({ store, bufferSize: 8, pollIntervalMs: 50 });
    const dropApp = new Hono().route("/", liveRoutes({ hub: dropHub, upgradeWebSocket, heartbeatMs: 1000 }));
    // Below the pump's maxBufferedBytes (1 MiB): Bun drops what is sent past it, and its send says so.
    const dropServer = Bun.serve({
      port: 0,
      fetch: dropApp.fetch,
      websocket: { ...websocket, backpressureLimit: 64 * 1024 },
      idleTimeout: 30,
    });
    const socket = tcpConnect(dropServer.port as number, "127.0.0.1");
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      "GET /events/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await until(() => received.includes('"kind":"open"'), 5000, "the subscription");
    socket.pause();
    try {
      const big = "x".repeat(64 * 1024);
      let appended = 0;
      while (dropHub.size === 1 && appended < 400) {
        await store.appendToStream(`Dropped-${appended}`, [{ type: "Big", data: { big } }]);
        appended += 1;
        if (appended % 10 === 0) await Bun.sleep(5);
      }
      expect(dropHub.size).toBe(0);
      socket.resume();
      // The server's frames (unmasked): the events it got are consecutive, and the last frame closes 4008.
      const frames = (): { opcode: number; payload: Buffer }[] => {
        const out: { opcode: number; payload: Buffer }[] = [];
        let at = received.indexOf("\r\n\r\n") + 4;
        while (at + 2 <= received.length) {
          let length = (received[at + 1] as number) & 0x7f;
          let start = at + 2;
          if (length === 126) [length, start] = [received.readUInt16BE(at + 2), at + 4];
          else if (length === 127) [length, start] = [Number(received.readBigUInt64BE(at + 2)), at + 10];
          if (start + length > received.length) break;
          out.push({ opcode: (received[at] as number) & 0x0f, payload: received.subarray(start, start + length) });
          at = start + length;
        }
        return out;
      };
      await until(() => frames().at(-1)?.opcode === 8, 10_000, "the close frame");
      const all = frames();
      const close = all.at(-1)?.payload as Buffer;
      expect([close.readUInt16BE(0), close.subarray(2).toString()]).toEqual([4008, "slow-consumer"]);
      const positions = all
        .filter((f) => f.opcode === 1)
        .map((f) => JSON.parse(f.payload.toString()) as { kind: string; event?: EventEnvelope })
        .filter((m) => m.kind === "event")
        .map((m) => m.event?.globalPosition as number);
      expect(positions.length).toBeGreaterThan(0);
      expect(positions).toEqual(positions.map((_, i) => (positions[0] as number) + i));
    } finally {
      socket.destroy();
      await dropHub.close();
      dropServer.stop(true);
    }
  }, 60_000);

  test("options of the wrong kind are a ValidationError when the routes are built, not a 500 on every request", () => {
    for (const options of [
      undefined,
      {},
      { hub: 5 },
      { hub: {} },
      { hub, path: 5 },
      { hub, path: "events" },
      { hub, heartbeatMs: 5 },
      // Past the timer's range setTimeout fires at once: a heartbeat every millisecond.
      { hub, heartbeatMs: 2 ** 31 },
      { hub, maxBufferedBytes: 0 },
      { hub, auth: "Bearer" },
      { hub, authorize: true },
      { hub, upgradeWebSocket: "bun" },
      { hub, onError: "log" },
      { hub, tenancy: { tenants: {} } },
      // An origin as browsers send it, never a URL with a path or a bare host: neither could ever match.
      { hub, origins: "https://app.example" },
      { hub, origins: ["https://app.example/"] },
      { hub, origins: ["app.example"] },
    ]) {
      let thrown: unknown;
      try {
        liveRoutes(options as never);
      } catch (error) {
        thrown = error;
      }
      expect([options, (thrown as Error | undefined)?.message]).toEqual([
        options,
        expect.stringContaining("Invalid live routes options"),
      ]);
    }
    expect(() => liveRoutes({ hub: () => hub, path: "/" })).not.toThrow();
    expect(() => liveRoutes({ hub, origins: ["https://app.example:8443", "*"] })).not.toThrow();
  });

  test("a programming error in auth or authorize (TypeError, RangeError, ReferenceError, a thrown non-Error, an error with our code but not our mark) is the bare 500, told to onError; their ForbiddenError and ValidationError keep 403 and 400", async () => {
    const bare = {
      type: "about:blank",
      title: "Internal Server Error",
      status: 500,
      detail: "An unexpected error occurred",
      code: "INTERNAL_ERROR",
    };
    for (const error of [
      new TypeError("Cannot read properties of undefined (reading 'hunter2')"),
      new RangeError("hunter2 out of range"),
      new ReferenceError("hunter2 is not defined"),
      "hunter2",
      // Our codes without the package's mark: another library's errors, their message not shown.
      Object.assign(new Error("hunter2"), { code: "VALIDATION_FAILED", issues: [{ path: [], message: "hunter2" }] }),
      Object.assign(new Error("hunter2"), { code: "FORBIDDEN" }),
    ]) {
      const told: unknown[] = [];
      const onError = (reported: unknown) => void told.push(reported);
      const failing = new Hono()
        .route(
          "/auth",
          liveRoutes({
            hub,
            onError,
            auth: () => {
              throw error;
            },
          }),
        )
        .route(
          "/authorize",
          liveRoutes({
            hub,
            onError,
            authorize: () => {
              throw error;
            },
          }),
        );
      for (const path of ["/auth/events/stream", "/authorize/events/stream"]) {
        const response = await failing.request(path);
        expect([path, response.status, await response.json()]).toEqual([path, 500, bare]);
      }
      expect(told).toEqual([error, error]);
    }
    const told: unknown[] = [];
    const refusing = new Hono()
      .route(
        "/forbidden",
        liveRoutes({ hub, onError: (e) => void told.push(e), authorize: () => Promise.reject(new ForbiddenError()) }),
      )
      .route(
        "/invalid",
        liveRoutes({
          hub,
          onError: (e) => void told.push(e),
          authorize: () => {
            throw new ValidationError("Invalid live subscription", [{ path: ["type"], message: "not yours" }]);
          },
        }),
      );
    expect((await refusing.request("/forbidden/events/stream")).status).toBe(403);
    const invalid = await refusing.request("/invalid/events/stream");
    expect([invalid.status, (await invalid.json()).code]).toEqual([400, "VALIDATION_FAILED"]);
    expect(told).toEqual([]);
  });

  test("a subscription failing on the server (authorize or the hub function throwing) is a bare 500 on both routes, and its cause goes to onError (default: the library's logger); the hub's own 503s are not reported", async () => {
    const told: { error: unknown; method: string }[] = [];
    const onError = (error: unknown, info: { request: Request }) => told.push({ error, method: info.request.method });
    const secret = new Error("postgres://app:hunter2@acl.internal/db is down");
    const failing = new Hono()
      .route("/a", liveRoutes({ hub, onError, upgradeWebSocket, authorize: () => Promise.reject(secret) }))
      .route(
        "/b",
        liveRoutes({
          hub: () => {
            throw secret;
          },
          onError,
        }),
      );
    const failingServer = Bun.serve({ port: 0, fetch: failing.fetch, websocket });
    try {
      const origin = `http://127.0.0.1:${failingServer.port}`;
      const answers = [
        await fetch(`${origin}/a/events/stream`),
        await fetch(`${origin}/a/events/stream`, { method: "HEAD" }),
        await fetch(`${origin}/a/events/ws`, { headers: { upgrade: "websocket", connection: "upgrade" } }),
        await fetch(`${origin}/b/events/stream`),
      ];
      for (const answer of answers) {
        expect(answer.status).toBe(500);
        expect(await answer.text()).not.toContain("hunter2");
      }
      expect(told.map(({ error, method }) => [error, method])).toEqual([
        [secret, "GET"],
        [secret, "HEAD"],
        [secret, "GET"],
        [secret, "GET"],
      ]);
      // A full hub sheds load with 503 and Retry-After: not a failure to report.
      const fullHub = new LiveHub({ store, maxClients: 1 });
      const full = liveRoutes({ hub: fullHub, onError });
      const first = await full.request("/events/stream");
      expect((await full.request("/events/stream")).status).toBe(503);
      await first.body?.cancel();
      await fullHub.close();
      expect((await full.request("/events/stream")).status).toBe(503);
      expect(told).toHaveLength(4);
      // Without onError, the library's logger gets the line.
      const lines: string[] = [];
      setLogger(jsonLogger({ write: (line) => lines.push(line) }));
      try {
        const logged = liveRoutes({ hub, authorize: () => Promise.reject(secret) });
        expect((await logged.request("/events/stream")).status).toBe(500);
      } finally {
        setLogger(undefined);
      }
      expect(lines).toEqual([expect.stringContaining("live subscription failed with a server error")]);
    } finally {
      failingServer.stop(true);
    }
  });

  test("a hub function that throws a ValidationError (a store built from missing bindings) is 500 SERVICE_ERROR told to onError, not the caller's 400", async () => {
    // Before, the subscriber got 400 VALIDATION_FAILED quoting the store's configuration, and onError heard nothing.
    const told: unknown[] = [];
    const routes = liveRoutes({
      hub: () => {
        throw new ValidationError("Invalid D1 binding", [{ path: ["DB"], message: "binding DB is missing" }]);
      },
      onError: (error) => told.push(error),
    });
    const answer = await routes.request("/events/stream");
    const text = await answer.text();
    expect([answer.status, JSON.parse(text).code]).toEqual([500, "SERVICE_ERROR"]);
    expect(text).not.toContain("binding");
    expect(told.map((e) => (e as { cause?: { code?: string } }).cause?.code)).toEqual(["VALIDATION_FAILED"]);
  });

  test("the hub refuses connections past maxClients with 503 and Retry-After", async () => {
    const smallHub = new LiveHub({ store, maxClients: 1 });
    const small = liveRoutes({ hub: smallHub });
    const first = await small.request("/events/stream");
    expect(first.status).toBe(200);
    const second = await small.request("/events/stream");
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("1");
    expect((await second.json()).code).toBe("LIVE_TOO_MANY_CLIENTS");
    await first.body?.cancel();
    await until(() => smallHub.size === 0, 2000, "the cancelled stream's teardown");
    await smallHub.close();
  });
});
