/**
 * The operations UI in workerd (miniflare), bundled as wrangler bundles: the page and the JSON API
 * answer there as on Bun, the auth hook reads its secret from the Worker's env, and a dry-run replay
 * followed by its confirmation repairs a deleted read-model document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorkerTemplate, templateDir } from "../../worker-template/test/bundle.ts";

const wrangler = Bun.TOML.parse(readFileSync(join(templateDir, "wrangler.toml"), "utf8")) as {
  compatibility_date: string;
  compatibility_flags?: string[];
};
const TOKEN = "workerd-admin-token";
const auth = { authorization: `Bearer ${TOKEN}` };
let miniflare: Miniflare;

beforeAll(async () => {
  const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "workerd-admin-worker.ts"));
  miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: wrangler.compatibility_flags ?? [],
    bindings: { ADMIN_TOKEN: TOKEN },
  });
}, 60_000);
afterAll(async () => {
  await miniflare?.dispose();
});

async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  // A connection per request: workerd closes one whose request body it did not read.
  const response = await miniflare.dispatchFetch(`http://worker.test${path}`, {
    ...init,
    headers: { connection: "close", ...init.headers },
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe("operations UI in workerd", () => {
  test("the page, the auth hook and a dry-run replay then its confirmation", async () => {
    expect((await call("/seed", { method: "POST" })).status).toBe(200);
    expect((await call("/admin/api/feed")).status).toBe(401);
    const page = await call("/admin/", { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.text).toContain('<script src="admin.js" defer></script>');
    const feed = JSON.parse((await call("/admin/api/feed", { headers: auth })).text);
    expect(feed.events.map((e: { type: string }) => e.type)).toEqual(["ItemAdded", "ItemAdded"]);

    const post = (body: unknown) =>
      call("/admin/api/projections/replay", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "x-eventflows-admin": "1" },
        body: JSON.stringify(body),
      });
    const dry = JSON.parse((await post({ projection: "cart-items", stream: "Cart-1", dryRun: true })).text);
    expect(dry).toMatchObject({
      dryRun: true,
      read: 2,
      position: 2,
      changes: [{ id: "Cart-1", after: { skus: ["TEA", "COFFEE"] } }],
    });
    expect(JSON.parse((await call("/carts/Cart-1")).text)).toBeNull();
    const done = JSON.parse(
      (await post({ projection: "cart-items", stream: "Cart-1", dryRun: false, to: dry.position })).text,
    );
    expect(done).toMatchObject({ dryRun: false, read: 2, writes: 2 });
    expect(JSON.parse((await call("/carts/Cart-1")).text)).toEqual({ skus: ["TEA", "COFFEE"] });
  }, 60_000);
});
