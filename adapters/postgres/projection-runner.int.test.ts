import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import fc from "fast-check";
import {
  type EventEnvelope,
  INLINE_WAIT_MS,
  MAX_PROJECTION_NAME_LENGTH,
  projection,
  setLogger,
  ulid,
} from "../../src/index.js";
import {
  eventually,
  projectionContract,
  registerContract,
  untilHeadReadable,
  untilReadable,
} from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import { countingProjection } from "../../test/postgres/counting-projection.ts";
import { holdOpenTransaction } from "../../test/postgres/open-transaction.ts";
import { killAfterBatches } from "../../test/projections/kill-after-batches.ts";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import {
  PostgresEventStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  postgresProjectionRunner,
  postgresSqlOf,
} from "./index.js";

const pg = usePostgresSchema("projection_runner", {
  client: { max: 20 },
  migrate: async ({ sql, schema }) => {
    await new PostgresEventStore({ sql, schema }).migrate();
    await sql.unsafe(`CREATE TABLE ${schema}.cart_totals (cart text PRIMARY KEY, items integer NOT NULL)`);
  },
});
const { schema } = pg;

registerContract(
  projectionContract({
    name: "projection contract on PostgreSQL (read models, checkpoints, advisory-lock leases)",
    create: () => ({
      eventStore: new PostgresEventStore(pg.options),
      readModels: new PostgresReadModelStore(pg.options),
      lock: new PostgresProjectionLock(pg.options),
    }),
  }),
  { describe, test },
);

