import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ErrorCode, isConcurrencyError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import {
  bunSqliteDriver,
  migrateSqlite,
  SqliteCheckpointStore,
  type SqliteDriver,
  SqliteEventStore,
  SqliteSnapshotStore,
  type SqliteValue,
  type SyncStatementRunner,
  sqliteSchemaVersion,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-reliability-"));
const file = join(dir, "events.db");
const opened: Database[] = [];
const open = () => {
  const db = new Database(file);
  opened.push(db);
  return new SqliteEventStore({ driver: bunSqliteDriver(db) });
};
const store = open();
await store.migrate();
afterAll(() => {
  for (const db of opened) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("SqliteEventStore under concurrency (16 connections to one file)", () => {
  test("16 writers expecting version 0 on one stream: exactly one wins, 15 get a ConcurrencyError", async () => {
    const stores = Array.from({ length: 16 }, open);
    const stream = `Race-${ulid()}`;
    await store.appendToStream(stream, [{ type: "Opened", data: {} }]);
    const results = await Promise.allSettled(
      stores.map((s, i) => s.appendToStream(stream, [{ type: "Won", data: { i } }], { expectedVersion: 1 })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(won.length).toBe(1);
    expect(lost.length).toBe(15);
    expect(lost.every(isConcurrencyError)).toBe(true);
    expect(lost[0]).toMatchObject({ streamId: stream, expectedVersion: 1, actualVersion: 2 });
    expect(await store.getStreamVersion(stream)).toBe(2);
  });

  test('16 processes appending with "any" to one stream: nothing lost, versions gap-free, feed in version order, a reader following the feed sees each event once', async () => {
    const stream = `Busy-${ulid()}`;
    const start = await store.getLastGlobalPosition();
    const script = `
      import { Database } from "bun:sqlite";
      import { bunSqliteDriver, SqliteEventStore } from ${JSON.stringify(join(import.meta.dir, "index.ts"))};
      import { configureTelemetry } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "index.ts"))};
      // Sixteen writers on one file wait on each other by design: no slow-append warnings on stderr,
      // which must stay empty of errors.
      configureTelemetry({ slowStoreCallMs: false });
      const store = new SqliteEventStore({ driver: bunSqliteDriver(new Database(${JSON.stringify(file)})) });
      for (let n = 0; n < 10; n++) await store.appendToStream(${JSON.stringify(stream)}, [{ type: "N", data: n }, { type: "N", data: n }]);
    `;
    const children = Array.from({ length: 16 }, () =>
      Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "pipe" }),
    );
    // Meanwhile a reader on a connection of its own follows the feed from its checkpoint, as a
    // projection does: every event must reach it exactly once (none passed and found later).
    const reader = open();
    let running = true;
    const exited = Promise.all(children.map((child) => child.exited)).finally(() => {
      running = false;
    });
    const followed: string[] = [];
    let checkpoint = start;
    for (let last = false; !last; ) {
      last = !running;
      for (const event of await collect(reader.readAll({ after: checkpoint }))) {
        checkpoint = event.globalPosition ?? checkpoint;
        if (event.streamId === stream) followed.push(event.id);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const codes = await exited;
    expect(followed.length).toBe(320);
    expect(new Set(followed).size).toBe(320);
    const errors = await Promise.all(children.map((child) => new Response(child.stderr).text()));
    expect(errors.filter((e) => e.trim() !== "")).toEqual([]);
    expect(codes).toEqual(Array(16).fill(0));
    const events = await collect(store.readStream(stream));
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 320 }, (_, i) => i + 1));
    const feed = (await collect(store.readAll({ after: start }))).filter((e) => e.streamId === stream);
    expect(feed.map((e) => e.version)).toEqual(events.map((e) => e.version));
  });
});

describe("SqliteEventStore after a crash (a writer killed with SIGKILL, the file reopened)", () => {
  const writer = (mode: string, stream: string) =>
    Bun.spawn([process.execPath, join(import.meta.dir, "crash-writer.fixture.test.ts"), file, mode, stream], {
      env: { ...process.env, EVENTFLOWS_CRASH_WRITER: "1" },
      stdout: "pipe",
      stderr: "inherit",
    });
  const linesUntil = async (child: ReturnType<typeof writer>, count: number) => {
    const reader = child.stdout.getReader();
    let text = "";
    while (text.split("\n").length <= count) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the writer exited early: ${text}`);
      text += new TextDecoder().decode(value);
    }
  };

  test("an append inside a transaction left open is gone after the crash", async () => {
    const stream = `Crash-open-${ulid()}`;
    const child = writer("open", stream);
    await linesUntil(child, 1);
    child.kill("SIGKILL");
    await child.exited;
    const reopened = open();
    expect(await reopened.getStreamVersion(stream)).toBe(0);
    expect(await collect(reopened.readStream(stream))).toEqual([]);
    // The database takes writes again: the dead writer's lock went with it.
    await reopened.appendToStream(stream, [{ type: "After", data: 1 }], { expectedVersion: "no-stream" });
  });

  test("a writer killed while appending batches of 500 leaves whole batches only", async () => {
    const stream = `Crash-loop-${ulid()}`;
    const child = writer("loop", stream);
    await linesUntil(child, 3);
    child.kill("SIGKILL");
    await child.exited;
    const reopened = open();
    const events = await collect(reopened.readStream(stream));
    expect(events.length).toBeGreaterThanOrEqual(1500);
    expect(events.length % 500).toBe(0);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    const db = new Database(file);
    opened.push(db);
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  });
});

describe("SqliteEventStore: input and errors", () => {
  test("any JSON data and any stream id read back as appended (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.jsonValue(), async (name, data) => {
        const stream = `${name.replace(/[\ud800-\udfff]/g, "")}-${ulid()}`;
        await store.appendToStream(stream, [{ type: "Any", data }], { expectedVersion: "no-stream" });
        const [read] = await collect(store.readStream(stream));
        expect(read?.streamId).toBe(stream);
        expect(read?.data).toEqual(JSON.parse(JSON.stringify(data)));
      }),
      { numRuns: 100 },
    );
  });

  test("any sequence of appends (1-250 events, every kind of expectation, right or wrong) matches a model: versions, positions in version order, conflicts writing nothing (fast-check)", async () => {
    const expectation = fc.oneof(
      fc.constantFrom("any", "no-stream", "stream-exists"),
      fc.integer({ min: -2, max: 2 }), // an offset from the true version: 0 is right
    );
    const step = fc.record({
      size: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 95, max: 250 })),
      expectation,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const stream = `Model-${ulid()}`;
        let version = 0;
        for (const { size, expectation: e } of steps) {
          const expected = typeof e === "number" ? Math.max(0, version + e) : e;
          const fits =
            expected === "any" ||
            (expected === "no-stream" && version === 0) ||
            (expected === "stream-exists" && version > 0) ||
            expected === version;
          const before = await store.getLastGlobalPosition();
          const batch = Array.from({ length: size }, (_, n) => ({ type: "M", data: n }));
          const appending = store.appendToStream(stream, batch, { expectedVersion: expected });
          if (!fits) {
            const error = await appending.then(
              () => undefined,
              (failure: unknown) => failure,
            );
            expect(isConcurrencyError(error)).toBe(true);
            expect(await store.getLastGlobalPosition()).toBe(before);
            continue;
          }
          const { events } = await appending;
          expect(events.map((event) => event.version)).toEqual(batch.map((_, n) => version + n + 1));
          expect(events.map((event) => event.globalPosition)).toEqual(batch.map((_, n) => before + n + 1));
          version += size;
        }
        const stored = await collect(store.readStream(stream));
        expect(stored.map((event) => event.version)).toEqual(stored.map((_, n) => n + 1));
        expect(stored.length).toBe(version);
      }),
      { numRuns: 30 },
    );
  });

  test("reads in pages: any page size and maxCount give the stream's events in order; a reader stopped early or failing ends (fast-check)", async () => {
    const stream = `Pages-${ulid()}`;
    await store.appendToStream(
      stream,
      Array.from({ length: 23 }, (_, n) => ({ type: "P", data: n })),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }), async (page, max) => {
        const paged = new SqliteEventStore({ driver: store.driver, readPageSize: page });
        const read = await collect(paged.readStream(stream, { maxCount: max }));
        expect(read.map((event) => event.data)).toEqual(Array.from({ length: Math.min(max, 23) }, (_, n) => n));
        const backward = await collect(paged.readStream(stream, { direction: "backward", maxCount: max }));
        expect(backward.map((event) => event.data)).toEqual(
          Array.from({ length: Math.min(max, 23) }, (_, n) => 22 - n),
        );
      }),
      { numRuns: 40 },
    );
    const reader = new SqliteEventStore({ driver: store.driver, readPageSize: 5 }).readStream(stream);
    expect((await reader.next()).value?.data).toBe(0);
    expect(await reader.return(undefined)).toEqual({ value: undefined, done: true });
    expect((await reader.next()).done).toBe(true);
    let pages = 0;
    const failing = new SqliteEventStore({
      driver: {
        ...store.driver,
        all: (sql, params) =>
          ++pages === 2 ? Promise.reject(new Error("disk I/O error")) : store.driver.all(sql, params),
      },
      readPageSize: 5,
    }).readStream(stream);
    const seen: unknown[] = [];
    const failure = await (async () => {
      for await (const event of failing) seen.push(event.data);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(failure).toMatchObject({ code: ErrorCode.Service, serviceCode: "SQLITE_ERROR", operation: "readStream" });
    expect((await failing.next()).done).toBe(true);
  });

  test("pages are bounded in bytes too: any event sizes, budget and page size give every event once, in order, forward, backward and in the feed; a page passes the budget only as one event alone (fast-check)", async () => {
    // Each statement's rows as the driver returned them: what one page held.
    const pages: { bytes: number; rows: number }[] = [];
    const counting = {
      ...store.driver,
      all: async (sql: string, params?: readonly SqliteValue[]) => {
        const rows = await store.driver.all(sql, params);
        if (rows.some((row) => "data" in row)) {
          const bytes = rows.reduce(
            (sum, row) => sum + Buffer.byteLength(String(row.data)) + Buffer.byteLength(String(row.metadata)),
            0,
          );
          pages.push({ bytes, rows: rows.length });
        }
        return rows;
      },
    };
    // Sizes from empty to 3 KB, in characters of 1 to 4 UTF-8 bytes: the budget counts bytes, not characters.
    const text = fc.string({ unit: fc.constantFrom("a", "é", "€", "😀"), maxLength: 800 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 45 }),
        async (sizes, budget, pageSize, maxCount) => {
          const stream = `Bytes-${ulid()}`;
          const before = await store.getLastGlobalPosition();
          await store.appendToStream(
            stream,
            sizes.map((data) => ({ type: "Sized", data })),
          );
          const reader = new SqliteEventStore({ driver: counting, readPageSize: pageSize, readPageBytes: budget });
          const expected = Math.min(maxCount, sizes.length);
          pages.length = 0;
          const forward = await collect(reader.readStream(stream, { maxCount }));
          expect(forward.map((event) => event.data)).toEqual(sizes.slice(0, expected));
          const backward = await collect(reader.readStream(stream, { direction: "backward", maxCount }));
          expect(backward.map((event) => event.data)).toEqual(sizes.toReversed().slice(0, expected));
          const feed = await collect(reader.readAll({ after: before }));
          expect(feed.map((event) => event.data)).toEqual(sizes);
          expect(feed.map((event) => event.globalPosition)).toEqual(sizes.map((_, n) => before + n + 1));
          for (const page of pages) {
            expect(page.rows).toBeLessThanOrEqual(pageSize);
            if (page.rows > 1) expect(page.bytes).toBeLessThanOrEqual(budget);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("a page of large events stops at readPageBytes (4 MiB by default), not at 1,000 events", async () => {
    const stream = `Large-pages-${ulid()}`;
    const big = "x".repeat(512 * 1024);
    await store.appendToStream(
      stream,
      Array.from({ length: 20 }, () => ({ type: "Big", data: big })),
    );
    const rows: number[] = [];
    const counting = {
      ...store.driver,
      all: async (sql: string, params?: readonly SqliteValue[]) => {
        const result = await store.driver.all(sql, params);
        if (result.some((row) => "data" in row)) rows.push(result.length);
        return result;
      },
    };
    const reader = new SqliteEventStore({ driver: counting });
    expect(await collect(reader.readStream(stream))).toHaveLength(20);
    // 512 KiB and a few bytes each: 7 fit in 4 MiB.
    expect(rows).toEqual([7, 7, 6]);
    expect(() => new SqliteEventStore({ driver: store.driver, readPageBytes: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCode.Validation }),
    );
  });

  test("stream ids and types with unpaired surrogates are refused before anything is written", async () => {
    await expect(store.appendToStream("broken-\ud800", [{ type: "A", data: 1 }])).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
    const stream = `Surrogate-${ulid()}`;
    await expect(store.appendToStream(stream, [{ type: "bad-\udc00", data: 1 }])).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
    expect(await store.streamExists(stream)).toBe(false);
  });

  test("an event over maxEventBytes is refused whole with a PayloadTooLargeError", async () => {
    const small = new SqliteEventStore({ driver: store.driver, maxEventBytes: 100 });
    const stream = `Large-${ulid()}`;
    await expect(
      small.appendToStream(stream, [
        { type: "Fine", data: 1 },
        { type: "Big", data: "x".repeat(200) },
      ]),
    ).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    expect(await store.streamExists(stream)).toBe(false);
    // Counted in UTF-8 bytes: 40 euro signs are 42 UTF-16 units of JSON but 122 bytes.
    await expect(small.appendToStream(stream, [{ type: "Euros", data: "€".repeat(40) }])).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    await small.appendToStream(stream, [{ type: "Accents", data: "é".repeat(40) }]);
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("a new-stream append (no read) meets an existing stream: a ConcurrencyError with its version, or the retry answered", async () => {
    const stream = `Fresh-${ulid()}`;
    const first = [{ id: ulid(), type: "Opened", data: 1 }];
    await store.appendToStream(stream, first, { expectedVersion: "no-stream" });
    for (const expectedVersion of ["no-stream", 0] as const) {
      await expect(
        store.appendToStream(stream, [{ type: "Again", data: 2 }], { expectedVersion }),
      ).rejects.toMatchObject({ code: ErrorCode.Concurrency, actualVersion: 1 });
    }
    const retried = await store.appendToStream(stream, first, { expectedVersion: 0 });
    expect(retried).toMatchObject({ retried: true, nextExpectedVersion: 1 });
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("positions: a refused or rolled-back append leaves no gap; a committed position is never given again, not even after a hard delete of the newest", async () => {
    const db = new Database(":memory:");
    const own = new SqliteEventStore({ driver: bunSqliteDriver(db) });
    await own.migrate();
    const feed = async () => (await collect(own.readAll())).map((e) => `${e.streamId}@${e.globalPosition}`);
    await own.appendToStream("Gap-1", [{ type: "A", data: 1 }]);
    // Refused in its one INSERT (a known version) and in its transaction (past 100 events).
    for (const count of [1, 150]) {
      const events = Array.from({ length: count }, () => ({ type: "A", data: 1 }));
      await expect(own.appendToStream("Gap-1", events, { expectedVersion: 7 })).rejects.toMatchObject({
        code: ErrorCode.Concurrency,
      });
    }
    db.exec("BEGIN IMMEDIATE");
    await own.appendToStream("Gap-2", [{ type: "A", data: 1 }]);
    db.exec("ROLLBACK");
    await own.appendToStream("Gap-3", [{ type: "A", data: 1 }]);
    expect(await feed()).toEqual(["Gap-1@1", "Gap-3@2"]);
    await own.deleteStream("Gap-3", { mode: "hard" });
    await own.appendToStream("Gap-4", [{ type: "A", data: 1 }]);
    // $streams' deletion event took 3: position 2 is not given again.
    expect(await feed()).toEqual(["Gap-1@1", "$streams@3", "Gap-4@4"]);
    db.close();
  });

  test("with a driver's maxValueBytes, each event's data and metadata together must fit it; the batch may exceed it", async () => {
    // Row by row, each event is its own row: the cap (2 MB on Durable Objects) is per value, and per row as well
    // (SQLite's length limit caps both: in workerd, data and metadata of 1.5 MB each fail the INSERT as too big).
    const capped = new SqliteEventStore({ driver: { ...store.driver, maxValueBytes: 300 }, maxEventBytes: 1000 });
    const stream = `Capped-${ulid()}`;
    await expect(capped.appendToStream(stream, [{ type: "Big", data: "x".repeat(400) }])).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
      limit: 300,
    });
    await expect(
      capped.appendToStream(stream, [{ type: "Big", data: 1, metadata: { note: "y".repeat(400) } }]),
    ).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    // Each under the cap, together over it: refused before anything is sent, not failed by the database.
    await expect(
      capped.appendToStream(stream, [{ type: "Big", data: "x".repeat(200), metadata: { note: "y".repeat(200) } }]),
    ).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge, limit: 300, size: 202 + 211 });
    expect(await store.streamExists(stream)).toBe(false);
    const batch = Array.from({ length: 10 }, (_, i) => ({ type: "Fits", data: `${i}`.repeat(200) }));
    const appended = await capped.appendToStream(stream, batch);
    expect(appended.events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test("a snapshot over the driver's maxValueBytes is refused before anything is sent, whatever maxPayloadBytes says", async () => {
    let batches = 0;
    const capped = {
      ...store.driver,
      maxValueBytes: 1000,
      batch: (statements: Parameters<typeof store.driver.batch>[0]) => {
        batches += 1;
        return store.driver.batch(statements);
      },
    };
    for (const maxPayloadBytes of [undefined, 5000]) {
      const snapshots = new SqliteSnapshotStore({ driver: capped, compression: false, maxPayloadBytes });
      expect(snapshots.capabilities.maxPayloadBytes).toBe(1000);
      await expect(
        snapshots.save({ streamId: `Snap-${ulid()}`, version: 1, state: { text: "z".repeat(3000) } }),
      ).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge, limit: 1000 });
    }
    expect(batches).toBe(0);
  });

  test("a batch's positions are those stored: each INSERT's last rowid through the driver's write, 100 rows an INSERT (a wrapped driver makes a gap between them: SQLite never does)", async () => {
    const base = store.driver;
    const write = base.write;
    if (write === undefined) throw new Error("bun:sqlite driver has write");
    let inserts = 0;
    const skipping = {
      ...base,
      write: (sql: string, params?: readonly SqliteValue[]) => {
        if (sql.startsWith("INSERT") && ++inserts === 2)
          write("UPDATE sqlite_sequence SET seq = seq + 5 WHERE name = 'eventflows_events'");
        return write(sql, params);
      },
    };
    const gappy = new SqliteEventStore({ driver: skipping });
    const stream = `Gaps-${ulid()}`;
    const appended = await gappy.appendToStream(
      stream,
      Array.from({ length: 150 }, (_, n) => ({ type: "N", data: n })),
      { expectedVersion: "no-stream" },
    );
    const stored = await collect(store.readStream(stream));
    expect(inserts).toBe(2);
    expect(appended.events.map((e) => e.globalPosition)).toEqual(stored.map((e) => e.globalPosition));
    expect(appended.events.map((e) => e.version)).toEqual(stored.map((e) => e.version));
    expect(stored[100]?.globalPosition).toBe((stored[99]?.globalPosition ?? 0) + 6);
  });

  test("a batch's positions are those stored: without write, first and last RETURNING, read back if not consecutive (a wrapped driver makes the gap: SQLite never does)", async () => {
    // SQLite's AUTOINCREMENT hands out consecutive positions under the write lock; a driver that
    // skips one between the first and last INSERT shows the store reads the real ones back.
    const base = store.driver;
    const transaction = base.transaction;
    if (transaction === undefined) throw new Error("bun:sqlite driver has a transaction");
    const skipping = {
      ...base,
      write: undefined,
      transaction: <T>(work: (all: SyncStatementRunner) => T): T =>
        transaction((all) => {
          let inserts = 0;
          return work((sql, params) => {
            if (sql.startsWith("INSERT") && ++inserts === 2)
              all("UPDATE sqlite_sequence SET seq = seq + 5 WHERE name = 'eventflows_events'");
            return all(sql, params);
          });
        }),
    };
    const gappy = new SqliteEventStore({ driver: skipping });
    const stream = `Gaps-${ulid()}`;
    const appended = await gappy.appendToStream(
      stream,
      [1, 2, 3, 4].map((n) => ({ type: "N", data: n })),
    );
    const stored = await collect(store.readStream(stream));
    expect(appended.events.map((e) => e.globalPosition)).toEqual(stored.map((e) => e.globalPosition));
    expect(stored[1]?.globalPosition).toBe((stored[0]?.globalPosition ?? 0) + 6);
  });

  test("bad options are refused with a ValidationError", () => {
    const bad = [
      {},
      { driver: {} },
      { driver: store.driver, tablePrefix: "Bad-Prefix" },
      { driver: store.driver, tablePrefix: "sqlite_x" },
      { driver: store.driver, maxEventBytes: 0 },
      { driver: store.driver, readPageSize: 1.5 },
    ];
    for (const options of bad) {
      expect(() => new SqliteEventStore(options as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation }),
      );
    }
    expect(() => new SqliteSnapshotStore({ driver: undefined as never })).toThrow(
      "Invalid SQLite snapshot store options",
    );
    expect(() => new SqliteCheckpointStore({ driver: null as never })).toThrow("Invalid checkpoint store options");
    expect(() => bunSqliteDriver({} as never)).toThrow("Invalid SQLite driver");
  });

  test("an unmigrated database fails with a ServiceError that names the fix and quotes no SQL", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const fresh = new SqliteEventStore({ driver: bunSqliteDriver(db) });
    const error = await fresh.appendToStream("S", [{ type: "A", data: 1 }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "NOT_MIGRATED", retryable: false });
    expect(String((error as Error).message)).toContain("migrate()");
    expect(String((error as Error).message)).not.toMatch(/INSERT|SELECT|eventflows_events/);
    expect(String(((error as Error).cause as Error).message)).not.toMatch(/INSERT|SELECT/);
  });

  test("a database locked by another writer beyond busy_timeout fails with a retryable BUSY ServiceError", async () => {
    const holder = new Database(file);
    opened.push(holder);
    const impatient = new Database(file);
    opened.push(impatient);
    const quick = new SqliteEventStore({ driver: bunSqliteDriver(impatient, { busyTimeoutMs: 0 }) });
    holder.exec("BEGIN IMMEDIATE");
    try {
      const error = await quick.appendToStream(`Locked-${ulid()}`, [{ type: "A", data: 1 }]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "BUSY", retryable: true });
    } finally {
      holder.exec("ROLLBACK");
    }
  });
});

describe("SQLite stores inside the application's transaction (bun:sqlite)", () => {
  test("appends and snapshot saves join it: rolled back with it, committed with it", async () => {
    const db = new Database(join(dir, "joined.db"));
    opened.push(db);
    const driver = bunSqliteDriver(db);
    const events = new SqliteEventStore({ driver });
    await events.migrate();
    const snapshots = new SqliteSnapshotStore({ driver });
    const [gone, kept] = [`Joined-${ulid()}`, `Joined-${ulid()}`];
    for (const [stream, end] of [
      [gone, "ROLLBACK"],
      [kept, "COMMIT"],
    ] as const) {
      db.exec("BEGIN IMMEDIATE");
      await events.appendToStream(stream, [{ type: "A", data: 1 }]);
      await snapshots.save({ streamId: stream, version: 1, state: { n: 1 } });
      db.exec(end);
    }
    expect(await events.getStreamVersion(gone)).toBe(0);
    expect(await snapshots.load(gone)).toBeUndefined();
    expect(await events.getStreamVersion(kept)).toBe(1);
    expect((await snapshots.load(kept))?.state).toEqual({ n: 1 });
  });

  test("a batch that fails inside it rolls back its own statements only", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const driver = bunSqliteDriver(db);
    db.exec("CREATE TABLE t (v INTEGER NOT NULL)");
    db.exec("BEGIN");
    db.exec("INSERT INTO t VALUES (1)");
    await expect(
      driver.batch([{ sql: "INSERT INTO t VALUES (2)" }, { sql: "INSERT INTO t VALUES (NULL)" }]),
    ).rejects.toThrow();
    db.exec("COMMIT");
    expect(db.query("SELECT v FROM t").all()).toEqual([{ v: 1 }]);
  });
});

describe("SQLite migrations", () => {
  test("run again, they apply nothing; upgrades go step by step; concurrent runs each end at the latest", async () => {
    const db = new Database(join(dir, "migrations.db"));
    opened.push(db);
    const driver = bunSqliteDriver(db);
    const prefixed = new SqliteEventStore({ driver, tablePrefix: "m_" });
    expect(await prefixed.migrate({ to: 1 })).toEqual({ applied: [1], version: 1 });
    expect(await prefixed.migrate()).toEqual({ applied: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], version: 11 });
    expect(await prefixed.migrate()).toEqual({ applied: [], version: 11 });
    const others = Array.from(
      { length: 4 },
      () =>
        new SqliteEventStore({ driver: bunSqliteDriver(new Database(join(dir, "migrations.db"))), tablePrefix: "n_" }),
    );
    const results = await Promise.all(others.map((s) => s.migrate()));
    expect(results.every((r) => r.version === 11)).toBe(true);
    expect(results.flatMap((r) => r.applied)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test("migration 6 on deletions made by schema 5: each row learns where its $stream-deleted event is, which is then read by key", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const driver = bunSqliteDriver(db);
    expect(await migrateSqlite(driver, { to: 5 })).toMatchObject({ version: 5 });
    // As a schema-5 store wrote them (this release's store writes event_version, which 5 lacks).
    const lifecycle: Record<string, { id: string; version: number }[]> = {};
    const record = (type: string, data: Record<string, unknown>) => {
      const id = ulid();
      const row = db
        .query(
          `INSERT INTO "eventflows_events" (stream_id, version, id, type, data, metadata, timestamp)
           SELECT '$streams', coalesce(max(version), 0) + 1, ?, ?, ?, '{}', ? FROM "eventflows_events" WHERE stream_id = '$streams'
           RETURNING version`,
        )
        .get(id, type, JSON.stringify(data), new Date().toISOString()) as { version: number };
      const key = data.streamId as string;
      if (type === "$stream-deleted") lifecycle[key] = [...(lifecycle[key] ?? []), { id, version: row.version }];
    };
    const deleted = (streamId: string, mode: "soft" | "hard") => {
      record("$stream-deleted", { streamId, mode, version: 1, removed: mode === "hard" ? 1 : 0 });
      db.query(
        `INSERT INTO "eventflows_stream_deletions" (stream_id, mode, version, deleted_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (stream_id) DO UPDATE SET mode = excluded.mode`,
      ).run(streamId, mode, new Date().toISOString());
    };
    const [hard, again, soft] = ["Hard-1", "Again-1", "Soft-1"];
    deleted(hard, "hard");
    deleted(again, "soft");
    record("$stream-restored", { streamId: again, version: 1, removed: 0 });
    db.query(`DELETE FROM "eventflows_stream_deletions" WHERE stream_id = ?`).run(again);
    deleted(soft, "soft");
    deleted(again, "soft");
    deleted(soft, "hard");
    for (let i = 0; i < 5; i++) deleted(`Later-${i}`, i % 2 === 0 ? "soft" : "hard");

    expect(await migrateSqlite(driver, { to: 6 })).toEqual({ applied: [6], version: 6 });
    const rows = db
      .query(`SELECT stream_id, event_version FROM "eventflows_stream_deletions" ORDER BY stream_id`)
      .all();
    expect(rows).toEqual(
      Object.entries(lifecycle)
        .map(([stream_id, events]) => ({ stream_id, event_version: events.at(-1)?.version }))
        .sort((a, b) => a.stream_id.localeCompare(b.stream_id)),
    );
    const statements: string[] = [];
    const counting: SqliteDriver = {
      ...driver,
      all: (sql, params) => {
        statements.push(sql);
        return driver.all(sql, params);
      },
    };
    const store = new SqliteEventStore({ driver: counting });
    for (const id of [hard, again, soft]) {
      expect((await store.streamDeletionEvent(id))?.id).toBe(lifecycle[id]?.at(-1)?.id as string);
    }
    // A row with no version (an earlier release deleting after the migration) is found by reading $streams.
    db.query(`UPDATE "eventflows_stream_deletions" SET event_version = NULL WHERE stream_id = ?`).run(again);
    expect((await store.streamDeletionEvent(again))?.id).toBe(lifecycle[again]?.at(-1)?.id as string);
    // This release's deletions record it, a soft deletion turned hard included.
    await store.appendToStream("Fresh-1", [{ type: "A", data: {} }]);
    await store.deleteStream("Fresh-1");
    const hardly = await store.deleteStream("Fresh-1", { mode: "hard" });
    expect(
      db.query(`SELECT event_version FROM "eventflows_stream_deletions" WHERE stream_id = 'Fresh-1'`).get(),
    ).toEqual({ event_version: hardly.event?.version as number });
    // Rows read: every later lifecycle event made unreadable (malformed JSON, which json_extract and
    // the store's decoding refuse), the deletion is still found, in two statements: its row, its event.
    for (let i = 0; i < 20; i++) {
      await store.appendToStream(`After-${i}`, [{ type: "A", data: {} }]);
      await store.deleteStream(`After-${i}`, { mode: i % 2 === 0 ? "soft" : "hard" });
    }
    db.query(`UPDATE "eventflows_events" SET data = 'not json' WHERE stream_id = '$streams' AND version > ?`).run(
      hardly.event?.version as number,
    );
    statements.length = 0;
    // Before: the walk read $streams (json_extract of each $stream-deleted) and failed on the first it met.
    expect((await store.streamDeletionEvent("Fresh-1"))?.id).toBe(hardly.event?.id as string);
    expect(statements).toHaveLength(2);
  });

  test("this release's store on schema 5 (not migrated yet): deleting or probing a deletion is a typed NOT_MIGRATED, nothing half-written", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const driver = bunSqliteDriver(db);
    await migrateSqlite(driver, { to: 5 });
    const stores = [
      new SqliteEventStore({ driver }),
      new SqliteEventStore({ driver: { ...driver, transaction: undefined } }),
    ];
    await stores[0]?.appendToStream("Behind-1", [{ type: "A", data: {} }]);
    for (const store of stores) {
      for (const call of [() => store.deleteStream("Behind-1"), () => store.streamDeletionEvent("Behind-1")]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "NOT_MIGRATED", retryable: false });
        expect(String((error as Error).message)).toContain("run store.migrate()");
      }
    }
    expect(await stores[0]?.getStreamVersion("Behind-1")).toBe(1);
    expect(db.query(`SELECT count(*) AS n FROM "eventflows_events" WHERE stream_id = '$streams'`).get()).toEqual({
      n: 0,
    });
    expect(db.query(`SELECT count(*) AS n FROM "eventflows_stream_deletions"`).get()).toEqual({ n: 0 });
  });

  test("a migrator that loses the race to others stopping at lower versions, one after another, still ends at the latest", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const driver = bunSqliteDriver(db);
    // Before each of its batches, another migrator commits one more version (to 1, then to 2, then 3).
    let others = 0;
    const racing: SqliteDriver = {
      ...driver,
      batch: async (statements) => {
        if (others < 3) await migrateSqlite(bunSqliteDriver(db), { to: ++others });
        return driver.batch(statements);
      },
    };
    expect(await migrateSqlite(racing)).toEqual({ applied: [4, 5, 6, 7, 8, 9, 10, 11], version: 11 });
    expect(await sqliteSchemaVersion(driver)).toBe(11);
    // A batch that fails with nothing recorded since is no race: its error stands, after one retry.
    let batches = 0;
    const broken: SqliteDriver = {
      ...driver,
      batch: async () => {
        batches += 1;
        throw new Error("disk I/O error");
      },
    };
    const fresh = new SqliteEventStore({ driver: broken, tablePrefix: "broken_" });
    await expect(fresh.migrate()).rejects.toMatchObject({ code: ErrorCode.Service, operation: "migrate" });
    expect(batches).toBe(2);
  });

  test("a recorded migration whose SQL changed stops the run", async () => {
    const db = new Database(":memory:");
    opened.push(db);
    const s = new SqliteEventStore({ driver: bunSqliteDriver(db) });
    await s.migrate();
    db.exec(`UPDATE "eventflows_migrations" SET checksum = 'x' WHERE version = 2`);
    await expect(s.migrate()).rejects.toMatchObject({ serviceCode: "MIGRATION_CHANGED" });
  });
});
