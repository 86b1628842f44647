import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  AggregateRepository,
  AggregateRoot,
  defineStream,
  everyNEvents,
  StreamNotFoundError,
  ulid,
} from "../../src/index.js";
import { collect, registerContract, streamDeletionContract, untilHeadReadable } from "../../src/testing/index.js";
import { checkDeletionLookups } from "../../test/differential/deletion-lookups.ts";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { probeDeletedStreams } from "../../test/tenancy/deletion-probes.ts";
import { createPostgresClient, PostgresEventStore, PostgresSnapshotStore, type PostgresSql } from "./index.js";
import { HASHED_HIDDEN } from "./statements.js";

const schema = uniqueSchema("deletion");
let url = "";
let sql: PostgresSql;

beforeAll(async () => {
  url = await ensurePostgres();
  sql = createPostgresClient(url, { max: 12 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});

registerContract(
  streamDeletionContract({
    name: "PostgresEventStore stream deletion contract",
    create: (options) => new PostgresEventStore({ ...options, sql, schema }),
  }),
  { describe, test },
);

/** The whole schema's rows as pg_dump writes them: PostgreSQL's own view, not the store's. */
function dumpSchema(): string {
  const dump = spawnSync("pg_dump", ["--data-only", `--schema=${schema}`, url], { encoding: "utf8" });
  if (dump.status !== 0) throw new Error(`pg_dump failed: ${dump.stderr}`);
  return dump.stdout;
}

function psql(query: string): string {
  const run = spawnSync("psql", [url, "-At", "-c", query], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
  return run.stdout.trim();
}

describe("stream deletion on PostgreSQL, checked with psql and pg_dump", () => {
  test("after a hard delete no row of the stream is left; a soft delete leaves them; truncation leaves the kept ones", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const marker = `needle-${ulid()}`;
    const [hard, soft, cut] = [`Erase-${ulid()}`, `Hide-${ulid()}`, `Cut-${ulid()}`];
    for (const id of [hard, soft, cut]) {
      await store.appendToStream(
        id,
        Array.from({ length: 4 }, (_, i) => ({ type: "Noted", data: { marker: `${marker}-${id}-${i + 1}` } })),
      );
    }
    await store.deleteStream(hard, { mode: "hard" });
    await store.deleteStream(soft);
    await store.truncateStream(cut, { before: 3 });
    const count = (id: string) => psql(`SELECT count(*) FROM ${schema}.events WHERE stream_id = '${id}'`);
    expect(count(hard)).toBe("0");
    expect(count(soft)).toBe("4");
    expect(count(cut)).toBe("2");
    expect(psql(`SELECT mode || ':' || version FROM ${schema}.stream_deletions WHERE stream_id = '${hard}'`)).toBe(
      "hard:4",
    );
    const dump = dumpSchema();
    for (let i = 1; i <= 4; i++) expect(dump).not.toContain(`${marker}-${hard}-${i}`);
    for (let i = 1; i <= 4; i++) expect(dump).toContain(`${marker}-${soft}-${i}`);
    expect(dump).not.toContain(`${marker}-${cut}-1`);
    expect(dump).not.toContain(`${marker}-${cut}-2`);
    expect(dump).toContain(`${marker}-${cut}-3`);
  });

  test("an append waits for a deletion holding its transaction open, then is refused (no event lands after it)", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const id = `Held-${ulid()}`;
    await store.appendToStream(id, [{ type: "A", data: {} }]);
    let append: Promise<unknown> | undefined;
    await sql.begin(async (tx) => {
      const inTx = new PostgresEventStore({ sql: tx, schema });
      await inTx.deleteStream(id, { mode: "hard" });
      // The table lock is held: this append cannot run before the commit below.
      append = store.appendToStream(id, [{ type: "B", data: {} }]).then(
        () => "ok",
        (error: { code?: string }) => error.code,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(await append).toBe("STREAM_DELETED");
    expect(psql(`SELECT count(*) FROM ${schema}.events WHERE stream_id = '${id}'`)).toBe("0");
    expect(await collect(store.readStream(id))).toEqual([]);
  });

  test("a deletion waits at most 5 s for a transaction that appended and lingers: a retryable ServiceError, nothing changed", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const id = `Lingering-${ulid()}`;
    await store.appendToStream(id, [{ type: "A", data: {} }]);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appended: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      appended = resolve;
    });
    const lingering = store.withTransaction(async (tx) => {
      await tx.appendToStream(`Other-${ulid()}`, [{ type: "B", data: {} }]);
      appended();
      await held;
    });
    await inside;
    const started = Date.now();
    try {
      const error = await store.deleteStream(id, { mode: "hard" }).then(
        () => undefined,
        (e: { code?: string; retryable?: boolean }) => e,
      );
      expect(error).toMatchObject({ code: "SERVICE_ERROR", retryable: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
    } finally {
      release();
      await lingering;
    }
    expect((await collect(store.readStream(id))).map((e) => e.version)).toEqual([1]);
  }, 30_000);

  test("an open application transaction's deletion joins it: rolled back, nothing changed", async () => {
    const store = new PostgresEventStore({ sql, schema });
    const id = `Rollback-${ulid()}`;
    await store.appendToStream(id, [{ type: "A", data: {} }]);
    await expect(
      store.withTransaction(async (tx) => {
        await tx.deleteStream(id, { mode: "hard" });
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await collect(store.readStream(id))).map((e) => e.version)).toEqual([1]);
  });

  test("on a reserved connection a deletion joins the transaction open there; with none open, a ValidationError", async () => {
    const id = `Reserved-${ulid()}`;
    await new PostgresEventStore({ sql, schema }).appendToStream(id, [{ type: "A", data: {} }]);
    const reserved = await sql.reserve();
    try {
      const store = new PostgresEventStore({ sql: reserved, schema });
      const refused = await store.deleteStream(id).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["sql"] }] });
      expect(String((refused as Error).message)).not.toContain("LOCK");
      await reserved.unsafe("BEGIN");
      expect((await store.deleteStream(id)).changed).toBe(true);
      await reserved.unsafe("COMMIT");
    } finally {
      reserved.release();
    }
    expect(await collect(new PostgresEventStore({ sql, schema }).readStream(id))).toEqual([]);
  });

  test("a repository with snapshots loads a deleted stream as not found, reporting no snapshot fault", async () => {
    class Meter extends AggregateRoot<{ total: number }, { type: "Read"; data: { kwh: number } }> {
      constructor(id: string) {
        super(id, { total: 0 });
      }
      read(kwh: number) {
        this.raise("Read", { kwh });
      }
      protected onRead(event: { data: { kwh: number } }) {
        this.state.total += event.data.kwh;
      }
    }
    const store = new PostgresEventStore({ sql, schema });
    const snapshots = new PostgresSnapshotStore({ sql, schema });
    const reported: unknown[] = [];
    const meters = new AggregateRepository({
      store,
      stream: defineStream("Meter"),
      create: (id) => new Meter(id),
      snapshots: { store: snapshots, policy: everyNEvents(2), onError: (error) => reported.push(error) },
    });
    const id = ulid();
    for (let i = 0; i < 5; i++) await meters.update(id, (meter) => meter.read(2), { createIfMissing: true });
    await meters.flushSnapshots();
    // Writes run in the background, so which version the last one was taken at varies.
    const taken = (await snapshots.load(`Meter-${id}`))?.version;
    expect(taken).toBeGreaterThanOrEqual(2);
    await store.deleteStream(`Meter-${id}`);
    for (let i = 0; i < 2; i++) {
      expect(await meters.find(id)).toBeUndefined();
      await expect(meters.load(id)).rejects.toBeInstanceOf(StreamNotFoundError);
    }
    await meters.flushSnapshots();
    expect(reported).toEqual([]);
    expect((await snapshots.load(`Meter-${id}`))?.version).toBe(taken as number);
    await store.restoreStream(`Meter-${id}`);
    expect((await meters.load(id)).currentState.total).toBe(10);
    await store.deleteStream(`Meter-${id}`, { mode: "hard" });
    await expect(meters.load(id)).rejects.toBeInstanceOf(StreamNotFoundError);
    await meters.flushSnapshots();
    expect(reported).toEqual([]);
  });
});

