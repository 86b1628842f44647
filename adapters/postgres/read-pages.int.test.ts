import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type EventEnvelope, ulid } from "../../src/index.js";
import { collect, untilHeadReadable } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, type PostgresSql } from "./index.js";
import { PAGE_GROWTH, PAGE_GROWTH_LIMIT } from "./read.js";

let sql: PostgresSql;
let store: PostgresEventStore;
const schema = uniqueSchema("pages");
const stream = `Paged-${ulid()}`;
const LENGTH = 60;
let stored: EventEnvelope[];
let feedStart: number;

beforeAll(async () => {
  sql = await postgresTestClient({ max: 4 });
  store = new PostgresEventStore({ sql, schema });
  await store.migrate();
  feedStart = await store.getLastGlobalPosition();
  // Several appends, so that the feed's positions have the gaps between transactions' blocks.
  for (let from = 0; from < LENGTH; from += 7) {
    const size = Math.min(7, LENGTH - from);
    await store.appendToStream(
      stream,
      Array.from({ length: size }, (_, n) => ({ type: "Counted", data: { n: from + n } })),
    );
  }
  stored = await collect(store.readStream(stream));
  // The tests read the feed: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
  await untilHeadReadable(store);
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

/** The client, with the limit of every page query recorded (the last parameter of a read). */
function counting(limits: number[]): PostgresSql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property !== "unsafe") return Reflect.get(target, property, receiver);
      return (text: string, parameters: unknown[], options: object) => {
        if (/LIMIT \$\d/.test(text)) limits.push(Number(parameters[parameters.length - 1]));
        return target.unsafe(text, parameters as never[], options);
      };
    },
  });
}

/**
 * The client, except that the first page query's connection is lost after `after` rows have come
 * in (the error postgres.js gives a reset socket, thrown while it hands the rows over).
 */
function losingFirstPage(after: number, pages: { calls: number; lost: number }): PostgresSql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property !== "unsafe") return Reflect.get(target, property, receiver);
      return (text: string, parameters: never[], options: object) => {
        const query = target.unsafe(text, parameters, options);
        if (!/LIMIT \$\d/.test(text)) return query;
        pages.calls++;
        const values = query.values.bind(query);
        return Object.assign(query, {
          values: () => {
            const rows = values();
            const forEach = rows.forEach.bind(rows);
            return Object.assign(rows, {
              forEach: (take: (row: unknown) => void) => {
                let seen = 0;
                return forEach((row) => {
                  if (++seen > after && pages.lost === 0) {
                    pages.lost++;
                    throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
                  }
                  take(row);
                });
              },
            });
          },
        });
      };
    },
  }) as PostgresSql;
}

describe("reads in growing pages", () => {
  test("each page asks for PAGE_GROWTH times the one before, up to PAGE_GROWTH_LIMIT times readPageSize; a short page ends the read", async () => {
    expect([PAGE_GROWTH, PAGE_GROWTH_LIMIT]).toEqual([16, 16]);
    const limits: number[] = [];
    const paging = new PostgresEventStore({ sql: counting(limits), schema, readPageSize: 2 });
    expect(await collect(paging.readStream(stream))).toEqual(stored);
    const cap = 2 * PAGE_GROWTH_LIMIT;
    // 2 + 32 = 34 events in full pages, then a page of 32 that brings the last 26.
    expect(limits).toEqual([2, cap, cap]);
    limits.length = 0;
    expect((await collect(paging.readAll({ after: feedStart, maxCount: 15 }))).map((e) => e.id)).toEqual(
      stored.slice(0, 15).map((e) => e.id),
    );
    // maxCount trims the second page's limit: 2, then 13.
    expect(limits).toEqual([2, 13]);
  });

  test("a batch read (a projection runner's) asks for its maxCount in one page, up to the largest page", async () => {
    const limits: number[] = [];
    const paging = new PostgresEventStore({ sql: counting(limits), schema, readPageSize: 2 });
    const ids = (events: readonly EventEnvelope[]) => events.map((e) => e.id);
    // One round trip for the whole batch, not a page of readPageSize first (that was [2, 13]).
    expect(ids(await paging.readFeedBatch(feedStart, 15))).toEqual(ids(stored.slice(0, 15)));
    expect(limits).toEqual([15]);
    limits.length = 0;
    // Past the largest page (2 x 16), the rest follows in the next one.
    expect(ids(await paging.readFeedBatch(feedStart, 50))).toEqual(ids(stored.slice(0, 50)));
    expect(limits).toEqual([32, 18]);
    limits.length = 0;
    // A batch that asks for more than there is: one page, short, and nothing after it.
    expect(ids(await paging.readFeedBatch(feedStart + 0, 31))).toEqual(ids(stored.slice(0, 31)));
    expect(ids(await paging.readFeedBatch(stored[40]?.globalPosition ?? 0, 30))).toEqual(ids(stored.slice(41)));
    expect(limits).toEqual([31, 30]);
    // readAll with a maxCount still starts with a small page (its reader takes events one by one).
    limits.length = 0;
    await collect(paging.readAll({ after: feedStart, maxCount: 15 }));
    expect(limits).toEqual([2, 13]);
  });

  test("a page whose connection is lost midway is read again whole on another: no event twice, none missing", async () => {
    const ids = (events: readonly EventEnvelope[]) => events.map((e) => e.id);
    const reads: [string, (store: PostgresEventStore) => Promise<EventEnvelope[]>, number][] = [
      ["a projection runner's batch", (store) => store.readFeedBatch(feedStart, 50), 50],
      ["readStream", (store) => collect(store.readStream(stream)), LENGTH],
    ];
    for (const [what, read, count] of reads) {
      const pages = { calls: 0, lost: 0 };
      const losing = new PostgresEventStore({ sql: losingFirstPage(20, pages), schema, readPageSize: 40 });
      const events = await read(losing);
      expect(pages.lost, what).toBe(1);
      expect(ids(events), what).toEqual(ids(stored.slice(0, count)));
      // The lost page was asked for again: one statement more than the read needed.
      expect(pages.calls, what).toBe(count === 50 ? 2 : 3);
    }
  });

  test("any page size, direction, start and count read what one query would (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: LENGTH + 3 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: LENGTH + 3 }), { nil: undefined }),
        async (readPageSize, backward, fromVersion, maxCount) => {
          const paging = new PostgresEventStore({ sql, schema, readPageSize });
          const read = await collect(
            paging.readStream(stream, {
              ...(backward ? { direction: "backward" as const } : {}),
              ...(fromVersion === undefined ? {} : { fromVersion }),
              ...(maxCount === undefined ? {} : { maxCount }),
            }),
          );
          const ordered = backward ? [...stored].reverse() : stored;
          const from = fromVersion ?? (backward ? Number.POSITIVE_INFINITY : 1);
          const expected = ordered
            .filter((e) => (backward ? e.version <= from : e.version >= from))
            .slice(0, maxCount ?? LENGTH);
          expect(read).toEqual(expected);
          const feed = await collect(
            paging.readAll({ after: feedStart, ...(maxCount === undefined ? {} : { maxCount }) }),
          );
          expect(feed).toEqual(stored.slice(0, maxCount ?? LENGTH));
          // A batch read takes the same events, whatever page it reads them in.
          expect(await paging.readFeedBatch(feedStart, maxCount ?? LENGTH + 3)).toEqual(feed);
        },
      ),
      { numRuns: 40 },
    );
  });
});
