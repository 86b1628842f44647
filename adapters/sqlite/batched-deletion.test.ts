import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  ErrorCode,
  isStreamLifecycleEvent,
  STREAM_LIFECYCLE_STREAM,
  type StreamLifecycleEvent,
  ulid,
} from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { bunSqliteDriver, type SqliteDriver, SqliteEventStore } from "./index.js";
import { BATCHED_CHANGE_ATTEMPTS } from "./stream-deletion.js";

/*
 * Stream changes without an interactive transaction (D1's form, run here on bun:sqlite without the
 * driver's `transaction`): the change is planned from a read, and its batch guarded by that read's
 * state. These cases move the stream between the read and the batch (a hook on the driver, since no
 * emulator can pause D1 there) and check that the batch is refused whole and the change re-planned.
 */
const db = new Database(":memory:");
const base = bunSqliteDriver(db);
const plain = new SqliteEventStore({ driver: base });
await plain.migrate();
afterAll(() => db.close());

/**
 * A driver without `transaction` over `over` that runs `interfere` just before a batch is sent (after
 * the change read the stream and planned), again before each batch while it returns true.
 */
function interferingDriver(interfere: () => Promise<boolean | undefined>, over: SqliteDriver = base): SqliteDriver {
  let active = true;
  return {
    name: over.name,
    all: over.all,
    batch: async (statements) => {
      if (active) active = (await interfere()) === true;
      return over.batch(statements);
    },
  };
}

const stream = () => `Batched-${ulid()}`;
const happened = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "Happened", data: { n: i } }));
const lifecycleOf = async (id: string) =>
  (await collect(plain.readStream(STREAM_LIFECYCLE_STREAM))).filter(
    (e): e is StreamLifecycleEvent => isStreamLifecycleEvent(e) && e.data.streamId === id,
  );

describe("SqliteEventStore stream changes as one guarded batch (no transaction, as on D1; interleavings injected by a driver hook)", () => {
  test("an append between the read and the batch: the batch is refused whole, the hard delete re-planned, the event removed too", async () => {
    const id = stream();
    await plain.appendToStream(id, happened(2));
    const store = new SqliteEventStore({
      driver: interferingDriver(async () => void (await plain.appendToStream(id, happened(1)))),
    });
    const result = await store.deleteStream(id, { mode: "hard" });
    expect(result).toMatchObject({ changed: true, version: 3, removed: 3 });
    expect(result.event?.data).toMatchObject({ streamId: id, mode: "hard", version: 3, removed: 3 });
    expect(await collect(plain.readStream(id))).toHaveLength(0);
    expect(await lifecycleOf(id)).toHaveLength(1);
    await expect(plain.appendToStream(id, happened(1))).rejects.toMatchObject({ code: ErrorCode.StreamDeleted });
  });

  test("an append between the read and the batch of a soft delete at an exact version: ConcurrencyError, nothing changed", async () => {
    const id = stream();
    await plain.appendToStream(id, happened(2));
    const store = new SqliteEventStore({
      driver: interferingDriver(async () => void (await plain.appendToStream(id, happened(1)))),
    });
    await expect(store.deleteStream(id, { expectedVersion: 2 })).rejects.toMatchObject({
      code: ErrorCode.Concurrency,
    });
    expect(await collect(plain.readStream(id))).toHaveLength(3);
    expect(await lifecycleOf(id)).toHaveLength(0);
  });

  test("a truncation between the read and the batch of another: the second re-plans and removes only what is left", async () => {
    const id = stream();
    await plain.appendToStream(id, happened(6));
    const store = new SqliteEventStore({
      driver: interferingDriver(async () => void (await plain.truncateStream(id, { before: 3 }))),
    });
    const result = await store.truncateStream(id, { before: 5 });
    expect(result).toMatchObject({ changed: true, version: 6, removed: 2 });
    expect((await collect(plain.readStream(id))).map((e) => e.version)).toEqual([5, 6]);
    expect((await lifecycleOf(id)).map((e) => e.data.removed)).toEqual([2, 2]);
  });

  test("a restore racing a hard delete between its read and its batch: StreamDeletedError, the stream stays deleted", async () => {
    const id = stream();
    await plain.appendToStream(id, happened(2));
    await plain.deleteStream(id);
    const store = new SqliteEventStore({
      driver: interferingDriver(async () => void (await plain.deleteStream(id, { mode: "hard" }))),
    });
    await expect(store.restoreStream(id)).rejects.toMatchObject({ code: ErrorCode.StreamDeleted });
    expect((await lifecycleOf(id)).map((e) => e.data.mode)).toEqual(["soft", "hard"]);
  });

  test(`a stream that moves before every one of ${BATCHED_CHANGE_ATTEMPTS} attempts: a retryable ServiceError, nothing changed`, async () => {
    const id = stream();
    await plain.appendToStream(id, happened(1));
    const store = new SqliteEventStore({
      driver: interferingDriver(async () => {
        await plain.appendToStream(id, happened(1));
        return true;
      }),
    });
    await expect(store.deleteStream(id, { mode: "hard" })).rejects.toMatchObject({
      code: ErrorCode.Service,
      serviceCode: "CONTENDED",
      retryable: true,
    });
    expect(await collect(plain.readStream(id))).toHaveLength(1 + BATCHED_CHANGE_ATTEMPTS);
    expect(await lifecycleOf(id)).toHaveLength(0);
  });

  test("a contended restore or truncation names its own operation, not deleteStream", async () => {
    // Before, a restore's CONTENDED error said "deleteStream" (the transactional path's error too).
    const cases = [
      ["restoreStream", (store: SqliteEventStore, id: string) => store.restoreStream(id)],
      ["truncateStream", (store: SqliteEventStore, id: string) => store.truncateStream(id, { before: 2 })],
      ["deleteStream", (store: SqliteEventStore, id: string) => store.deleteStream(id)],
    ] as const;
    for (const [operation, change] of cases) {
      const id = stream();
      await plain.appendToStream(id, happened(2));
      if (operation === "restoreStream") await plain.deleteStream(id);
      const store = new SqliteEventStore({
        // A soft-deleted stream takes no append: it is restored, appended to and deleted again.
        driver: interferingDriver(async () => {
          if (operation === "restoreStream") await plain.restoreStream(id);
          await plain.appendToStream(id, happened(1));
          if (operation === "restoreStream") await plain.deleteStream(id);
          return true;
        }),
      });
      const error = await change(store, id).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "CONTENDED", operation });
      expect(String(error)).toContain(` ${operation} failed`);
    }
  });
});

