/**
 * The operations UI's feed paging on PostgreSQL, whose global positions leave a block of 4,096 per
 * transaction: the newest page is still the newest `limit` events, and Older and Newer walk the
 * whole feed without a gap or an overlap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { adminRoutes } from "../../adapters/hono/index.js";
import { PostgresEventStore, type PostgresSql } from "../../adapters/postgres/index.js";
import { untilHeadReadable } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../services/postgres.ts";

let sql: PostgresSql;
let store: PostgresEventStore;
const schema = uniqueSchema("admin_api");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 5 });
  store = new PostgresEventStore({ sql, schema });
  await store.migrate();
  // One event per transaction: 4,096 positions apart.
  for (let n = 1; n <= 45; n++) await store.appendToStream(`Cart-${n % 7}`, [{ type: "Counted", data: { n } }]);
  // The tests read the feed: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
  await untilHeadReadable(store);
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

type Page = { events: { globalPosition: number; streamId: string }[]; next?: number; previous?: number; after: number };

describe("admin feed on PostgreSQL", () => {
  test("the newest page holds the newest events; Older then Newer walk the feed without gap or overlap", async () => {
    const app = new Hono().route("/admin", adminRoutes({ store, auth: () => true }));
    const get = async (query: string) => (await (await app.request(`/admin/api/feed${query}`)).json()) as Page;
    const all: number[] = [];
    for await (const event of store.readAll()) all.push(event.globalPosition as number);
    expect(all).toHaveLength(45);

    const newest = await get("?limit=10");
    expect(newest.events.map((e) => e.globalPosition)).toEqual(all.slice(-10));
    expect(newest.next).toBeUndefined();

    const walked: number[][] = [newest.events.map((e) => e.globalPosition)];
    let page = newest;
    while (page.previous !== undefined) {
      page = await get(`?after=${page.previous}&to=${page.after}&limit=10`);
      walked.unshift(page.events.map((e) => e.globalPosition));
    }
    expect(walked.flat()).toEqual(all);
    expect(walked.map((p) => p.length)).toEqual([5, 10, 10, 10, 10]);

    const forward: number[] = [];
    let after: number | undefined = 0;
    while (after !== undefined) {
      const next = await get(`?after=${after}&limit=10`);
      forward.push(...next.events.map((e) => e.globalPosition));
      after = next.next;
    }
    expect(forward).toEqual(all);

    const streams = (await (await app.request("/admin/api/streams")).json()) as {
      streams: { streamId: string; version: number }[];
    };
    expect(streams.streams.map((s) => s.streamId)).toEqual([
      "Cart-3",
      "Cart-2",
      "Cart-1",
      "Cart-0",
      "Cart-6",
      "Cart-5",
      "Cart-4",
    ]);
    expect(streams.streams.find((s) => s.streamId === "Cart-3")?.version).toBe(7);
  }, 60_000);
});
