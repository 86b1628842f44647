import { describe, expect, test } from "bun:test";
import {
  type EventEnvelope,
  InMemoryEventBus,
  InMemoryReadModelStore,
  projection,
  type ReadModelWriter,
  transactionEndedError,
  ulid,
} from "../../src/index.js";
import { collect, eventually } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import { PostgresEventStore, PostgresReadModelStore, postgresSqlOf } from "./index.js";

const pg = usePostgresSchema("projections", {
  client: { max: 20 },
  migrate: async ({ sql, schema }) => {
    await new PostgresEventStore({ sql, schema }).migrate();
    await sql.unsafe(`
    CREATE TABLE ${schema}.cart_totals (cart text PRIMARY KEY, items integer NOT NULL);`);
  },
});
const { schema } = pg;

const cartTotals = projection<EventEnvelope<"ItemAdded", unknown>>({
  name: "cart-totals",
  types: ["ItemAdded"],
  handle: async (event, { readModels }) => {
    await postgresSqlOf(readModels).unsafe(
      `INSERT INTO ${schema}.cart_totals (cart, items) VALUES ($1, 1)
       ON CONFLICT (cart) DO UPDATE SET items = cart_totals.items + 1`,
      [event.streamId],
    );
  },
});

/** The same count as a document and as state, through the read-model store's own table. */
const cartDocuments = projection<EventEnvelope<"ItemAdded", unknown>, { items: number }>({
  name: "cart-documents",
  types: ["ItemAdded"],
  categories: ["Doc"],
  initialState: { items: 0 },
  handle: async (event, { readModels, state }) => {
    const doc = (await readModels.get<{ items: number }>("carts", event.streamId)) ?? { items: 0 };
    await readModels.put("carts", event.streamId, { items: doc.items + 1 });
    return { items: state.items + 1 };
  },
});

async function itemsOf(cart: string): Promise<number | undefined> {
  const [row] = await pg.sql.unsafe(`SELECT items FROM ${schema}.cart_totals WHERE cart = $1`, [cart]);
  return row === undefined ? undefined : Number(row.items);
}

