import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { type EventEnvelope, isStreamLifecycleEvent, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { bunSqliteDriver, type SqliteDriver, SqliteEventStore, sqliteTableNames } from "./index.js";
import { eventStatements } from "./statements.js";

/*
 * How readAll leaves soft-deleted streams out (migration 7 and the feed statement): page by page, in
 * the page's one statement. Before, each readAll asked first whether any stream was soft-deleted (a
 * statement of its own, one more round trip on D1) and kept that answer for all its pages.
 */
const opened: Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

async function freshStore(readPageSize: number, wrap: (driver: SqliteDriver) => SqliteDriver = (d) => d) {
  const db = new Database(":memory:");
  opened.push(db);
  const driver = wrap(bunSqliteDriver(db));
  const store = new SqliteEventStore({ driver, readPageSize });
  await store.migrate();
  return { db, store };
}

const events = (count: number) => Array.from({ length: count }, (_, n) => ({ type: "Happened", data: { n } }));
const ofStreams = (read: readonly EventEnvelope[]) =>
  read.filter((event) => !isStreamLifecycleEvent(event)).map((event) => `${event.streamId}:${event.version}`);

describe("SQLite feed and soft-deleted streams", () => {
  test("a stream soft-deleted while a readAll is between pages is left out from its next page on; restored, it is back from the next page on", async () => {
    const { store } = await freshStore(2);
    const a = `Feed-${ulid()}`;
    const b = `Feed-${ulid()}`;
    // Interleaved, so that every page holds one event of each: a:1 b:1 | a:2 b:2 | a:3 b:3 | a:4 b:4
    for (let n = 0; n < 4; n++) {
      await store.appendToStream(a, events(1));
      await store.appendToStream(b, events(1));
    }
    const reader = store.readAll();
    const read: EventEnvelope[] = [];
    for (let n = 0; n < 2; n++) read.push((await reader.next()).value as EventEnvelope);
    // The first page is in hand; b goes before the second is read.
    await store.deleteStream(b);
    for (let n = 0; n < 2; n++) read.push((await reader.next()).value as EventEnvelope);
    await store.restoreStream(b);
    for await (const event of reader) read.push(event);
    // The page read while b was hidden held a:2 and a:3 (b:2 passed by); the pages after the restore
    // start after a:3, so b:3 is back.
    expect(ofStreams(read)).toEqual([`${a}:1`, `${b}:1`, `${a}:2`, `${a}:3`, `${b}:3`, `${a}:4`, `${b}:4`]);
    // A fresh read after the restore has every event again.
    expect(ofStreams(await collect(store.readAll()))).toEqual(
      [1, 2, 3, 4].flatMap((version) => [`${a}:${version}`, `${b}:${version}`]),
    );
  });

  test("each readAll page is one statement, with soft-deleted streams or without (no question asked beside it: one round trip a page on D1)", async () => {
    const statements: string[] = [];
    const { store } = await freshStore(2, (driver) => ({
      ...driver,
      all: (sql, params) => {
        statements.push(sql);
        return driver.all(sql, params);
      },
    }));
    const a = `Feed-${ulid()}`;
    const b = `Feed-${ulid()}`;
    await store.appendToStream(a, events(3));
    await store.appendToStream(b, events(3));
    statements.length = 0;
    // 6 events in pages of 2: three full pages, then an empty one that ends the read.
    expect(ofStreams(await collect(store.readAll()))).toHaveLength(6);
    expect(statements).toHaveLength(4);
    expect(new Set(statements).size).toBe(1);
    await store.deleteStream(b);
    statements.length = 0;
    // a's 3 events and the $stream-deleted event in $streams: two full pages, then an empty one.
    const visible = await collect(store.readAll());
    expect(ofStreams(visible)).toEqual([`${a}:1`, `${a}:2`, `${a}:3`]);
    expect(visible).toHaveLength(4);
    expect(statements).toHaveLength(3);
    expect(new Set(statements).size).toBe(1);
  });

  test("the feed statement asks about soft-deleted streams through the partial index of migration 7, however many streams are hard-deleted", async () => {
    const { db, store } = await freshStore(100);
    const names = sqliteTableNames();
    const deletions = names.streamDeletions;
    // Hard-deleted streams only: without the index, the question would scan every one of these rows.
    const insert = db.prepare(
      `INSERT INTO ${deletions} (stream_id, mode, version, deleted_at) VALUES (?, 'hard', 1, '2026-12-05T00:00:00.000Z')`,
    );
    db.transaction(() => {
      for (let n = 0; n < 5_000; n++) insert.run(`Gone-${n}`);
    })();
    db.run("ANALYZE");
    const plan = db
      .query(`EXPLAIN QUERY PLAN ${eventStatements(names).readAll}`)
      .all(0, 100, 0, 1_000_000, 0, 100, 1_000_000) as { detail: string }[];
    const details = plan.map((row) => row.detail);
    expect(details.some((detail) => detail.includes(`INDEX ${names.prefix}stream_deletions_soft`))).toBe(true);
    // No step of the plan scans the deletions table but through that index (which holds soft rows only).
    expect(
      details.filter((detail) => /^SCAN .*stream_deletions/.test(detail) && !detail.includes("stream_deletions_soft")),
    ).toEqual([]);
    // And the store still reads: no soft-deleted stream, so every event.
    await store.appendToStream(`Feed-${ulid()}`, events(3));
    expect(ofStreams(await collect(store.readAll()))).toHaveLength(3);
  });
});