/** Rows a plan read from the events table (returned or filtered out), from EXPLAIN (ANALYZE, FORMAT JSON). */
function eventRowsRead(node: Record<string, unknown>): number {
  const own =
    node["Relation Name"] === "events"
      ? ((node["Actual Rows"] as number) + ((node["Rows Removed by Filter"] as number | undefined) ?? 0)) *
        (node["Actual Loops"] as number)
      : 0;
  return own + ((node.Plans as Record<string, unknown>[] | undefined) ?? []).reduce((n, p) => n + eventRowsRead(p), 0);
}

describe("streamDeletionEvent of a deleted stream on PostgreSQL", () => {
  test(
    "names the last $stream-deleted while the stream is deleted, undefined otherwise, after generated histories (property)",
    () => checkDeletionLookups({ create: () => new PostgresEventStore({ sql, schema }), numRuns: 40 }),
    120_000,
  );

  test("reads its one $stream-deleted event by key, however many lifecycle events came after it (EXPLAIN ANALYZE)", async () => {
    let sent: { query: string; parameters: unknown[] } | undefined;
    const capturing = createPostgresClient(url, {
      max: 1,
      debug: (_connection: number, query: string, parameters: unknown[]) => {
        if (parameters[1] === "$streams" && query.includes("stream_deletions")) sent = { query, parameters };
      },
    });
    try {
      const store = new PostgresEventStore({ sql: capturing, schema });
      const run = ulid();
      const target = `Probed-${run}`;
      await store.appendToStream(target, [{ type: "Added", data: {} }]);
      await store.deleteStream(target);
      await store.deleteStream(target, { mode: "hard" }); // soft, then hard: its newest $stream-deleted counts
      for (let i = 0; i < 30; i++) {
        const other = `After-${run}-${i}`;
        await store.appendToStream(other, [{ type: "Added", data: {} }]);
        await store.deleteStream(other, { mode: i % 2 === 0 ? "soft" : "hard" });
        if (i % 2 === 0) await store.restoreStream(other);
      }
      sent = undefined;
      const event = await store.streamDeletionEvent(target);
      expect(event?.data).toMatchObject({ streamId: target, mode: "hard" });
      const statement = sent as unknown as { query: string; parameters: unknown[] };
      // The statement as the store sent it, planned as on a large store (indexes rather than scans).
      const read = await sql.begin(async (tx) => {
        await tx.unsafe("SET LOCAL enable_seqscan = off");
        const [row] = await tx.unsafe(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.query}`,
          statement.parameters as never,
        );
        const plans = (row?.["QUERY PLAN"] ?? []) as { Plan: Record<string, unknown> }[];
        return eventRowsRead(plans[0]?.Plan ?? {});
      });
      // Before: the walk back through $streams read every lifecycle event since the deletion (75 and more here).
      expect(read).toBe(1);
    } finally {
      await capturing.end();
    }
  }, 60_000);
});

describe("the tenant layer's probe of a deleted stream on PostgreSQL", () => {
  test("a stream that shows no event (never was, soft- or hard-deleted long ago) is probed without reading $streams: one statement that reads its deletion row", async () => {
    let lifecycleReads = 0;
    const counting = createPostgresClient(url, {
      max: 2,
      // The stream reads of $streams (its appends, by the restore, are not reads).
      debug: (_connection: number, query: string, parameters: unknown[]) => {
        if (parameters[0] === "$streams" && query.trimStart().startsWith("SELECT")) lifecycleReads++;
      },
    });
    try {
      const store = new PostgresEventStore({ sql: counting, schema, readPageSize: 10 });
      expect(await probeDeletedStreams(store, 60, () => lifecycleReads)).toBe(0);
    } finally {
      await counting.end();
    }
  }, 60_000);
});

describe("the feed's test for soft-deleted streams on PostgreSQL", () => {
  test("the feed hides a stream soft-deleted or restored through another store, with few soft-deleted streams or more than a page hashes", async () => {
    // A feed page counts the soft-deleted streams first; a store that found more than it hashes
    // probes each row's stream on every later page, until a change through it. Pages of 2 (growing
    // to 32), and hidden events enough to fill pages of their own, which must not end the read.
    const own = uniqueSchema("deletion_feed");
    const reader = new PostgresEventStore({ sql, schema: own, readPageSize: 2 });
    const writer = new PostgresEventStore({ sql, schema: own });
    await reader.migrate();
    try {
      await writer.appendToStream("Kept-1", [{ type: "Noted", data: { n: 1 } }]);
      await writer.appendToStream(
        "Hidden-1",
        Array.from({ length: 40 }, (_, n) => ({ type: "Noted", data: { n } })),
      );
      await writer.appendToStream("Kept-1", [{ type: "Noted", data: { n: 2 } }]);
      const feed = async () => {
        // Every change so far (events, lifecycle events) readable first: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
        await untilHeadReadable(reader);
        const counts = new Map<string, number>();
        for (const event of await collect(reader.readAll())) {
          counts.set(event.streamId, (counts.get(event.streamId) ?? 0) + 1);
        }
        return Object.fromEntries(counts);
      };
      expect(await feed()).toEqual({ "Kept-1": 2, "Hidden-1": 40 });
      await writer.deleteStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, $streams: 1 });
      await writer.restoreStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, "Hidden-1": 40, $streams: 2 });
      await writer.deleteStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, $streams: 3 });
      // Restored through the reader itself, then hidden again elsewhere.
      await reader.restoreStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, "Hidden-1": 40, $streams: 4 });
      await writer.deleteStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, $streams: 5 });
      // More soft-deleted streams than a page hashes (rows written directly: their streams have no events).
      await sql.unsafe(
        `INSERT INTO ${own}.stream_deletions (stream_id, mode, version)
        SELECT 'Gone-' || g, 'soft', 1 FROM generate_series(1, $1::integer) AS g`,
        [HASHED_HIDDEN],
      );
      expect(await feed()).toEqual({ "Kept-1": 2, $streams: 5 });
      await writer.restoreStream("Hidden-1");
      expect(await feed()).toEqual({ "Kept-1": 2, "Hidden-1": 40, $streams: 6 });
      await writer.deleteStream("Hidden-1");
      await sql.unsafe(`DELETE FROM ${own}.stream_deletions WHERE stream_id LIKE 'Gone-%'`);
      expect(await feed()).toEqual({ "Kept-1": 2, $streams: 7 });
      // A fresh store, which counts first, sees the same.
      const fresh = new PostgresEventStore({ sql, schema: own, readPageSize: 2 });
      expect((await collect(fresh.readAll())).filter((event) => event.streamId === "Hidden-1")).toEqual([]);
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${own} CASCADE`);
    }
  });
});
