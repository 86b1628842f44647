import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { type EventEnvelope, InMemoryEventBus, ulid } from "../../src/index.js";
import { collect, eventually } from "../../src/testing/index.js";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import {
  type AsyncProjection,
  inlineProjection,
  MAX_PROJECTION_NAME_LENGTH,
  PostgresCheckpointStore,
  PostgresEventStore,
  type PostgresSql,
} from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("projections");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 20 });
  await new PostgresEventStore({ sql, schema }).migrate();
  await sql.unsafe(`
    CREATE TABLE ${schema}.cart_totals (cart text PRIMARY KEY, items integer NOT NULL);
    CREATE TABLE ${schema}.applied (event_id text NOT NULL, projection text NOT NULL);`);
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

const cartTotals = inlineProjection({
  name: "cart-totals",
  eventTypes: ["ItemAdded"],
  handle: async (events, { sql: tx }) => {
    for (const event of events) {
      await tx.unsafe(
        `INSERT INTO ${schema}.cart_totals (cart, items) VALUES ($1, 1)
         ON CONFLICT (cart) DO UPDATE SET items = cart_totals.items + 1`,
        [event.streamId],
      );
    }
  },
});

async function itemsOf(cart: string): Promise<number | undefined> {
  const [row] = await sql.unsafe(`SELECT items FROM ${schema}.cart_totals WHERE cart = $1`, [cart]);
  return row === undefined ? undefined : Number(row.items);
}

async function appliedCount(projection: string): Promise<{ total: number; distinct: number }> {
  const [row] = await sql.unsafe(
    `SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct FROM ${schema}.applied WHERE projection = $1`,
    [projection],
  );
  return { total: Number(row?.total), distinct: Number(row?.distinct) };
}

describe("inline projections", () => {
  test("update the read model in the append's transaction, for the types they take", async () => {
    const store = new PostgresEventStore({ sql, schema, projections: [cartTotals] });
    const cart = `Cart-${ulid()}`;
    await store.appendToStream(cart, [
      { type: "ItemAdded", data: { sku: "a" } },
      { type: "ItemAdded", data: { sku: "b" } },
      { type: "CartViewed", data: {} },
    ]);
    expect(await itemsOf(cart)).toBe(2);
    await store.appendToStream(cart, [{ type: "CartViewed", data: {} }]);
    expect(await itemsOf(cart)).toBe(2);
  });

  test("a projection that throws rolls the append back: neither events nor read model change", async () => {
    const failing = inlineProjection({
      name: "failing",
      handle: async (_events, { sql: tx }) => {
        await tx.unsafe(`INSERT INTO ${schema}.cart_totals (cart, items) VALUES ('poisoned', 1)`);
        throw new Error("projection broke");
      },
    });
    const store = new PostgresEventStore({ sql, schema, projections: [cartTotals, failing] });
    const cart = `Cart-${ulid()}`;
    await expect(store.appendToStream(cart, [{ type: "ItemAdded", data: {} }])).rejects.toThrow("projection broke");
    expect(await store.getStreamVersion(cart)).toBe(0);
    expect(await itemsOf(cart)).toBeUndefined();
    expect(await itemsOf("poisoned")).toBeUndefined();
  });

  test("concurrent appends to one stream with projections: versions and read model agree", async () => {
    const store = new PostgresEventStore({ sql, schema, projections: [cartTotals] });
    const cart = `Cart-${ulid()}`;
    await Promise.all(Array.from({ length: 12 }, () => store.appendToStream(cart, [{ type: "ItemAdded", data: {} }])));
    expect(await store.getStreamVersion(cart)).toBe(12);
    expect(await itemsOf(cart)).toBe(12);
  });

  test("bad projection definitions are refused when the store is made", () => {
    for (const projections of [
      [{ name: "", handle: () => undefined }],
      [{ name: "x" }],
      "nope",
      [{ name: "x", handle: () => undefined, eventTypes: [1] }],
    ]) {
      expect(() => new PostgresEventStore({ sql, schema, projections: projections as never })).toThrow(
        "Invalid PostgreSQL event store options",
      );
    }
  });
});

