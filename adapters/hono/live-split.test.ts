import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";
import { parseSse, subscribeLive } from "../../src/client/index.js";
import { type EventEnvelope, eventRegistry, InMemoryEventStore, LiveHub } from "../../src/index.js";
import { liveRoutes } from "./live-routes.js";

// A stored "Batch" is read as one "Item" per entry: an event an upcaster splits into parts that share
// its global position. A real Bun server and real sockets, the in-memory store behind a LiveHub.
const registry = eventRegistry().split("Batch", 1, (event: { data: { items: string[] } }) =>
  event.data.items.map((name) => ({ type: "Item", data: { name } })),
);
const store = new InMemoryEventStore({ eventRegistry: registry });
const hub = new LiveHub({ store, pollIntervalMs: 20 });
const app = new Hono();
app.route("/api", liveRoutes({ hub, upgradeWebSocket, heartbeatMs: 200 }));
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

/** Appends a plain event, a Batch of three and another plain event to a fresh stream; the events as read. */
async function appendWithSplit(): Promise<{ before: number; read: EventEnvelope[] }> {
  const before = await store.getLastGlobalPosition();
  const streamId = `Order-${crypto.randomUUID()}`;
  await store.appendToStream(streamId, [{ type: "Opened", data: {} }]);
  await store.appendToStream(streamId, [{ type: "Batch", data: { items: ["a", "b", "c"] } }]);
  await store.appendToStream(streamId, [{ type: "Closed", data: {} }]);
  const read: EventEnvelope[] = [];
  for await (const event of store.readAll({ after: before })) read.push(event);
  return { before, read };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const names = (events: readonly EventEnvelope[]) =>
  events.map((e) => (e.type === "Item" ? `Item ${(e.data as { name: string }).name}` : e.type));

describe("live routes and the client with an event split into parts", () => {
  test("the store reads the Batch as three parts at one position (what the tests below rely on)", async () => {
    const { read } = await appendWithSplit();
    expect(names(read)).toEqual(["Opened", "Item a", "Item b", "Item c", "Closed"]);
    expect(new Set(read.slice(1, 4).map((e) => e.globalPosition)).size).toBe(1);
  });

  for (const transport of ["sse", "websocket"] as const) {
    test(`subscribeLive (${transport}) hands every part to onEvent, once, and resumes after the last`, async () => {
      const { before, read } = await appendWithSplit();
      const got: EventEnvelope[] = [];
      const subscription = subscribeLive({ url: base, transport, from: before, onEvent: (e) => void got.push(e) });
      try {
        await until(() => got.length >= 5, "five events");
        await Bun.sleep(50);
        expect(names(got)).toEqual(names(read));
        expect(got.map((e) => e.id)).toEqual(read.map((e) => e.id));
        expect(subscription.position).toBe(read[4]?.globalPosition as number);
      } finally {
        subscription.close();
      }
    });
  }

  test("an SSE reader cut off after a split event's first part gets the other parts on reconnect with its Last-Event-ID", async () => {
    const { before, read } = await appendWithSplit();
    const firstRound: EventEnvelope[] = [];
    let lastEventId: string | undefined;
    const cut = new AbortController();
    const response = await fetch(`${base}/stream?from=${before}`, { signal: cut.signal });
    // EventSource's last event ID: the latest `id` field the stream has sent (the parser keeps it).
    for await (const message of parseSse(response.body as ReadableStream<Uint8Array>)) {
      lastEventId = message.id;
      if (message.event !== "message") continue;
      const event = JSON.parse(message.data) as EventEnvelope;
      firstRound.push(event);
      if (event.type === "Item") break;
    }
    cut.abort();
    expect(names(firstRound)).toEqual(["Opened", "Item a"]);
    const again = await fetch(`${base}/stream`, { headers: { "last-event-id": lastEventId as string } });
    const secondRound: EventEnvelope[] = [];
    for await (const message of parseSse(again.body as ReadableStream<Uint8Array>)) {
      if (message.event !== "message") continue;
      const event = JSON.parse(message.data) as EventEnvelope;
      secondRound.push(event);
      if (event.type === "Closed") break;
    }
    // At least once: every part the first connection did not deliver comes on the second.
    const seen = new Set([...firstRound, ...secondRound].map((e) => e.id));
    expect(read.filter((e) => !seen.has(e.id))).toEqual([]);
    expect(names(secondRound).slice(-3)).toEqual(["Item b", "Item c", "Closed"]);
  });

  test("subscribeLive over a stream cut off after a split event's first part (a fetch that ends the body there) gets each event once", async () => {
    const { before, read } = await appendWithSplit();
    let calls = 0;
    // A proxy that drops the first connection right after the message holding "Item a".
    const cutting: typeof fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await fetch(input, init);
      if (calls++ > 0 || response.body === null) return response;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const encoder = new TextEncoder();
      let text = "";
      let passed = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          text += decoder.decode(value, { stream: true });
          // Up to the end of the message holding "Item a", however the server's writes were chunked.
          const at = text.indexOf('"name":"a"');
          const end = at < 0 ? -1 : text.indexOf("\n\n", at);
          controller.enqueue(encoder.encode(text.slice(passed, end < 0 ? text.length : end + 2)));
          passed = text.length;
          if (end >= 0) {
            await reader.cancel();
            controller.close();
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    }) as typeof fetch;
    const got: EventEnvelope[] = [];
    const subscription = subscribeLive({
      url: base,
      from: before,
      fetch: cutting,
      backoff: { initialMs: 10, maxMs: 20 },
      onEvent: (e) => void got.push(e),
      onError: () => {},
    });
    try {
      await until(() => got.some((e) => e.type === "Closed"), "the Closed event");
      await Bun.sleep(50);
      // The first connection ended after "Item a": the rest came on a second one.
      expect(calls).toBe(2);
      expect(got.map((e) => e.id)).toEqual(read.map((e) => e.id));
    } finally {
      subscription.close();
    }
  });
});
