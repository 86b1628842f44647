/**
 * The live routes in workerd (miniflare), bundled as wrangler bundles: an SSE client of
 * `/events/stream` receives, in order and filtered, the events another request appends in the same
 * isolate (the hub's fan-out crosses from the appending request to the streaming one); the issue's
 * scenario (test/live/scenario.ts) runs against the Worker over real sockets, with SSE clients,
 * its resume part included.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { subscribeLive } from "../../src/client/index.js";
import { parseSse } from "../../src/client/sse-parser.js";
import type { EventEnvelope } from "../../src/index.js";
import { bundleWorkerTemplate, templateDir } from "../../worker-template/test/bundle.ts";
import { runLiveScenario } from "./scenario.js";

const wrangler = Bun.TOML.parse(readFileSync(join(templateDir, "wrangler.toml"), "utf8")) as {
  compatibility_date: string;
  compatibility_flags?: string[];
};
let miniflare: Miniflare;

beforeAll(async () => {
  const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "workerd-live-worker.ts"));
  miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
    compatibilityDate: wrangler.compatibility_date,
    // `enable_request_signal`: without it workerd tells a Worker nothing when a streaming client
    // leaves (the body is not cancelled either), so its live connection would stay until its buffer filled.
    compatibilityFlags: [...(wrangler.compatibility_flags ?? []), "enable_request_signal"],
  });
}, 60_000);
afterAll(async () => {
  await miniflare?.dispose();
});

test("liveRoutes SSE in workerd: a client receives the Cart events another request appends, in order", async () => {
  const response = await miniflare.dispatchFetch("http://worker.test/events/stream?category=Cart", {
    headers: { accept: "text/event-stream" },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const messages = parseSse(response.body as unknown as ReadableStream<Uint8Array>);
  const first = await messages.next();
  expect(first.value).toMatchObject({ event: "open", data: '{"position":0}' });

  const append = await miniflare.dispatchFetch("http://worker.test/append", { method: "POST" });
  expect(await append.json()).toEqual({ head: 4, connections: 1 });
  const received: { id: string | undefined; type: string; streamId: string }[] = [];
  while (received.length < 3) {
    const { value, done } = await messages.next();
    if (done || value === undefined) break;
    if (value.event !== "message") continue;
    const event = JSON.parse(value.data) as { type: string; streamId: string };
    received.push({ id: value.id, type: event.type, streamId: event.streamId });
  }
  await messages.return(undefined);
  expect(received).toEqual([
    { id: "1", type: "ItemAdded", streamId: "Cart-1" },
    { id: "2", type: "ItemAdded", streamId: "Cart-1" },
    { id: "4", type: "CheckedOut", streamId: "Cart-1" },
  ]);
}, 60_000);

/** Reads an SSE response's events (not the open message or heartbeats) until `count` have come. */
async function sseEvents(response: Response, count: number): Promise<{ id: string | undefined; n: number }[]> {
  const messages = parseSse(response.body as unknown as ReadableStream<Uint8Array>);
  const received: { id: string | undefined; n: number }[] = [];
  try {
    while (received.length < count) {
      const { value, done } = await messages.next();
      if (done || value === undefined) break;
      if (value.event === "message")
        received.push({ id: value.id, n: (JSON.parse(value.data) as { data: { n: number } }).data.n });
    }
  } finally {
    await messages.return(undefined);
  }
  return received;
}

