/**
 * The live routes in workerd (miniflare), bundled as wrangler bundles: an SSE client of
 * `/events/stream` receives, in order and filtered, the events another request appends in the same
 * isolate (the hub's fan-out crosses from the appending request to the streaming one); the issue's
 * scenario (test/live/scenario.ts) runs against the Worker over real sockets, with SSE clients.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
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
    compatibilityFlags: wrangler.compatibility_flags ?? [],
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

// SSE only, and no resume part: an isolate's LiveHub works across requests, and workerd cancels a
// promise one request resolves for another whose response has ended. Run here, the resume part
// timed out (clients that leave and come back one after another stopped receiving), and Hono's
// cloudflare-workers helper never calls onOpen, where the WebSocket pump starts
// (docs/guide/live-streams.md, "Workers"). On Workers, WebSocket clients and resumption go through a
// Durable Object: test/runtime/suites/sqlite-live.ts runs those in workerd.
test("the live scenario in workerd: 1,000 events to 50 SSE clients, each exactly its filtered events in order; 401/403", async () => {
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
    resume: false,
    events: 1000,
    log: (line) => lines.push(line),
  });
  console.log(lines.map((line) => `workerd: ${line}`).join("\n"));
  expect(lines).toHaveLength(2);
}, 120_000);
