import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type EventEnvelope, projection } from "../../src/index.js";
import { collect, eventually, untilHeadReadable, untilReadable } from "../../src/testing/index.js";
import { holdOpenTransaction } from "../../test/postgres/open-transaction.ts";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { POSITION_BITS, PostgresEventStore, type PostgresSql, postgresProjectionRunner } from "./index.js";

let sql: PostgresSql;
let store: PostgresEventStore;
const schema = uniqueSchema("order");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 20 });
  store = new PostgresEventStore({ sql, schema });
  await store.migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

/** A transaction held open until `release()`; `ready` resolves once `body` has run inside it. */
function openTransaction(
  body: (tx: Parameters<Parameters<PostgresEventStore["withTransaction"]>[0]>[0]) => Promise<void>,
) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const done = store.withTransaction(async (tx) => {
    await body(tx);
    ready();
    await released;
  });
  return { ready: isReady, release, done };
}

const mine = (events: EventEnvelope[], ...streams: string[]) => events.filter((e) => streams.includes(e.streamId));

describe("PostgresEventStore global order", () => {
  // A subscription woken by its own store's append reads at once; when another transaction hides the
  // event from readers (it holds a transaction id, here outside any store, so its commit wakes
  // nothing), that read comes back empty. It then slept pollIntervalMs (10 s here) before looking again;
  // now it watches for the event to become readable, bounded by pollIntervalMs, and hands it over then.
  test("a woken subscription delivers its store's append once a blocking transaction ends, not at the next poll", async () => {
    const start = await store.getLastGlobalPosition();
    const stream = `Woken-${crypto.randomUUID()}`;
    const seen: number[] = [];
    // An hour between polls, past the test's timeout: the append arriving at all is the wake-up's doing
    // (no clock is read).
    const subscription = store.subscribeToAll({
      after: start,
      pollIntervalMs: 3_600_000,
      handler: (event) => {
        if (event.streamId === stream) seen.push(event.version);
      },
    });
    const release = await holdOpenTransaction(sql);
    try {
      // Past the subscription's first (empty) read, which now waits for the next poll or a wake-up.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await store.appendToStream(stream, [{ type: "Appended", data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual([]); // hidden while the older transaction is open
      await release();
      await eventually(() => expect(seen).toEqual([1]), 15_000);
    } finally {
      await release();
      await subscription.stop();
    }
  }, 20_000);

  test("an open transaction holds readers back: a lower position committed later is not skipped", async () => {
    const start = await store.getLastGlobalPosition();
    const slow = `Slow-${crypto.randomUUID()}`;
    const fast = `Fast-${crypto.randomUUID()}`;
    const seen: EventEnvelope[] = [];
    const subscription = store.subscribeToAll({
      after: start,
      pollIntervalMs: 10,
      handler: (event) => {
        if (event.streamId === slow || event.streamId === fast) seen.push(event);
      },
    });
    try {
      const open = openTransaction(async (tx) => {
        await tx.appendToStream(slow, [{ type: "SlowAppended", data: { n: 1 } }]);
      });
      await open.ready;
      const committed = await store.appendToStream(fast, [{ type: "FastAppended", data: { n: 2 } }]);
      expect(await store.getStreamVersion(fast)).toBe(1);

      // The fast event is committed, but the slow transaction (older, lower position) is open.
      expect(mine(await collect(store.readAll({ after: start })), slow, fast)).toEqual([]);
      expect(await store.getLastGlobalPosition()).toBeLessThan(committed.events[0]?.globalPosition ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toEqual([]);

      open.release();
      await open.done;
      // Readers may still stop below another client's transaction (other tests share the server).
      await untilHeadReadable(store);
      const all = mine(await collect(store.readAll({ after: start })), slow, fast);
      expect(all.map((e) => e.type)).toEqual(["SlowAppended", "FastAppended"]);
      expect(all[0]?.globalPosition).toBeLessThan(all[1]?.globalPosition ?? 0);
      await eventually(() => expect(seen.map((e) => e.type)).toEqual(["SlowAppended", "FastAppended"]));
    } finally {
      await subscription.stop();
    }
  });

  test("a transaction that began before another but appends after it still sorts first, and is not skipped", async () => {
    const start = await store.getLastGlobalPosition();
    const early = `Early-${crypto.randomUUID()}`;
    const late = `Late-${crypto.randomUUID()}`;
    let releaseEarly!: () => void;
    const earlyMayAppend = new Promise<void>((resolve) => {
      releaseEarly = resolve;
    });
    let began!: () => void;
    const earlyBegan = new Promise<void>((resolve) => {
      began = resolve;
    });
    const earlyDone = store.withTransaction(async (tx) => {
      // A write of its own gives the transaction its id now, before the other one's.
      await tx.sql`SELECT pg_current_xact_id()`;
      began();
      await earlyMayAppend;
      await tx.appendToStream(early, [{ type: "EarlyAppended", data: {} }]);
    });
    await earlyBegan;
    const lateResult = await store.appendToStream(late, [{ type: "LateAppended", data: {} }]);
    const readBefore = mine(await collect(store.readAll({ after: start })), early, late);
    expect(readBefore).toEqual([]);
    releaseEarly();
    await earlyDone;
    // Readers may still stop below another client's transaction (other tests share the server).
    await untilHeadReadable(store);
    const all = mine(await collect(store.readAll({ after: start })), early, late);
    expect(all.map((e) => e.type)).toEqual(["EarlyAppended", "LateAppended"]);
    expect(all[1]?.globalPosition).toBe(lateResult.events[0]?.globalPosition);
  });

  test("an older transaction that appends after a younger one is read first; the younger one is not skipped", async () => {
    // The case a sequence gets wrong: the younger transaction takes the lower sequence value, the
    // older one commits first and a reader passes it, then the younger commits below the reader.
    const start = await store.getLastGlobalPosition();
    const olderStream = `Older-${crypto.randomUUID()}`;
    const youngerStream = `Younger-${crypto.randomUUID()}`;
    let olderHasId!: () => void;
    const olderIdTaken = new Promise<void>((resolve) => {
      olderHasId = resolve;
    });
    let mayAppend!: () => void;
    const olderMayAppend = new Promise<void>((resolve) => {
      mayAppend = resolve;
    });
    const older = store.withTransaction(async (tx) => {
      await tx.sql`SELECT pg_current_xact_id()`;
      olderHasId();
      await olderMayAppend;
      return tx.appendToStream(olderStream, [{ type: "OlderAppended", data: {} }]);
    });
    await olderIdTaken;
    const younger = openTransaction(async (tx) => {
      await tx.appendToStream(youngerStream, [{ type: "YoungerAppended", data: {} }]);
    });
    await younger.ready;
    mayAppend();
    // The younger transaction still open does not hide the older one's event (its id is lower), but
    // another client's transaction (other tests share the server) may, for a moment.
    await untilReadable(store, await older);

    const firstRead = mine(await collect(store.readAll({ after: start })), olderStream, youngerStream);
    expect(firstRead.map((e) => e.type)).toEqual(["OlderAppended"]);
    const checkpoint = firstRead[0]?.globalPosition ?? 0;
    younger.release();
    await younger.done;
    await untilHeadReadable(store);
    const secondRead = mine(await collect(store.readAll({ after: checkpoint })), olderStream, youngerStream);
    expect(secondRead.map((e) => e.type)).toEqual(["YoungerAppended"]);
  });

  test("positions encode the transaction id: every event of a transaction shares its upper bits", async () => {
    const a = `Tx-${crypto.randomUUID()}`;
    const b = `Tx-${crypto.randomUUID()}`;
    const [first, second] = await store.withTransaction(async (tx) => [
      await tx.appendToStream(a, [
        { type: "One", data: 1 },
        { type: "Two", data: 2 },
      ]),
      await tx.appendToStream(b, [{ type: "Three", data: 3 }]),
    ]);
    const positions = [...(first?.events ?? []), ...(second?.events ?? [])].map((e) => e.globalPosition ?? 0);
    expect(positions).toHaveLength(3);
    const shift = 2 ** POSITION_BITS;
    expect(new Set(positions.map((p) => Math.floor(p / shift))).size).toBe(1);
    expect(positions.map((p) => p % shift)).toEqual([1, 2, 3]);
    const [row] = await sql.unsafe(
      `SELECT transaction_id::text AS xid FROM ${schema}.events WHERE global_position = $1`,
      [String(positions[0])],
    );
    expect(Number(row?.xid)).toBe(Math.floor((positions[0] ?? 0) / shift));
  });

  test("writers racing in transactions of random length: a follower sees every event once, in position order", async () => {
    const start = await store.getLastGlobalPosition();
    const prefix = `Race-${crypto.randomUUID()}`;
    const seen: EventEnvelope[] = [];
    const subscription = store.subscribeToAll({
      after: start,
      pollIntervalMs: 5,
      batchSize: 7,
      handler: (event) => {
        if (event.streamId.startsWith(prefix)) seen.push(event);
      },
    });
    const writers = 8;
    const appends = 15;
    try {
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let n = 0; n < appends; n++) {
            await store.withTransaction(async (tx) => {
              if (n % 2 === 0) await tx.sql`SELECT pg_current_xact_id()`;
              await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
              await tx.appendToStream(`${prefix}-${writer}`, [{ type: "Raced", data: { writer, n } }]);
              await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
            });
          }
        }),
      );
      await eventually(() => expect(seen.length).toBe(writers * appends), 20_000);
    } finally {
      await subscription.stop();
    }
    const positions = seen.map((e) => e.globalPosition ?? 0);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(new Set(seen.map((e) => e.id)).size).toBe(writers * appends);
    for (let writer = 0; writer < writers; writer++) {
      const own = seen.filter((e) => e.streamId === `${prefix}-${writer}`).map((e) => (e.data as { n: number }).n);
      expect(own).toEqual(Array.from({ length: appends }, (_, n) => n));
    }
  }, 60_000);
});

