import { describe, expect, test } from "bun:test";
import { rebuildCheckpointId, replay, shadowCollection, ulid } from "../../src/index.js";
import { untilReadable } from "../../src/testing/index.js";
import { usePostgresSchema } from "../../test/fixtures/postgres-schema.ts";
import type { Counted } from "../../test/postgres/counting-projection.ts";
import { rebuildKillRun } from "../../test/postgres/rebuild-kill.ts";
import { ensurePostgres } from "../../test/services/postgres.ts";
import { PostgresEventStore, PostgresReadModelStore } from "./index.js";

const pg = usePostgresSchema("rebuild", {
  client: { max: 10 },
  migrate: ({ sql, schema }) => new PostgresEventStore({ sql, schema }).migrate(),
});
const { schema } = pg;

describe("rebuildProjection on PostgreSQL", () => {
  // 1,000,000 events is `bun bench/rebuild-kill.ts` by hand; 50,000 keeps this under a minute.
  test("a rebuild of 50,000 events SIGKILLed half-way and resumed swaps in what a fresh run makes; the live read model answered throughout", async () => {
    const run = await rebuildKillRun({
      sql: pg.sql,
      url: await ensurePostgres(),
      schema,
      events: 50_000,
      streams: 100,
      batchSize: 1000,
    });
    expect(run.killedAt).toBeLessThan(run.head);
    expect(run.leftAtKill).toBeLessThanOrEqual(25_000);
    // Resumed at the shadow's checkpoint: nothing read (or counted) twice.
    expect(run.leftAtKill).toBeGreaterThan(0);
    expect(run.resumedRead).toBe(run.leftAtKill);
    expect(run.swapped.documents).toEqual(run.fresh.documents);
    expect((run.swapped.documents as unknown[]).length).toBe(100);
    expect(run.swapped.state).toEqual(run.fresh.state);
    expect(run.swapped.state).toEqual({ count: 50_000, sum: expect.any(Number) });
    expect(run.liveCheckpoint).toBe(run.head);
    expect(run.shadowCheckpoint).toBeUndefined();
    expect(run.liveQueries).toBeGreaterThan(0);
    expect(run.liveFailures).toEqual([]);
  }, 120_000);
});

describe("replay on PostgreSQL", () => {
  test("progress counts from just before the first event read: the ETA is above 0 while positions remain, though PostgreSQL's positions start far from the run's after", async () => {
    const store = new PostgresEventStore(pg.options);
    const cart = `EtaCart-${ulid()}`;
    const after = await store.getLastGlobalPosition();
    const appended = await store.appendToStream(
      cart,
      Array.from({ length: 30 }, (_, n) => ({ type: "Counted", data: { i: 0, n } })),
    );
    await untilReadable(store, appended);
    const reports: { remaining: number; etaMs: number | undefined }[] = [];
    await replay({
      eventStore: store,
      category: "EtaCart",
      after,
      batchSize: 10,
      handle: () => {},
      onProgress: ({ remaining, etaMs }) => reports.push({ remaining, etaMs }),
    });
    // Outside audit: counted from `after`, a transaction's block of positions before the first event
    // made the first batch seem to cover thousands of positions, and the ETA read 0 with 20 to go.
    const first = reports[0];
    expect(first?.remaining).toBeGreaterThan(0);
    expect(first?.etaMs).toBeGreaterThan(0);
    expect(reports.at(-1)).toEqual({ remaining: 0, etaMs: 0 });
  });

  test("a dry run writes nothing: read models and checkpoints are byte for byte what they were", async () => {
    const store = new PostgresEventStore(pg.options);
    const readModels = new PostgresReadModelStore(pg.options);
    const cart = `ReplayCart-${ulid()}`;
    // The feed holds the other tests' events too: start after them.
    const after = await store.getLastGlobalPosition();
    const appended = await store.appendToStream(
      cart,
      Array.from({ length: 30 }, (_, n) => ({ type: "Counted", data: { i: 0, n } })),
    );
    // The replay reads what the feed's readers see: on a shared server another client's open
    // transaction can keep the append out of it for a moment (see untilReadable).
    await untilReadable(store, appended);
    await readModels.put("replayed", cart, { sum: -1 });
    await readModels.checkpoints.store("replay-dry", 1);
    const snapshot = async () =>
      pg.sql.unsafe(`SELECT
        (SELECT md5(coalesce(string_agg(collection || '/' || id || '=' || document::text || updated_at::text, ',' ORDER BY collection, id), ''))
          FROM ${schema}.read_models) AS documents,
        (SELECT md5(coalesce(string_agg(id || '=' || position || updated_at::text, ',' ORDER BY id), '')) FROM ${schema}.checkpoints) AS checkpoints`);
    const before = await snapshot();
    const result = await replay<Counted>({
      eventStore: store,
      readModels,
      checkpoint: "replay-dry",
      category: "ReplayCart",
      after,
      batchSize: 7,
      handle: async (event, { readModels: models }) => {
        const doc = (await models.get<{ sum: number }>("replayed", event.streamId)) ?? { sum: 0 };
        await models.put("replayed", event.streamId, { sum: doc.sum + event.data.n });
      },
    });
    expect(result).toMatchObject({ handled: 30, dryRun: true, writes: 30 });
    // The handler read the stored document, then its own recorded writes.
    expect(result.recorded.at(-1)).toEqual({ collection: "replayed", id: cart, document: { sum: -1 + 435 } });
    expect(await snapshot()).toEqual(before);
  });
});