/** The code of what `run` throws or rejects with, or "ran". */
async function refused(run: () => unknown): Promise<string | undefined> {
  try {
    await run();
    return "ran";
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("inline projections", () => {
  test("update the read model in the append's transaction, for the types they take", async () => {
    const store = new PostgresEventStore({ ...pg.options, projections: [cartTotals] });
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

  test("documents and state are written in the append's transaction, for the streams the filters take", async () => {
    const store = new PostgresEventStore({ ...pg.options, projections: [cartDocuments] });
    const models = new PostgresReadModelStore(pg.options);
    const before = (await models.get<{ items: number }>("projection-state", "cart-documents"))?.items ?? 0;
    const cart = `Doc-${ulid()}`;
    await store.appendToStream(cart, [
      { type: "ItemAdded", data: {} },
      { type: "ItemAdded", data: {} },
    ]);
    await store.appendToStream(`Other-${ulid()}`, [{ type: "ItemAdded", data: {} }]);
    expect(await models.get("carts", cart)).toEqual({ items: 2 });
    expect(await models.get("projection-state", "cart-documents")).toEqual({ items: before + 2 });
  });

  test("a projection that throws rolls the append back with a ProjectionFailedError: neither events nor read model change", async () => {
    const failing = projection({
      name: "failing",
      handle: async (_event, { readModels }) => {
        await postgresSqlOf(readModels).unsafe(
          `INSERT INTO ${schema}.cart_totals (cart, items) VALUES ('poisoned', 1)`,
        );
        throw new Error("projection broke");
      },
    });
    const store = new PostgresEventStore({ ...pg.options, projections: [cartTotals, failing] });
    const cart = `Cart-${ulid()}`;
    const failure = await store.appendToStream(cart, [{ type: "ItemAdded", data: {} }]).catch((error) => error);
    expect(failure).toMatchObject({ code: "PROJECTION_FAILED", projection: "failing", eventType: "ItemAdded" });
    expect(String(failure.cause)).toContain("projection broke");
    expect(await store.getStreamVersion(cart)).toBe(0);
    expect(await itemsOf(cart)).toBeUndefined();
    expect(await itemsOf("poisoned")).toBeUndefined();
  });

  test("concurrent appends to one stream with projections: versions and read model agree", async () => {
    const store = new PostgresEventStore({ ...pg.options, projections: [cartTotals] });
    const cart = `Cart-${ulid()}`;
    await Promise.all(Array.from({ length: 12 }, () => store.appendToStream(cart, [{ type: "ItemAdded", data: {} }])));
    expect(await store.getStreamVersion(cart)).toBe(12);
    expect(await itemsOf(cart)).toBe(12);
  });

  // Side by side at READ COMMITTED, appends to different streams read the same state and document, and
  // the last commit won: 20 appends left a count of 3 (found by an outside audit). An inline projection
  // has no checkpoint, so nothing caught it up. They now apply one after another.
  test("concurrent appends to different streams lose no update of a shared document or the projection's state", async () => {
    const name = `totals-${ulid()}`;
    const totals = projection<EventEnvelope<"ItemAdded", unknown>, { n: number }>({
      name,
      types: ["ItemAdded"],
      initialState: { n: 0 },
      handle: async (_event, { readModels, state }) => {
        const doc = (await readModels.get<{ n: number }>("totals", name)) ?? { n: 0 };
        await readModels.put("totals", name, { n: doc.n + 1 });
        return { n: state.n + 1 };
      },
    });
    const stores = [0, 1].map(() => new PostgresEventStore({ ...pg.options, projections: [totals] }));
    const run = ulid();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (stores[i % 2] as PostgresEventStore).appendToStream(`Cart-${run}-${i}`, [{ type: "ItemAdded", data: {} }]),
      ),
    );
    const readModels = new PostgresReadModelStore({ sql: pg.sql, schema });
    expect(await readModels.get("totals", name)).toEqual({ n: 20 });
    expect(await readModels.get("projection-state", name)).toEqual({ n: 20 });
  });

  // With the lock taken after the append's row, A (X then Y) and B (Y then X) in withTransaction each held a
  // stream the other needed while one waited for the projection's lock: a deadlock, one of them aborted.
  test("two transactions appending to the same streams in opposite orders both commit, and count every event", async () => {
    const name = `pairs-${ulid()}`;
    const counting = projection<EventEnvelope<"ItemAdded", unknown>, { n: number }>({
      name,
      types: ["ItemAdded"],
      initialState: { n: 0 },
      handle: async (_event, { state }) => ({ n: state.n + 1 }),
    });
    const store = new PostgresEventStore({ ...pg.options, projections: [counting] });
    const [x, y] = [`Cart-${ulid()}`, `Cart-${ulid()}`];
    const both = (first: string, second: string) =>
      store.withTransaction(async (tx) => {
        await tx.appendToStream(first, [{ type: "ItemAdded", data: {} }]);
        // Let the other transaction take its first stream before this one takes its second.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await tx.appendToStream(second, [{ type: "ItemAdded", data: {} }]);
      });
    await Promise.all([both(x, y), both(y, x)]);
    const readModels = new PostgresReadModelStore({ sql: pg.sql, schema });
    expect(await readModels.get("projection-state", name)).toEqual({ n: 4 });
  });

  test("bad projection definitions are refused when the store is made", () => {
    for (const projections of [[{ name: "x", handle: () => undefined }], [{ name: "x" }], "nope", [null]]) {
      expect(() => new PostgresEventStore({ ...pg.options, projections: projections as never })).toThrow(
        "Invalid PostgreSQL event store options",
      );
    }
  });
});

describe("withTransaction", () => {
  test("an append committed in withTransaction wakes the store's subscribeToAll at once (no polling)", async () => {
    const store = new PostgresEventStore(pg.options);
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
    const store = new PostgresEventStore({ ...pg.options, bus });
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
    const store = new PostgresEventStore({ ...pg.options, bus });
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
    const store = new PostgresEventStore(pg.options);
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
    const store = new PostgresEventStore(pg.options);
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
        await pg.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${winnerPid} = ANY(pg_blocking_pids(pid))`;
      expect(row?.n).toBe(1);
    });
    release();
    await winner;
    expect(await loser).toMatchObject({ code: "CONCURRENCY_CONFLICT", actualVersion: 1 });
    expect((await collect(store.readStream(stream))).map((e) => e.type)).toEqual(["Winner"]);
    expect(await store.getStreamVersion(`${stream}-side`)).toBe(0);
  });

  test("an inline projection failing inside a transaction takes its append back, even if the caller carries on", async () => {
    const picky = projection<EventEnvelope<"Rejected", unknown>>({
      name: "picky",
      types: ["Rejected"],
      handle: () => {
        throw new Error("not this one");
      },
    });
    const store = new PostgresEventStore({ ...pg.options, projections: [picky] });
    const kept = `Kept-${ulid()}`;
    const dropped = `Dropped-${ulid()}`;
    await store.withTransaction(async (tx) => {
      await tx.appendToStream(kept, [{ type: "Accepted", data: {} }]);
      await expect(tx.appendToStream(dropped, [{ type: "Rejected", data: {} }])).rejects.toMatchObject({
        code: "PROJECTION_FAILED",
      });
      await tx.appendToStream(kept, [{ type: "AcceptedAgain", data: {} }]);
    });
    expect(await store.getStreamVersion(kept)).toBe(2);
    expect(await store.getStreamVersion(dropped)).toBe(0);
  });

  test("a store made on the application's own transaction joins it, projections included", async () => {
    const cart = `Cart-${ulid()}`;
    await pg.sql.begin(async (tx) => {
      const joined = new PostgresEventStore({ sql: tx, schema, projections: [cartTotals] });
      const first = await joined.appendToStream(cart, [{ type: "ItemAdded", data: {} }]);
      const second = await joined.appendToStream(cart, [{ type: "ItemAdded", data: {} }], { expectedVersion: 1 });
      expect(second.events[0]?.globalPosition).toBeGreaterThan(first.events[0]?.globalPosition ?? 0);
      await expect(joined.withTransaction(async () => 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(joined.migrate()).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    });
    expect(await itemsOf(cart)).toBe(2);
    const store = new PostgresEventStore(pg.options);
    expect(await store.getStreamVersion(cart)).toBe(2);

    const abandoned = `Cart-${ulid()}`;
    await pg.sql
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
    const store = new PostgresEventStore(pg.options);
    const leaked = await store.withTransaction(async (tx) => tx);
    await expect(leaked.appendToStream(`Leak-${ulid()}`, [{ type: "Late", data: {} }])).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  // postgres.js hands an ended transaction's statements to the connection it ran on, which is back in
  // the pool: a kept `tx.sql` wrote outside any transaction, or inside another caller's (and was rolled
  // back with it). The docs say `tx` is unusable once ended, its `sql` included.
  test("the transaction's pg.sql is refused after the transaction ended, and writes nothing", async () => {
    const store = new PostgresEventStore(pg.options);
    const leaked = await store.withTransaction(async (tx) => tx);
    const [tagged, unsafe] = [`Leak-${ulid()}`, `Leak-${ulid()}`];
    expect(await refused(() => leaked.sql`INSERT INTO ${pg.sql(schema)}.cart_totals VALUES (${tagged}, 1)`)).toBe(
      "VALIDATION_FAILED",
    );
    expect(await refused(() => leaked.sql.unsafe(`INSERT INTO ${schema}.cart_totals VALUES ($1, 1)`, [unsafe]))).toBe(
      "VALIDATION_FAILED",
    );
    expect(await refused(() => leaked.sql.savepoint(async () => undefined))).toBe("VALIDATION_FAILED");
    expect(await itemsOf(tagged)).toBeUndefined();
    expect(await itemsOf(unsafe)).toBeUndefined();
    // While it is open, the same pg.sql runs (fragments and helpers too).
    const inside = `Leak-${ulid()}`;
    await store.withTransaction(async (tx) => {
      await tx.sql`INSERT INTO ${tx.sql(schema)}.cart_totals ${tx.sql({ cart: inside, items: 3 })}`;
      await tx.sql.savepoint((sp) => sp`UPDATE ${sp(schema)}.cart_totals SET items = 4 WHERE cart = ${inside}`);
    });
    expect(await itemsOf(inside)).toBe(4);
  });

  test("bad arguments are refused", async () => {
    const store = new PostgresEventStore(pg.options);
    await expect(store.withTransaction(undefined as never)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(
      store.withTransaction(async () => undefined, { isolation: "chaos; DROP TABLE x" as never }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("serializable isolation is honoured", async () => {
    const store = new PostgresEventStore(pg.options);
    const level = await store.withTransaction(
      async (tx) => (await tx.sql`SELECT current_setting('transaction_isolation') AS level`)[0]?.level,
      { isolation: "serializable" },
    );
    expect(level).toBe("serializable");
  });
});

// As for withTransaction's tx.sql: postgres.js hands an ended transaction's statements to the
// connection it ran on, back in the pool, and the documents a kept transaction puts are flushed never.
describe("read-model transactions after they ended", () => {
  test("the pg.sql of a PostgresReadModelStore transaction is refused, and writes nothing", async () => {
    const models = new PostgresReadModelStore(pg.options);
    const kept = await models.transaction(async (tx) => tx);
    const [tagged, unsafe] = [`Leak-${ulid()}`, `Leak-${ulid()}`];
    const leaked = postgresSqlOf(kept);
    expect(await refused(() => leaked`INSERT INTO ${pg.sql(schema)}.cart_totals VALUES (${tagged}, 1)`)).toBe(
      "VALIDATION_FAILED",
    );
    expect(await refused(() => leaked.unsafe(`INSERT INTO ${schema}.cart_totals VALUES ($1, 1)`, [unsafe]))).toBe(
      "VALIDATION_FAILED",
    );
    expect(await refused(() => leaked.savepoint(async () => undefined))).toBe("VALIDATION_FAILED");
    expect(await itemsOf(tagged)).toBeUndefined();
    expect(await itemsOf(unsafe)).toBeUndefined();
    // While it is open, the same pg.sql runs.
    const inside = `Leak-${ulid()}`;
    await models.transaction(async (tx) => {
      await postgresSqlOf(tx)`INSERT INTO ${pg.sql(schema)}.cart_totals ${pg.sql({ cart: inside, items: 2 })}`;
    });
    expect(await itemsOf(inside)).toBe(2);
  });

  test("a transaction kept past its end is refused with the core's one error, on PostgreSQL and in memory alike", async () => {
    const ended = transactionEndedError();
    const refusals: unknown[] = [];
    const refusal = async (run: () => unknown) =>
      refusals.push(
        await Promise.resolve()
          .then(run)
          .catch((e) => e),
      );
    let models: ReadModelWriter | undefined;
    await new PostgresReadModelStore(pg.options).transaction(async (tx) => {
      models = tx;
    });
    let memory: ReadModelWriter | undefined;
    await new InMemoryReadModelStore().transaction(async (tx) => {
      memory = tx;
    });
    let store: Parameters<Parameters<PostgresEventStore["withTransaction"]>[0]>[0] | undefined;
    await new PostgresEventStore(pg.options).withTransaction(async (tx) => {
      store = tx;
    });
    await refusal(() => models?.get("kept", "a"));
    await refusal(() => postgresSqlOf(models as ReadModelWriter)`SELECT 1`);
    await refusal(() => memory?.get("kept", "a"));
    await refusal(() => store?.appendToStream(`Kept-${ulid()}`, [{ type: "Kept", data: {} }]));
    expect(refusals).toHaveLength(4);
    for (const error of refusals) expect(error).toMatchObject({ code: ended.code, message: ended.message });
  });

  test("an inline projection's readModels kept past the append are refused, and write nothing", async () => {
    let kept: ReadModelWriter | undefined;
    const keeping = projection<EventEnvelope<"Kept", unknown>>({
      name: "keeping",
      types: ["Kept"],
      handle: async (_event, { readModels }) => {
        kept = readModels;
      },
    });
    const store = new PostgresEventStore({ ...pg.options, projections: [keeping] });
    await store.appendToStream(`Keep-${ulid()}`, [{ type: "Kept", data: {} }]);
    if (kept === undefined) throw new Error("the handler ran");
    const [cart, id] = [`Leak-${ulid()}`, ulid()];
    expect(
      await refused(() =>
        postgresSqlOf(kept as ReadModelWriter).unsafe(`INSERT INTO ${schema}.cart_totals VALUES ($1, 1)`, [cart]),
      ),
    ).toBe("VALIDATION_FAILED");
    expect(await refused(() => kept?.put("kept", id, { n: 1 }))).toBe("VALIDATION_FAILED");
    expect(await refused(() => kept?.delete("kept", id))).toBe("VALIDATION_FAILED");
    expect(await refused(() => kept?.get("kept", id))).toBe("VALIDATION_FAILED");
    expect(await itemsOf(cart)).toBeUndefined();
    expect(await new PostgresReadModelStore(pg.options).get("kept", id)).toBeUndefined();
  });
});