describe("withTransaction", () => {
  test("an append committed in withTransaction wakes the store's subscribeToAll at once (no polling)", async () => {
    const store = new PostgresEventStore({ sql, schema });
    // Tells when the subscription's first read (catching up, empty) is over: from then on only a
    // wake-up makes it read again, for its poll interval is an hour.
    let caughtUp!: () => void;
    const firstReadOver = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    const readAll = store.readAll.bind(store);
    store.readAll = async function* (options) {
      yield* readAll(options);
      caughtUp();
    } as typeof store.readAll;
    const stream = `Woken-${ulid()}`;
    const seen: string[] = [];
    const subscription = store.subscribeToAll({
      after: await store.getLastGlobalPosition(),
      pollIntervalMs: 3_600_000,
      handler: (event) => {
        if (event.streamId === stream) seen.push(event.type);
      },
    });
    try {
      await firstReadOver;
      await store.withTransaction(async (tx) => {
        await tx.appendToStream(stream, [{ type: "Committed", data: {} }]);
      });
      await eventually(() => expect(seen).toEqual(["Committed"]));
    } finally {
      await subscription.stop();
    }
  });

  test("appends to several streams and updates a read model atomically; publishes only after the commit", async () => {
    const bus = new InMemoryEventBus();
    const published: EventEnvelope[] = [];
    bus.subscribeToAll((event) => void published.push(event));
    const store = new PostgresEventStore({ sql, schema, bus });
    const order = `Order-${ulid()}`;
    const stock = `Stock-${ulid()}`;
    const result = await store.withTransaction(async (tx) => {
      await tx.appendToStream(order, [{ type: "OrderPlaced", data: { sku: "x" } }], { expectedVersion: "no-stream" });
      await tx.appendToStream(stock, [{ type: "StockReserved", data: { sku: "x" } }]);
      await tx.sql.unsafe(`INSERT INTO ${schema}.cart_totals (cart, items) VALUES ($1, 7)`, [order]);
      expect(published).toEqual([]);
      expect(await tx.getStreamVersion(order)).toBe(1);
      expect(await store.getStreamVersion(order)).toBe(0);
      return "done";
    });
    expect(result).toBe("done");
    expect(published.map((e) => e.type)).toEqual(["OrderPlaced", "StockReserved"]);
    expect(await store.getStreamVersion(order)).toBe(1);
    expect(await store.getStreamVersion(stock)).toBe(1);
    expect(await itemsOf(order)).toBe(7);
  });

  test("a failure mid-way leaves nothing: no events in any stream, no read-model change, nothing published", async () => {
    const bus = new InMemoryEventBus();
    const published: EventEnvelope[] = [];
    bus.subscribeToAll((event) => void published.push(event));
    const store = new PostgresEventStore({ sql, schema, bus });
    const order = `Order-${ulid()}`;
    const stock = `Stock-${ulid()}`;
    await expect(
      store.withTransaction(async (tx) => {
        await tx.appendToStream(order, [{ type: "OrderPlaced", data: {} }]);
        await tx.sql.unsafe(`INSERT INTO ${schema}.cart_totals (cart, items) VALUES ($1, 1)`, [order]);
        await tx.appendToStream(stock, [{ type: "StockReserved", data: {} }]);
        throw new Error("payment declined");
      }),
    ).rejects.toThrow("payment declined");
    expect(await store.getStreamVersion(order)).toBe(0);
    expect(await store.getStreamVersion(stock)).toBe(0);
    expect(await itemsOf(order)).toBeUndefined();
    expect(published).toEqual([]);
  });

  test("a ConcurrencyError inside rolls the whole transaction back", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const a = `A-${ulid()}`;
    const b = `B-${ulid()}`;
    await store.appendToStream(b, [{ type: "Existing", data: {} }]);
    await expect(
      store.withTransaction(async (tx) => {
        await tx.appendToStream(a, [{ type: "First", data: {} }]);
        await tx.appendToStream(b, [{ type: "Second", data: {} }], { expectedVersion: "no-stream" });
      }),
    ).rejects.toMatchObject({ code: "CONCURRENCY_CONFLICT", actualVersion: 1 });
    expect(await store.getStreamVersion(a)).toBe(0);
    expect(await store.getStreamVersion(b)).toBe(1);
  });

  test("losing a race to another transaction is a ConcurrencyError and nothing of the loser stays", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const stream = `Raced-${ulid()}`;
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appended!: (pid: number) => void;
    const firstAppended = new Promise<number>((resolve) => {
      appended = resolve;
    });
    const winner = store.withTransaction(async (tx) => {
      await tx.appendToStream(stream, [{ type: "Winner", data: {} }], { expectedVersion: 0 });
      const [row] = await tx.sql`SELECT pg_backend_pid() AS pid`;
      appended(Number(row?.pid));
      await hold;
    });
    const winnerPid = await firstAppended;
    const loser = store
      .withTransaction(async (tx) => {
        await tx.appendToStream(`${stream}-side`, [{ type: "SideEffect", data: {} }]);
        await tx.appendToStream(stream, [{ type: "Loser", data: {} }], { expectedVersion: 0 });
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    // Let the winner commit once the loser is really waiting on the winner's row (a signal, not a sleep).
    await eventually(async () => {
      const [row] =
        await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${winnerPid} = ANY(pg_blocking_pids(pid))`;
      expect(row?.n).toBe(1);
    });
    release();
    await winner;
    expect(await loser).toMatchObject({ code: "CONCURRENCY_CONFLICT", actualVersion: 1 });
    expect((await collect(store.readStream(stream))).map((e) => e.type)).toEqual(["Winner"]);
    expect(await store.getStreamVersion(`${stream}-side`)).toBe(0);
  });

  test("an inline projection failing inside a transaction takes its append back, even if the caller carries on", async () => {
    const picky = inlineProjection({
      name: "picky",
      eventTypes: ["Rejected"],
      handle: () => {
        throw new Error("not this one");
      },
    });
    const store = new PostgresEventStore({ sql, schema, projections: [picky] });
    const kept = `Kept-${ulid()}`;
    const dropped = `Dropped-${ulid()}`;
    await store.withTransaction(async (tx) => {
      await tx.appendToStream(kept, [{ type: "Accepted", data: {} }]);
      await expect(tx.appendToStream(dropped, [{ type: "Rejected", data: {} }])).rejects.toThrow("not this one");
      await tx.appendToStream(kept, [{ type: "AcceptedAgain", data: {} }]);
    });
    expect(await store.getStreamVersion(kept)).toBe(2);
    expect(await store.getStreamVersion(dropped)).toBe(0);
  });

  test("a store made on the application's own transaction joins it, projections included", async () => {
    const cart = `Cart-${ulid()}`;
    await sql.begin(async (tx) => {
      const joined = new PostgresEventStore({ sql: tx, schema, projections: [cartTotals] });
      const first = await joined.appendToStream(cart, [{ type: "ItemAdded", data: {} }]);
      const second = await joined.appendToStream(cart, [{ type: "ItemAdded", data: {} }], { expectedVersion: 1 });
      expect(second.events[0]?.globalPosition).toBeGreaterThan(first.events[0]?.globalPosition ?? 0);
      await expect(joined.withTransaction(async () => 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(joined.migrate()).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    });
    expect(await itemsOf(cart)).toBe(2);
    const store = new PostgresEventStore({ sql, schema });
    expect(await store.getStreamVersion(cart)).toBe(2);

    const abandoned = `Cart-${ulid()}`;
    await sql
      .begin(async (tx) => {
        await new PostgresEventStore({ sql: tx, schema, projections: [cartTotals] }).appendToStream(abandoned, [
          { type: "ItemAdded", data: {} },
        ]);
        throw new Error("the application rolls back");
      })
      .catch(() => undefined);
    expect(await store.getStreamVersion(abandoned)).toBe(0);
    expect(await itemsOf(abandoned)).toBeUndefined();
  });

  test("the transaction object is unusable after the transaction ended", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const leaked = await store.withTransaction(async (tx) => tx);
    await expect(leaked.appendToStream(`Leak-${ulid()}`, [{ type: "Late", data: {} }])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  test("bad arguments are refused", async () => {
    const store = new PostgresEventStore({ sql, schema });
    await expect(store.withTransaction(undefined as never)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(
      store.withTransaction(async () => undefined, { isolation: "chaos; DROP TABLE x" as never }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("serializable isolation is honoured", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const level = await store.withTransaction(
      async (tx) => (await tx.sql`SELECT current_setting('transaction_isolation') AS level`)[0]?.level,
      { isolation: "serializable" },
    );
    expect(level).toBe("serializable");
  });
});

describe("asynchronous projections", () => {
  test(`names: a runner is refused exactly when its checkpoint id would not fit (names up to ${MAX_PROJECTION_NAME_LENGTH} characters) (property)`, async () => {
    const store = new PostgresEventStore({ sql, schema });
    const lengths = fc.oneof(
      fc.constantFrom(
        1,
        MAX_PROJECTION_NAME_LENGTH - 1,
        MAX_PROJECTION_NAME_LENGTH,
        MAX_PROJECTION_NAME_LENGTH + 1,
        256,
      ),
      fc.integer({ min: 1, max: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(lengths, fc.constantFrom("n", "é", "名"), async (length, letter) => {
        const name = `${ulid()}${letter.repeat(300)}`.slice(0, length);
        let runner: ReturnType<PostgresEventStore["projectionRunner"]> | undefined;
        try {
          runner = store.projectionRunner({ name, handle: () => undefined });
        } catch (error) {
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(length).toBeGreaterThan(MAX_PROJECTION_NAME_LENGTH);
          return;
        }
        expect(length).toBeLessThanOrEqual(MAX_PROJECTION_NAME_LENGTH);
        const done = await runner.catchUp();
        expect(done?.position).toBe(await store.getLastGlobalPosition());
      }),
      { numRuns: 25 },
    );
  });

  test("an onBatch or onError hook that throws changes nothing: batches still commit once", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const stream = `Hooked-${ulid()}`;
    await store.appendToStream(stream, [{ type: "Hooked", data: {} }]);
    const handled: string[] = [];
    const runner = store.projectionRunner(
      { name: `hooked-${ulid()}`, handle: (events) => void handled.push(...events.map((e) => e.id)) },
      {
        onBatch: () => {
          throw new Error("onBatch broke");
        },
      },
    );
    const first = await runner.catchUp();
    expect(first?.position).toBe(await store.getLastGlobalPosition());
    expect(await runner.catchUp()).toEqual({ read: 0, position: first?.position as number });
    expect(new Set(handled).size).toBe(handled.length);
  });

  const counting = (name: string, extra: Partial<AsyncProjection> = {}): AsyncProjection => ({
    name,
    handle: async (events, { sql: tx }) => {
      for (const event of events) {
        await tx.unsafe(`INSERT INTO ${schema}.applied (event_id, projection) VALUES ($1, $2)`, [event.id, name]);
      }
    },
    ...extra,
  });

  test("catchUp applies every event once and stores the checkpoint with the read model", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `catch-up-${ulid()}`;
    const before = await appliedCount(name);
    const runner = store.projectionRunner(counting(name), { batchSize: 7 });
    const total = await store.getLastGlobalPosition();
    await store.appendToStream(
      `P-${ulid()}`,
      Array.from({ length: 20 }, (_, n) => ({ type: "Counted", data: { n } })),
    );
    const first = await runner.catchUp();
    expect(first?.position).toBeGreaterThan(total);
    const counted = await appliedCount(name);
    expect(counted.total).toBe(counted.distinct);
    const checkpoint = await new PostgresCheckpointStore({ sql, schema }).load(`projection:${name}`);
    expect(checkpoint).toBe(first?.position);
    expect(counted.total - before.total).toBe(await countEventsUpTo(first?.position ?? 0));
    const again = await runner.catchUp();
    expect(again?.read).toBe(0);
    expect((await appliedCount(name)).total).toBe(counted.total);
  });

  test("eventTypes narrows what the handler sees; the checkpoint still passes the rest", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `typed-${ulid()}`;
    const seen: string[] = [];
    const runner = store.projectionRunner({
      name,
      eventTypes: ["Wanted"],
      handle: (events) => void seen.push(...events.map((e) => e.type)),
    });
    const stream = `Typed-${ulid()}`;
    await store.appendToStream(stream, [
      { type: "Wanted", data: {} },
      { type: "Unwanted", data: {} },
      { type: "Wanted", data: {} },
    ]);
    const done = await runner.catchUp();
    expect(seen.every((type) => type === "Wanted")).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(done?.position).toBe(await store.getLastGlobalPosition());
  });

  test("a failing handler rolls its batch back and is retried; nothing is applied twice", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `flaky-${ulid()}`;
    let failures = 0;
    const errors: unknown[] = [];
    const base = counting(name);
    const runner = store.projectionRunner(
      {
        ...base,
        handle: async (events, context) => {
          await base.handle(events, context);
          if (failures < 2) {
            failures++;
            throw new Error("flaky read model");
          }
        },
      },
      { batchSize: 50, pollIntervalMs: 10, retryDelayMs: 10, onError: (error) => void errors.push(error) },
    );
    await store.appendToStream(`Flaky-${ulid()}`, [{ type: "Counted", data: {} }]);
    const target = await store.getLastGlobalPosition();
    runner.start();
    try {
      await eventually(() => expect(runner.position).toBeGreaterThanOrEqual(target), 10_000);
    } finally {
      await runner.stop();
    }
    expect(errors.length).toBe(2);
    const counted = await appliedCount(name);
    expect(counted.total).toBe(counted.distinct);
    expect(counted.total).toBe(await countEventsUpTo(runner.position));
  });

  test("two runners of one projection: one is active, the other stands by and takes over when it stops", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `pair-${ulid()}`;
    const other = await postgresTestClient({ max: 4 });
    try {
      const storeB = new PostgresEventStore({ sql: other, schema });
      const options = { batchSize: 5, pollIntervalMs: 10, standbyPollMs: 20, onError: () => undefined };
      const a = store.projectionRunner(counting(name), options);
      const b = storeB.projectionRunner(counting(name), options);
      a.start();
      await eventually(() => expect(a.active).toBe(true));
      b.start();
      const stream = `Pair-${ulid()}`;
      for (let i = 0; i < 6; i++) await store.appendToStream(stream, [{ type: "Counted", data: { i } }]);
      let target = await store.getLastGlobalPosition();
      await eventually(() => expect(a.position).toBeGreaterThanOrEqual(target), 10_000);
      expect(b.active).toBe(false);
      expect(b.position).toBe(0);

      await a.stop();
      for (let i = 0; i < 6; i++) await store.appendToStream(stream, [{ type: "Counted", data: { i } }]);
      target = await store.getLastGlobalPosition();
      await eventually(() => expect(b.active).toBe(true), 10_000);
      await eventually(() => expect(b.position).toBeGreaterThanOrEqual(target), 10_000);
      await b.stop();
      const counted = await appliedCount(name);
      expect(counted.total).toBe(counted.distinct);
      expect(counted.total).toBe(await countEventsUpTo(b.position));
    } finally {
      await other.end();
    }
  });

  test("catchUp while another runner is active does nothing and says so", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `busy-${ulid()}`;
    const active = store.projectionRunner(counting(name), { pollIntervalMs: 10, onError: () => undefined });
    active.start();
    try {
      await eventually(() => expect(active.active).toBe(true));
      expect(await store.projectionRunner(counting(name)).catchUp()).toBeUndefined();
    } finally {
      await active.stop();
    }
  });

  test("a runner process killed with SIGKILL mid-run: a new runner resumes from the checkpoint, nothing applied twice", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const name = `killed-${ulid()}`;
    const stream = `Killed-${ulid()}`;
    for (let i = 0; i < 10; i++) {
      await store.appendToStream(
        stream,
        Array.from({ length: 10 }, (_, n) => ({ type: "Counted", data: { i, n } })),
      );
    }
    const target = await store.getLastGlobalPosition();
    const worker = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "..", "..", "test", "postgres", "projection-worker.ts"),
        await ensurePostgres(),
        schema,
        name,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    worker.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    let batches = 0;
    await new Promise<void>((resolve, reject) => {
      const early = (code: number | null) => reject(new Error(`worker exited early (${code}): ${stderr}`));
      worker.once("exit", early);
      worker.stdout.on("data", (chunk) => {
        batches += String(chunk)
          .split("\n")
          .filter((line) => line.startsWith("batch ")).length;
        if (batches >= 3) {
          worker.off("exit", early);
          resolve();
        }
      });
    });
    worker.kill("SIGKILL");
    await exited;
    const checkpoints = new PostgresCheckpointStore({ sql, schema });
    const atKill = (await checkpoints.load(`projection:${name}`)) ?? 0;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(target);
    const afterKill = await appliedCount(name);
    expect(afterKill.total).toBe(afterKill.distinct);
    expect(afterKill.total).toBe(await countEventsUpTo(atKill));

    // The killed process's lock went with its connection: a new runner takes over at once.
    await eventually(async () => {
      expect(await store.projectionRunner(counting(name), { batchSize: 10 }).catchUp()).toBeDefined();
    }, 10_000);
    const final = await appliedCount(name);
    expect(final.total).toBe(final.distinct);
    expect(final.total).toBe(await countEventsUpTo(target));
  }, 60_000);

  test("bad runner options and projections are refused", () => {
    const store = new PostgresEventStore({ sql, schema });
    const ok = counting("fine");
    for (const [projection, options] of [
      [{ ...ok, handle: undefined }, {}],
      [{ ...ok, name: "" }, {}],
      [{ ...ok, eventTypes: "Counted" }, {}],
      [ok, { batchSize: 0 }],
      [ok, { batchSize: 1.5 }],
      [ok, { pollIntervalMs: -1 }],
      [ok, { batchSize: 1_000_000 }],
    ] as const) {
      expect(() => store.projectionRunner(projection as never, options as never)).toThrow("Invalid");
    }
  });
});

/** Events in the whole store up to a position: what a projection over the whole feed has applied by then. */
async function countEventsUpTo(position: number): Promise<number> {
  const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.events WHERE global_position <= $1`, [
    String(position),
  ]);
  return Number(row?.n);
}