type Op =
  | {
      readonly kind: "soft" | "hard" | "restore" | "append";
      readonly expected: "any" | number;
      readonly during: boolean;
    }
  | { readonly kind: "truncate"; readonly before: number; readonly expected: "any" | number; readonly during: boolean };

const ops = fc.array(
  fc.record({
    kind: fc.constantFrom("soft", "hard", "restore", "append", "truncate"),
    before: fc.integer({ min: 1, max: 8 }),
    expected: fc.oneof(fc.constant("any" as const), fc.integer({ min: 0, max: 8 })),
    during: fc.boolean(),
  }) as fc.Arbitrary<Op>,
  { minLength: 1, maxLength: 12 },
);

/** What an operation answered, comparable across stores (ids and times differ). */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const result = (await run()) as { changed?: boolean; version?: number; removed?: number } | undefined;
    return { ok: result?.changed ?? true, version: result?.version, removed: result?.removed };
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

function apply(store: SqliteEventStore, id: string, op: Op): Promise<unknown> {
  const expectedVersion = op.expected;
  switch (op.kind) {
    case "append":
      return outcome(() => store.appendToStream(id, happened(1), { expectedVersion }));
    case "soft":
    case "hard":
      return outcome(() => store.deleteStream(id, { mode: op.kind as "soft" | "hard", expectedVersion }));
    case "restore":
      return outcome(() => store.restoreStream(id, { expectedVersion }));
    case "truncate":
      return outcome(() => store.truncateStream(id, { before: op.before, expectedVersion }));
  }
}