describe("PostgresEventStore.projectionRunner", () => {
  test("a handler writes a table of its own through postgresSqlOf, in the batch's transaction", async () => {
    const store = new PostgresEventStore(pg.options);
    const cart = `Cart-${ulid()}`;
    const appended = await store.appendToStream(cart, [
      { type: "ItemAdded", data: {} },
      { type: "ItemAdded", data: {} },
    ]);
    // catchUp reads what the feed's readers see: on a shared server, another client's open
    // transaction can keep a committed append out of it for a moment (see untilReadable).
    await untilReadable(store, appended);
    let fail = true;
    const totals = projection<EventEnvelope<"ItemAdded", object>>({
      name: `cart-totals-${ulid()}`,
      streams: [cart],
      types: ["ItemAdded"],
      handle: async (event, { readModels }) => {
        await postgresSqlOf(readModels).unsafe(
          `INSERT INTO ${schema}.cart_totals (cart, items) VALUES ($1, 1)
           ON CONFLICT (cart) DO UPDATE SET items = cart_totals.items + 1`,
          [event.streamId],
        );
        if (fail) throw new Error("first run fails after writing");
      },
    });
    await expect(
      postgresProjectionRunner(store, totals, { onFailure: () => undefined }).catchUp(),
    ).rejects.toMatchObject({
      code: "PROJECTION_FAILED",
    });
    expect((await pg.sql.unsafe(`SELECT items FROM ${schema}.cart_totals WHERE cart = $1`, [cart])).length).toBe(0);
    fail = false;
    await postgresProjectionRunner(store, totals).catchUp();
    const [row] = await pg.sql.unsafe(`SELECT items FROM ${schema}.cart_totals WHERE cart = $1`, [cart]);
    expect(Number(row?.items)).toBe(2);
  });

  test("whenCaughtUp waits for an append that committed while an older transaction was still in flight", async () => {
    const store = new PostgresEventStore(pg.options);
    const cart = `Cart-${ulid()}`;
    const counted: string[] = [];
    const runner = postgresProjectionRunner(
      store,
      projection({
        name: `head-${ulid()}`,
        streams: [cart],
        handle: async (event) => {
          counted.push(event.type);
        },
      }),
      { pollIntervalMs: 20 },
    );
    // An older transaction with an id of its own, still open when the append commits: readers of the
    // feed cannot pass it yet, so the append's event waits behind it.
    const older = await pg.sql.reserve();
    let caughtUp = false;
    try {
      await older.unsafe("BEGIN");
      await older.unsafe("SELECT pg_current_xact_id()");
      await store.appendToStream(cart, [{ type: "Added", data: {} }]);
      runner.start();
      const waiting = runner.whenCaughtUp().then(() => {
        caughtUp = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Before: whenCaughtUp took the readers' bound as its target and resolved here, the event unprojected.
      expect(caughtUp).toBe(false);
      expect((await runner.lag()).behind).toBeGreaterThan(0);
      await older.unsafe("COMMIT");
      await waiting;
      expect(counted).toEqual(["Added"]);
      expect((await runner.lag()).behind).toBe(0);
    } finally {
      older.release();
      await runner.stop();
    }
  });

  /**
   * A started inline runner counting one stream's events, and another client's transaction with an id
   * of its own, open when the append commits: the feed's readers cannot pass it, so the append's event
   * is committed but not readable until that transaction ends.
   */
  async function inlineBehindOpenTransaction(pollIntervalMs: number) {
    const store = new PostgresEventStore(pg.options);
    const cart = `Inline-${ulid()}`;
    const counted: string[] = [];
    const runner = postgresProjectionRunner(
      store,
      projection({
        name: `inline-${ulid()}`,
        streams: [cart],
        handle: async (event) => {
          counted.push(event.type);
        },
      }),
      { inline: true, pollIntervalMs },
    );
    runner.start();
    const older = await pg.sql.reserve();
    await eventually(() => expect(runner.active).toBe(true));
    await older.unsafe("BEGIN");
    await older.unsafe("SELECT pg_current_xact_id()");
    return { store, cart, counted, runner, older };
  }

  test("an inline runner's append returns with the read model current while another client's older transaction is open", async () => {
    // No poll to fall back on within the test: only the inline step can take the event in.
    const { store, cart, counted, runner, older } = await inlineBehindOpenTransaction(3_600_000);
    let commit: Promise<void> | undefined;
    try {
      let committedOlder = false;
      commit = new Promise((resolve) => setTimeout(resolve, 200)).then(async () => {
        await older.unsafe("COMMIT");
        committedOlder = true;
      });
      await store.appendToStream(cart, [{ type: "Added", data: {} }]);
      // Before: the inline step read the feed once, found nothing readable and let the append return.
      expect(counted).toEqual(["Added"]);
      expect(committedOlder).toBe(true);
    } finally {
      await commit;
      older.release();
      await runner.stop();
    }
  });

  test("an inline append gives up waiting after INLINE_WAIT_MS for a transaction left open elsewhere, warns, and the loop takes the event in once it is readable", async () => {
    const { store, cart, counted, runner, older } = await inlineBehindOpenTransaction(50);
    const warnings: string[] = [];
    setLogger({
      debug: () => undefined,
      info: () => undefined,
      warn: (message) => void warnings.push(message),
      error: () => undefined,
    });
    try {
      const started = Date.now();
      await store.appendToStream(cart, [{ type: "Added", data: {} }]);
      const waited = Date.now() - started;
      // It returned while the other transaction is still open (before the bound it waited for its
      // COMMIT, which comes only below: the test timed out), and only after waiting out the bound.
      expect(waited).toBeGreaterThanOrEqual(INLINE_WAIT_MS);
      expect(counted).toEqual([]);
      expect(warnings.some((line) => line.includes("an inline append returned before its events were readable"))).toBe(
        true,
      );
      await older.unsafe("COMMIT");
      await eventually(() => expect(counted).toEqual(["Added"]));
    } finally {
      setLogger(undefined);
      await older.unsafe("ROLLBACK").catch(() => undefined);
      older.release();
      await runner.stop();
    }
  }, 20_000);

  // As for subscribeToAll: a runner woken by its store's append read at once, found nothing (another
  // transaction held readers back; it holds a transaction id outside any store, so its commit wakes
  // nothing), and slept pollIntervalMs (an hour here, past the test's timeout, so that the append arriving
  // at all is the wake-up's doing: no clock is read) before looking again.
  test("a woken runner takes its store's append in once a blocking transaction ends, not at the next poll", async () => {
    const store = new PostgresEventStore(pg.options);
    const stream = `Woken-${ulid()}`;
    let handled: string | undefined;
    const runner = postgresProjectionRunner(
      store,
      projection({
        name: `woken-${ulid()}`.toLowerCase(),
        handle: async (event) => {
          if (event.streamId === stream) handled = event.type;
        },
      }),
      { pollIntervalMs: 3_600_000 },
    );
    runner.start();
    const release = await holdOpenTransaction(pg.sql);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // its first batch is read: it waits
      await store.appendToStream(stream, [{ type: "Appended", data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(handled).toBeUndefined(); // hidden while the older transaction is open
      await release();
      await eventually(() => expect(handled).toBe("Appended"), 15_000);
    } finally {
      await release();
      await runner.stop();
    }
  }, 20_000);

  test("postgresSqlOf refuses a writer that is not a PostgreSQL transaction", () => {
    const models = new PostgresReadModelStore(pg.options);
    expect(() => postgresSqlOf(models)).toThrow("Not a PostgreSQL read-model transaction");
  });

  test(`names up to ${MAX_PROJECTION_NAME_LENGTH} characters fit the checkpoint table; longer are refused (property)`, async () => {
    const store = new PostgresEventStore(pg.options);
    const lengths = fc.oneof(
      fc.constantFrom(1, MAX_PROJECTION_NAME_LENGTH, MAX_PROJECTION_NAME_LENGTH + 1),
      fc.integer({ min: 1, max: 300 }),
    );
    // Each run's catchUp must end where getLastGlobalPosition says the feed ends: every earlier
    // test's append readable first (see untilReadable).
    await untilHeadReadable(store);
    await fc.assert(
      fc.asyncProperty(lengths, fc.constantFrom("n", "é", "名"), async (length, letter) => {
        const name = `${ulid()}${letter.repeat(300)}`.slice(0, length);
        let defined: ReturnType<typeof projection>;
        try {
          defined = projection({ name, handle: () => undefined });
        } catch (error) {
          expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
          expect(length).toBeGreaterThan(MAX_PROJECTION_NAME_LENGTH);
          return;
        }
        expect(length).toBeLessThanOrEqual(MAX_PROJECTION_NAME_LENGTH);
        const done = await postgresProjectionRunner(store, defined).catchUp();
        expect(done?.position).toBe(await store.getLastGlobalPosition());
      }),
      { numRuns: 15 },
    );
  });

  test("a jsonb-unstorable document is refused before the server sees it", async () => {
    const models = new PostgresReadModelStore(pg.options);
    await expect(models.put("c", "id", { text: "nul\u0000" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("a runner process killed with SIGKILL mid-run, then resumed, ends with the read model a run from scratch makes", async () => {
    const store = new PostgresEventStore(pg.options);
    const name = `killed-${ulid()}`;
    const collection = `killed-${ulid()}`;
    for (let i = 0; i < 10; i++) {
      await store.appendToStream(
        `Killed${i % 3}-${ulid()}`,
        Array.from({ length: 10 }, (_, n) => ({ type: "Counted", data: { i, n } })),
      );
    }
    // The head as committed (getLastGlobalPosition stops below other clients' open transactions).
    const target = await untilHeadReadable(store);
    await killAfterBatches(join(import.meta.dirname, "..", "..", "test", "postgres", "projection-worker.ts"), [
      await ensurePostgres(),
      schema,
      name,
      collection,
    ]);
    const readModels = new PostgresReadModelStore(pg.options);
    const atKill = (await readModels.checkpoints.load(`projection:${name}`)) ?? 0;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(target);

    // The killed process's lease went with its connection: a new runner takes over at once.
    await eventually(async () => {
      expect(await postgresProjectionRunner(store, countingProjection(name, collection)).catchUp()).toBeDefined();
    }, 10_000);
    const scratchName = `scratch-${ulid()}`;
    const scratchCollection = `scratch-${ulid()}`;
    await postgresProjectionRunner(store, countingProjection(scratchName, scratchCollection), {
      batchSize: 7,
    }).catchUp();
    const resumed = await readModels.list(collection);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed).toEqual(await readModels.list(scratchCollection));
    expect(await readModels.get(PROJECTION_STATE, name)).toEqual(await readModels.get(PROJECTION_STATE, scratchName));
  }, 60_000);

  // Catch-up batches were batchSize (1,000) however far behind: a transaction and a commit per
  // 1,000 events; then they doubled from 1,000. A catch-up now reads the store's
  // capabilities.maxBatchSize (10,000) from its first batch.
  test("a catch-up reads up to 10,000 events a batch from the first; the read model is the one 7-event batches make", async () => {
    const own = uniqueSchema("projection_growth");
    const store = new PostgresEventStore({ sql: pg.sql, schema: own });
    await store.migrate();
    try {
      for (let i = 0; i < 35; i++) {
        await store.appendToStream(
          `Grown${i % 5}`,
          Array.from({ length: 100 }, (_, n) => ({ type: "Counted", data: { i, n } })),
        );
      }
      const head = await untilHeadReadable(store);
      const feed: number[] = [];
      for await (const event of store.readAll()) feed.push(event.globalPosition ?? 0);
      expect(feed).toHaveLength(3500);
      const sizes: number[] = [];
      const positions: number[] = [];
      const grown = await postgresProjectionRunner(store, countingProjection("grown", "grown"), {
        onBatch: (batch) => {
          sizes.push(batch.read);
          positions.push(batch.position);
        },
      }).catchUp();
      expect(grown).toEqual({ read: 3500, position: head });
      expect(sizes).toEqual([3500]);
      expect(positions).toEqual([head]);
      await postgresProjectionRunner(store, countingProjection("small", "small"), {
        batchSize: 7,
        maxBatchSize: 7,
      }).catchUp();
      const readModels = new PostgresReadModelStore({ sql: pg.sql, schema: own });
      expect(await readModels.list("grown")).toEqual(await readModels.list("small"));
      expect(await readModels.get(PROJECTION_STATE, "grown")).toEqual({ count: 3500, sum: 35 * 4950 });
      expect(await readModels.checkpoints.load("projection:grown")).toBe(head);
    } finally {
      await pg.sql.unsafe(`DROP SCHEMA IF EXISTS ${own} CASCADE`);
    }
  });

  test("bad runner options are refused", () => {
    const store = new PostgresEventStore(pg.options);
    const ok = projection({ name: "fine", handle: () => undefined });
    for (const options of [
      { batchSize: 0 },
      { batchSize: 1.5 },
      { pollIntervalMs: -1 },
      { batchSize: 1_000_000 },
      { maxBatchSize: 999 },
      { maxBatchSize: 10_001 },
    ]) {
      expect(() => postgresProjectionRunner(store, ok, options as never)).toThrow("Invalid projection runner");
    }
  });
});

const PROJECTION_STATE = "projection-state";