describe("PostgresEventStore stream order in the global feed", () => {
  test("an older transaction appending v2 after a younger one committed v1: the feed still has v1 before v2", async () => {
    const start = await store.getLastGlobalPosition();
    const stream = `Ordered-${crypto.randomUUID()}`;
    let olderHasId!: () => void;
    const olderIdTaken = new Promise<void>((resolve) => {
      olderHasId = resolve;
    });
    let mayAppend!: () => void;
    const olderMayAppend = new Promise<void>((resolve) => {
      mayAppend = resolve;
    });
    const older = store.withTransaction(async (tx) => {
      // Writes elsewhere first: the transaction's id is older than the next appender's.
      await tx.appendToStream(`Elsewhere-${crypto.randomUUID()}`, [{ type: "Elsewhere", data: {} }]);
      olderHasId();
      await olderMayAppend;
      return tx.appendToStream(stream, [{ type: "Second", data: {} }]);
    });
    await olderIdTaken;
    const first = await store.appendToStream(stream, [{ type: "First", data: {} }]);
    mayAppend();
    const second = await older;
    expect(first.events[0]?.version).toBe(1);
    expect(second.events[0]?.version).toBe(2);
    expect(second.events[0]?.globalPosition).toBeGreaterThan(first.events[0]?.globalPosition ?? 0);

    // Readers may still stop below another client's transaction (other tests share the server).
    await untilReadable(store, second);
    const feed = (await collect(store.readAll({ after: start }))).filter((e) => e.streamId === stream);
    expect(feed.map((e) => e.version)).toEqual([1, 2]);
    const seen: EventEnvelope[] = [];
    const subscription = store.subscribeToAll({
      after: start,
      pollIntervalMs: 10,
      handler: (event) => {
        if (event.streamId === stream) seen.push(event);
      },
    });
    try {
      await eventually(() => expect(seen.map((e) => e.version)).toEqual([1, 2]));
    } finally {
      await subscription.stop();
    }
    const projected: number[] = [];
    const runner = postgresProjectionRunner(
      store,
      projection({
        name: `ordered-${crypto.randomUUID()}`,
        streams: [stream],
        handle: (event) => {
          projected.push(event.version);
        },
      }),
    );
    await runner.catchUp();
    expect(projected).toEqual([1, 2]);
  });
});