describe("SqliteEventStore stream changes as one guarded batch: the same outcomes as the transactional form", () => {
  // Two databases. On the batched one, an append "during" a change lands between the change's read
  // and its batch (the driver hook); on the transactional one the write lock allows it only before
  // the change. Both must end the same: answers, stream, lifecycle events.
  const other = new Database(":memory:");
  const otherBase = bunSqliteDriver(other);
  const otherPlain = new SqliteEventStore({ driver: otherBase });
  afterAll(() => other.close());
  const append: Op = { kind: "append", expected: "any", during: false };

  test("any sequence of changes and appends, appends landing mid-change (fast-check)", async () => {
    await otherPlain.migrate();
    await fc.assert(
      fc.asyncProperty(ops, async (sequence) => {
        const id = stream();
        await plain.appendToStream(id, happened(3));
        await otherPlain.appendToStream(id, happened(3));
        for (const op of sequence) {
          // The batched side first: whether its append landed (only when a batch was about to be
          // sent) says what the transactional side must do before the change.
          let landed: unknown;
          const batched = new SqliteEventStore({
            driver: interferingDriver(async () => {
              if (op.during) landed = await apply(otherPlain, id, append);
              return false;
            }, otherBase),
          });
          const inBatch = await apply(batched, id, op);
          const before = landed === undefined ? undefined : await apply(plain, id, append);
          const inTransaction = await apply(plain, id, op);
          expect({ op, landed, result: inBatch }).toEqual({ op, landed: before, result: inTransaction });
        }
        const content = async (store: SqliteEventStore) => ({
          versions: (await collect(store.readStream(id))).map((e) => e.version),
          lifecycle: (await collect(store.readStream(STREAM_LIFECYCLE_STREAM)))
            .filter((e) => isStreamLifecycleEvent(e) && e.data.streamId === id)
            .map((e) => [e.type, e.data]),
        });
        expect(await content(otherPlain)).toEqual(await content(plain));
      }),
      { numRuns: 60 },
    );
  });
});

describe("removing a long stream's events", () => {
  test("a hard delete or a truncation counts what it removes, and no statement brings the removed rows back (batch and transaction forms)", async () => {
    /** The most rows any one statement returned, through `all`, `batch` and `transaction`. */
    let most = 0;
    const seen = (rows: readonly unknown[]) => {
      most = Math.max(most, rows.length);
      return rows;
    };
    const counting: SqliteDriver = {
      name: base.name,
      all: async (sql, params) => seen(await base.all(sql, params)) as never,
      batch: async (statements) => {
        const results = await base.batch(statements);
        for (const rows of results) seen(rows);
        return results;
      },
    };
    const transactional: SqliteDriver = {
      ...counting,
      transaction: (work) =>
        (base.transaction as NonNullable<SqliteDriver["transaction"]>)((all) =>
          work((sql, params) => seen(all(sql, params)) as never),
        ),
    };
    for (const driver of [counting, transactional]) {
      const store = new SqliteEventStore({ driver });
      const truncated = stream();
      const deleted = stream();
      for (const id of [truncated, deleted]) {
        for (let i = 0; i < 3; i++) await plain.appendToStream(id, happened(1000));
      }
      most = 0;
      expect(await store.truncateStream(truncated, { before: 2501 })).toMatchObject({ removed: 2500 });
      expect(await store.deleteStream(deleted, { mode: "hard" })).toMatchObject({ removed: 3000 });
      expect(most).toBeLessThanOrEqual(1);
      expect((await collect(plain.readStream(truncated))).map((e) => e.version)).toEqual(
        Array.from({ length: 500 }, (_, i) => 2501 + i),
      );
      expect(await plain.getStreamVersion(deleted)).toBe(0);
    }
  });
});

describe("the feed passes soft-deleted streams by in its statement", () => {
  // Each readAll read every soft-deleted stream id into a set before its first page: a follower
  // polling the feed read them all at every poll, however many streams had been deleted.
  test("a feed read reads no deleted stream ids, however many streams are soft-deleted; what it shows is unchanged", async () => {
    const rowsRead: number[] = [];
    const counting: SqliteDriver = {
      ...base,
      all: async (sql, params) => {
        const rows = await base.all(sql, params);
        rowsRead.push(rows.length);
        return rows;
      },
    };
    const store = new SqliteEventStore({ driver: counting });
    const prefix = `Hidden${ulid()}`;
    const start = await store.getLastGlobalPosition();
    for (let i = 0; i < 300; i++) {
      await store.appendToStream(`${prefix}-${i}`, [{ type: "Noted", data: { i } }]);
      if (i % 3 !== 0) await store.deleteStream(`${prefix}-${i}`);
    }
    rowsRead.length = 0;
    const shown = await collect(store.readAll({ after: start }));
    const events = shown.filter((event) => event.streamId.startsWith(prefix));
    expect(events.map((event) => (event.data as { i: number }).i)).toEqual(
      Array.from({ length: 100 }, (_, n) => n * 3),
    );
    // The feed's own rows (100 events and the 200 deletions' lifecycle events), nothing else: no list
    // of ids (and, since migration 7, no statement of its own asking whether some stream is soft-deleted).
    expect(rowsRead.reduce((sum, n) => sum + n, 0)).toBe(shown.length);
    await store.restoreStream(`${prefix}-1`);
    const restored = await collect(store.readAll({ after: start }));
    expect(restored.some((event) => event.streamId === `${prefix}-1`)).toBe(true);
  });
});