// The previous limit: the hub's shared subscription ran in the request that started it, and
// workerd cancels a request's timers and promises when its response ends, so the clients still
// connected stopped receiving once the first client left.
test("liveRoutes SSE in workerd: the first client leaves, a second keeps receiving, a third resumes with Last-Event-ID", async () => {
  const base = await miniflare.ready;
  const url = (path: string) => new URL(path, base).href;
  const auth = { authorization: "Bearer alice" };
  const append = async (n: number) =>
    (await (
      await fetch(url("/scenario/append"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ streamId: "Order-9", events: [{ type: "Opened", data: { n } }] }),
      })
    ).json()) as { events: EventEnvelope[] };
  const connections = async () => ((await (await fetch(url("/scenario/connections"))).json()) as { live: number }).live;
  const until = async (check: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const before = await connections();
  // The first client: a raw socket, so that leaving closes the connection (no pooled keep-alive).
  const first = connect(Number(base.port), base.hostname);
  let firstReceived = "";
  first.on("data", (chunk) => {
    firstReceived += chunk.toString();
  });
  await new Promise<void>((resolve) => first.once("connect", () => resolve()));
  first.write(
    `GET /api/events/stream?stream=Order-9 HTTP/1.1\r\nHost: ${base.host}\r\nAuthorization: Bearer alice\r\n\r\n`,
  );
  const second = await fetch(url("/api/events/stream?stream=Order-9"), { headers: auth });
  await until(async () => (await connections()) === before + 2, "two connections");
  const start = (await append(0)).events[0]?.globalPosition ?? 0;
  await until(async () => firstReceived.includes('"n":0'), "the first client's event");
  first.destroy();
  await until(async () => (await connections()) === before + 1, "the first client to leave");
  for (let n = 1; n < 5; n++) await append(n);
  const third = await fetch(url("/api/events/stream?stream=Order-9"), {
    headers: { ...auth, "last-event-id": String(start) },
  });
  await append(5);
  expect((await sseEvents(second, 6)).map((e) => e.n)).toEqual([0, 1, 2, 3, 4, 5]);
  expect((await sseEvents(third, 5)).map((e) => e.n)).toEqual([1, 2, 3, 4, 5]);
}, 30_000);

test("liveRoutes SSE in workerd: a slow client (its socket not read) is dropped with slow-consumer while another keeps up", async () => {
  const base = await miniflare.ready;
  const slow = connect(Number(base.port), base.hostname);
  let slowReceived = "";
  slow.on("data", (chunk) => {
    slowReceived += chunk.toString();
  });
  await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
  slow.write(`GET /slow/events/stream HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`);
  const waitFor = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await waitFor(() => slowReceived.includes("event: open"), "the slow client's subscription");
  slow.pause();
  const fastEnds: string[] = [];
  const fast = subscribeLive({
    url: new URL("/slow/events", base).href,
    from: 0,
    onEvent: () => {},
    onEnd: (reason) => void fastEnds.push(reason),
  });
  try {
    let state = { head: 0, connections: 0 };
    const append = async () => {
      state = (await (await fetch(new URL("/slow/append", base), { method: "POST" })).json()) as typeof state;
    };
    await append();
    // The fast client has its first event: both are connected.
    await waitFor(() => (fast.position ?? 0) >= state.head, "the fast client's first event");
    // 64 KiB events until the slow connection is dropped, the fast client catching up every few.
    while (state.connections !== 1 && state.head < 400) {
      await append();
      if (state.head % 4 === 0) await waitFor(() => (fast.position ?? 0) >= state.head, "the fast client to keep up");
    }
    expect(state.connections).toBe(1);
    await waitFor(() => (fast.position ?? 0) >= state.head, "the fast client to keep up");
    expect(fastEnds).toEqual([]);
    slow.resume();
    await waitFor(() => slowReceived.includes("event: end"), "the end event");
    expect(slowReceived).toContain('event: end\ndata: {"reason":"slow-consumer"}');
    console.log(`workerd: the slow SSE client was dropped after ${state.head} events of 64 KiB; the fast one kept up`);
  } finally {
    slow.destroy();
    await fast.close();
  }
}, 30_000);

// SSE clients (Hono's cloudflare-workers helper never calls onOpen, where the WebSocket pump
// starts: on Workers, WebSocket clients go through a Durable Object, which
// test/runtime/suites/sqlite-live.ts runs in workerd). The resume part runs with clients leaving
// one after another: the hub re-homes its subscription when the request that started it ends.
test("the live scenario in workerd: 1,000 events to 50 SSE clients, each exactly its filtered events in order; resume at cut points; 401/403", async () => {
  const base = await miniflare.ready;
  const call = async <T>(path: string, init?: RequestInit): Promise<T> =>
    (await (await fetch(new URL(path, base), init)).json()) as T;
  const lines: string[] = [];
  await runLiveScenario({
    base: new URL("/api/events", base).href,
    store: {
      getLastGlobalPosition: () => call<number>("/scenario/head"),
      appendToStream: (streamId, events) =>
        call<{ events: EventEnvelope[] }>("/scenario/append", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ streamId, events }),
        }),
    },
    connections: async () => (await call<{ live: number }>("/scenario/connections")).live,
    WebSocket,
    clientsPerTransport: 50,
    transports: ["sse"],
    events: 1000,
    log: (line) => lines.push(line),
  });
  console.log(lines.map((line) => `workerd: ${line}`).join("\n"));
  expect(lines).toHaveLength(3);
}, 120_000);
