/**
 * The live routes in workerd (miniflare), bundled as wrangler bundles: an SSE client of
 * `/events/stream` receives, in order and filtered, the events another request appends in the same
 * isolate (the hub's fan-out crosses from the appending request to the streaming one).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { parseSse } from "../../src/client/sse-parser.js";
import { bundleWorkerTemplate, templateDir } from "../../worker-template/test/bundle.ts";

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