describe("PostgresReadModelStore.swap against a live batch in flight", () => {
  const seed = async (readModels: PostgresReadModelStore, name: string, collection: string) => {
    await readModels.put(collection, "old", { generation: 1 });
    await readModels.checkpoints.store(`projection:${name}`, 10);
    await readModels.put(shadowCollection(name, collection), "new", { generation: 2 });
    await readModels.checkpoints.store(rebuildCheckpointId(name), 20);
  };
  const plan = (name: string, collection: string) => ({
    collections: [{ from: shadowCollection(name, collection), to: collection }],
    documents: [],
    checkpoints: [{ from: rebuildCheckpointId(name), to: `projection:${name}` }],
  });

  test("a batch that moved the live checkpoint first commits, then the swap replaces what it wrote", async () => {
    const readModels = new PostgresReadModelStore(pg.options);
    const name = `inflight-${ulid()}`;
    const collection = `c-${ulid()}`;
    await seed(readModels, name, collection);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let moved = () => {};
    const checkpointMoved = new Promise<void>((resolve) => {
      moved = resolve;
    });
    const batch = readModels.transaction(async (tx) => {
      await tx.put(collection, "from-live-batch", { generation: 1 });
      await tx.checkpoints.store(`projection:${name}`, 11, { expected: 10 });
      moved();
      await held;
    });
    await checkpointMoved;
    let swapped = false;
    const swap = readModels.swap(plan(name, collection)).then(() => {
      swapped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(swapped).toBe(false); // waiting on the live checkpoint row
    release();
    await batch;
    await swap;
    expect(await readModels.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
    expect(await readModels.checkpoints.load(`projection:${name}`)).toBe(20);
  });

  test("a batch that moves the live checkpoint after the swap fails its compare-and-set and writes nothing", async () => {
    const readModels = new PostgresReadModelStore(pg.options);
    const name = `late-${ulid()}`;
    const collection = `c-${ulid()}`;
    await seed(readModels, name, collection);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const batch = readModels.transaction(async (tx) => {
      await tx.put(collection, "from-live-batch", { generation: 1 });
      await held;
      await tx.checkpoints.store(`projection:${name}`, 11, { expected: 10 });
    });
    await readModels.swap(plan(name, collection));
    release();
    await expect(batch).rejects.toMatchObject({ code: "CONCURRENCY_CONFLICT" });
    expect(await readModels.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
    expect(await readModels.checkpoints.load(`projection:${name}`)).toBe(20);
  });
});