/** One writer of a generated schedule: a plain append, or a transaction that may take its id early. */
interface ScheduledWriter {
  readonly inTransaction: boolean;
  /** Takes its transaction id at `open`, long before it appends (only in a transaction). */
  readonly early: boolean;
  /** Streams (indexes) it appends to, in order, when it finishes. */
  readonly appends: readonly number[];
  /** Where its open and finish steps fall in the schedule. */
  readonly openAt: number;
  readonly finishAfter: number;
}

describe("PostgresEventStore stream order (property)", () => {
  test("any interleaving of transactions' ids and commits: per stream the feed is in version order, and a follower skips nothing", async () => {
    const writer = fc.record({
      inTransaction: fc.boolean(),
      early: fc.boolean(),
      appends: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
      openAt: fc.integer({ min: 0, max: 20 }),
      finishAfter: fc.integer({ min: 1, max: 20 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(writer, { minLength: 1, maxLength: 5 }), async (writers: ScheduledWriter[]) => {
        const prefix = `Prop-${crypto.randomUUID()}-`;
        const streams = [0, 1, 2].map((i) => `${prefix}${i}`);
        const start = await store.getLastGlobalPosition();
        const steps = writers
          .flatMap((w, i) => [
            { at: w.openAt, i, finish: false },
            { at: w.openAt + w.finishAfter, i, finish: true },
          ])
          .sort((x, y) => x.at - y.at || Number(x.finish) - Number(y.finish));
        const held = new Map<number, { release: () => void; done: Promise<unknown> }>();
        const followed: EventEnvelope[] = [];
        let checkpoint = start;
        const follow = async () => {
          const read = await collect(store.readAll({ after: checkpoint }));
          followed.push(...mine(read, ...streams));
          checkpoint = read[read.length - 1]?.globalPosition ?? checkpoint;
        };
        const append = (w: ScheduledWriter, target: Pick<PostgresEventStore, "appendToStream">) =>
          w.appends.reduce<Promise<unknown>>(
            (previous, s) =>
              previous.then(() => target.appendToStream(streams[s] as string, [{ type: "Scheduled", data: { s } }])),
            Promise.resolve(),
          );
        try {
          for (const step of steps) {
            const w = writers[step.i] as ScheduledWriter;
            if (!step.finish) {
              if (!w.inTransaction) continue;
              let release!: () => void;
              const gate = new Promise<void>((resolve) => {
                release = resolve;
              });
              let opened!: () => void;
              const isOpen = new Promise<void>((resolve) => {
                opened = resolve;
              });
              const done = store.withTransaction(async (tx) => {
                if (w.early) await tx.sql`SELECT pg_current_xact_id()`;
                opened();
                await gate;
                await append(w, tx);
              });
              await isOpen;
              held.set(step.i, { release, done });
            } else if (w.inTransaction) {
              const h = held.get(step.i);
              h?.release();
              await h?.done;
            } else {
              await append(w, store);
            }
            await follow();
          }
        } finally {
          for (const h of held.values()) h.release();
          await Promise.allSettled([...held.values()].map((h) => h.done));
        }
        // Every writer has finished: once readers pass the last commit (another client's transaction
        // on the shared server may hold them back for a moment), the follower resumes from its
        // checkpoint once more and must then have every event, each once.
        await untilHeadReadable(store);
        await follow();
        const feed = mine(await collect(store.readAll({ after: start })), ...streams);
        expect(feed.length).toBe(writers.reduce((n, w) => n + w.appends.length, 0));
        expect(followed.map((e) => e.id)).toEqual(feed.map((e) => e.id));
        for (const stream of streams) {
          const versions = feed.filter((e) => e.streamId === stream).map((e) => e.version);
          expect(versions).toEqual(versions.map((_, n) => n + 1));
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
