/**
 * The template's D1 store migrates on first use: every read and append waits for that run, so the
 * first request after a deployment finds the tables whatever it does (docs/adapters/sqlite.md, "Cloudflare D1").
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { plugin } from "bun";
import type { D1DatabaseLike } from "../../adapters/sqlite/index.js";
import { packageEntries, repoRoot } from "../../scripts/lib/package-exports.ts";
import type { EventStore } from "../../src/index.js";
import { d1OverBunSqlite } from "../../test/sqlite/d1-over-bun-sqlite.ts";

// The template imports `@eventflows/core[/subpath]`, which resolves to the built package: its
// sources are loaded with those specifiers pointed at the package's entry sources instead (as the
// bundle test resolves them), so the store under test is the template's own code over this checkout.
const sources = new Map(packageEntries().map((entry) => [entry.specifier, join(repoRoot, entry.source)]));
plugin({
  name: "eventflows-sources",
  setup(build) {
    build.onLoad({ filter: /worker-template\/src\/.*\.ts$/ }, async (args) => {
      const text = await Bun.file(args.path).text();
      const contents = text.replace(
        /(from\s+")(@eventflows\/core(?:\/[\w-]+)?)(")/g,
        (_whole, open, specifier, close) => {
          const path = sources.get(specifier);
          if (path === undefined) throw new Error(`${specifier} is not an entry point of the package`);
          return `${open}${path}${close}`;
        },
      );
      return { contents, loader: "ts" };
    });
  },
});
const { D1IdempotencyStore, openD1Store } = await import("../src/stores/d1.ts");

const opened: Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

/** A D1 binding over a fresh in-memory bun:sqlite database: no table yet, as after a first deployment. */
function freshD1(): D1DatabaseLike {
  const db = new Database(":memory:");
  opened.push(db);
  return d1OverBunSqlite(db);
}

async function count(events: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of events) n++;
  return n;
}

const firstCalls: [string, (store: EventStore) => Promise<unknown>][] = [
  ["readStream", (store) => count(store.readStream("Todo-1"))],
  ["readAll", (store) => count(store.readAll())],
  ["getLastGlobalPosition", (store) => store.getLastGlobalPosition()],
  ["streamExists", (store) => store.streamExists("Todo-1")],
  ["appendToStream", (store) => store.appendToStream("Todo-1", [{ type: "Added", data: {} }])],
];

for (const [name, call] of firstCalls) {
  test(`${name} as the first call on a fresh D1 database migrates first, then answers`, async () => {
    const { store } = await openD1Store({ DB: freshD1() } as never);
    await call(store);
    // The tables are there: what a store with them answers.
    await store.appendToStream("Todo-2", [{ type: "Added", data: {} }]);
    expect(await count(store.readStream("Todo-2"))).toBe(1);
  });
}

// A keyed command claims its key before the event store is used: the first request on a fresh
// database may be one, and its claim must find the table.
test("an Idempotency-Key claim as the first call on a fresh D1 database migrates first, then claims", async () => {
  const keys = new D1IdempotencyStore(freshD1());
  const claim = await keys.claim("caller:key-1", "fp");
  expect(claim.state).toBe("claimed");
  expect(await keys.claim("caller:key-1", "fp")).toEqual({ state: "in-progress", fingerprint: "fp" });
});
