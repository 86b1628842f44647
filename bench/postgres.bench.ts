/**
 * PostgreSQL event store bench (issue 3): `PostgresEventStore` (postgres.js) against Emmett 0.42
 * (`@event-driven-io/emmett-postgresql`, node-postgres) on the same PostgreSQL 15 server (fsync on),
 * in the same run, with equal pools (20 connections each).
 *
 * Appends: batches of 1, 10 and 100 events; one hot stream or 1,000 streams; one writer or 16
 * concurrent writers. Sequential and many-stream writers pass the expected version they know (what
 * an aggregate save does); the 16 writers of one hot stream append without an expectation and
 * retry on a conflict (both libraries can lose that race). Reads: one 10,000-event stream, and
 * 10,000 events of the global feed. "ceiling" rows are what no event store can
 * beat: a bare multi-row INSERT through postgres.js into a table with one index, and one bare SELECT
 * of the same rows; "ceiling, events table" inserts the same rows into a copy of our events table
 * (its unique keys on position, stream and version, and event id), the ceiling of that design. A round-robin cross-check (lib/interleave.ts) times ours, Emmett and the ceiling
 * in alternation, so that a burst of load on a shared machine cannot favour one side.
 *
 * Run: `bun bench/postgres.bench.ts`, or `bun run bench postgres` to also refresh bench/RESULTS.md.
 */
import { dumbo } from "@event-driven-io/dumbo";
import { getPostgreSQLEventStore, readMessagesBatch } from "@event-driven-io/emmett-postgresql";
import { bench, group, summary } from "mitata";
import pg from "pg";
import { isPostgresJs4 } from "../adapters/postgres/client.js";
import { createPostgresClient, PostgresEventStore } from "../adapters/postgres/index.js";
import { POSITION_BITS } from "../adapters/postgres/position.js";
import { isConcurrencyError, ulid } from "../src/index.js";
import { ensurePostgres } from "../test/services/postgres.ts";
import { type InterleavedResult, interleaved } from "./lib/interleave.js";
import { runAndReport } from "./lib/report.js";

const url = await ensurePostgres();
const run = ulid().slice(-6).toLowerCase();
const POOL = 20;
const WRITERS = 16;
const STREAMS = 1_000;

// --- Stores: ours in a schema of its own, Emmett in a database of its own (it uses fixed table names)

const admin = createPostgresClient(url, { max: 2 });
const emmettDb = `bench_emmett_${run}`;
await admin.unsafe(`CREATE DATABASE ${emmettDb}`);
const emmettUrl = url.replace(/\/[^/?]*(\?|$)/, `/${emmettDb}$1`);

const sql = createPostgresClient(url, { max: POOL });
const schema = `bench_${run}`;
const ours = new PostgresEventStore({ sql, schema });
await ours.migrate();

const emmettPool = new pg.Pool({ connectionString: emmettUrl, max: POOL });
// DROP DATABASE ... WITH (FORCE) at the end terminates whatever is still connected.
emmettPool.on("error", () => undefined);
const emmett = getPostgreSQLEventStore(emmettUrl, {
  connectionOptions: { pooled: true, pool: emmettPool, connectionString: emmettUrl },
});
await emmett.schema.migrate();
const emmettReader = dumbo({ connectionString: emmettUrl });

await sql.unsafe(
  `CREATE TABLE ${schema}.ceiling (id bigserial PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)`,
);
// The same table as ours (columns, unique keys, checks), for the ceiling of the same rows.
await sql.unsafe(`CREATE TABLE ${schema}.ceiling_events (LIKE ${ours.names.events} INCLUDING ALL)`);

// --- Workload ------------------------------------------------------------------------------------

const event = (n: number) => ({
  type: "ItemAdded",
  data: { orderId: "Order-01JBENCH", sku: `SKU-${n % 97}`, quantity: 1 + (n % 5), price: 19.99, note: "gift wrap" },
  metadata: { correlationId: "corr-bench" },
});
const batchOf = (size: number) => Array.from({ length: size }, (_, n) => event(n));

interface Appender {
  /** Appends a batch at the version it expects; resolves to the new version. */
  append(stream: string, size: number, expected: number): Promise<number>;
  /** Appends without an expectation, retrying lost races. */
  appendAny(stream: string, size: number): Promise<void>;
}

const oursAppender: Appender = {
  async append(stream, size, expected) {
    const result = await ours.appendToStream(stream, batchOf(size), { expectedVersion: expected });
    return result.nextExpectedVersion;
  },
  async appendAny(stream, size) {
    for (;;) {
      try {
        await ours.appendToStream(stream, batchOf(size));
        return;
      } catch (error) {
        if (!isConcurrencyError(error)) throw error;
      }
    }
  },
};

const emmettAppender: Appender = {
  async append(stream, size, expected) {
    const result = await emmett.appendToStream(stream, batchOf(size), { expectedStreamVersion: BigInt(expected) });
    return Number(result.nextExpectedStreamVersion);
  },
  async appendAny(stream, size) {
    for (;;) {
      try {
        await emmett.appendToStream(stream, batchOf(size));
        return;
      } catch (error) {
        // Emmett reports a lost race as ExpectedVersionConflictError (or the unique key's error).
        if (!/version|duplicate|unique/i.test(String((error as Error)?.message ?? error))) throw error;
      }
    }
  },
};

/**
 * An array parameter: postgres.js 3.4's `sql.array`, or the array itself on 4.x, whose `sql.array`
 * throws ARRAY_REMOVED and which sends arrays as they are (`bun scripts/test-postgres-js-4.ts` copies
 * run this on 4.x).
 */
const fourth = isPostgresJs4(sql);
function pgArray<T extends string | number>(values: T[]) {
  return (fourth ? values : sql.array(values)) as never;
}

const ceilingAppender: Appender = {
  async append(stream, size, expected) {
    const rows = batchOf(size).map((e, i) => ({
      stream_id: stream,
      version: expected + i + 1,
      type: e.type,
      data: JSON.stringify(e.data),
      metadata: JSON.stringify(e.metadata),
    }));
    await sql.unsafe(
      `INSERT INTO ${schema}.ceiling (stream_id, version, type, data, metadata)
       SELECT s, v, t, d::jsonb, m::jsonb FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[]) AS x(s, v, t, d, m)`,
      [
        pgArray(rows.map((r) => r.stream_id)),
        pgArray(rows.map((r) => r.version)),
        pgArray(rows.map((r) => r.type)),
        pgArray(rows.map((r) => r.data)),
        pgArray(rows.map((r) => r.metadata)),
      ],
      { prepare: true },
    );
    return expected + size;
  },
  async appendAny(stream, size) {
    await this.append(stream, size, 0);
  },
};

/**
 * The ceiling of the same rows: a bare multi-row INSERT into a copy of our events table (same
 * columns, unique keys and checks), with the positions and ids ours stores; no version check.
 */
const sameTableAppender: Appender = {
  async append(stream, size, expected) {
    const events = batchOf(size);
    await sql.unsafe(
      `INSERT INTO ${schema}.ceiling_events (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
       SELECT (pg_current_xact_id()::text::bigint << ${POSITION_BITS}) + x.n, pg_current_xact_id(), x.s, x.v, x.i, x.t, x.d::jsonb, x.m::jsonb, now()
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(s, v, i, t, d, m, n)`,
      [
        pgArray(events.map(() => stream)),
        pgArray(events.map((_, i) => expected + i + 1)),
        pgArray(events.map(() => ulid())),
        pgArray(events.map((e) => e.type)),
        pgArray(events.map((e) => JSON.stringify(e.data))),
        pgArray(events.map((e) => JSON.stringify(e.metadata))),
      ],
      { prepare: true },
    );
    return expected + size;
  },
  async appendAny(stream, size) {
    await this.append(stream, size, 0);
  },
};

/** Per-writer stream sets and versions, so appends with expectations never conflict. */
function manyStreams(label: string, writers: number) {
  const perWriter = Math.ceil(STREAMS / writers);
  const versions = Array.from({ length: writers }, () => new Array<number>(perWriter).fill(0));
  const next = Array.from({ length: writers }, () => 0);
  return async (appender: Appender, size: number, writer: number) => {
    const slot = next[writer] as number;
    next[writer] = (slot + 1) % perWriter;
    const own = versions[writer] as number[];
    own[slot] = await appender.append(`${label}-${writer}-${slot}`, size, own[slot] as number);
  };
}

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const libraries = [
  ["ours", oursAppender],
  ["Emmett", emmettAppender],
] as const;

interface Workload {
  readonly size: number;
  readonly hot: boolean;
  readonly writers: number;
}
const label = (library: string, w: Workload) =>
  `${library}: ${w.hot ? "hot stream" : "1,000 streams"}, batch ${w.size}, ${w.writers} writer${w.writers > 1 ? "s" : ""}`;
/** The ceiling checks no version, so where it writes does not matter: one stream per writer. */
const ceilingLabel = (w: Workload, table = "") =>
  `ceiling${table}: batch ${w.size}, ${w.writers} writer${w.writers > 1 ? "s" : ""}`;
const SAME_TABLE = ", events table";

/** One iteration of a workload: `writers` appends of `size` events, concurrently. */
function iteration(library: string, appender: Appender, w: Workload, tag: string): () => Promise<unknown> {
  if (w.hot && w.writers === 1) {
    const stream = `Hot-${library}-${w.size}-${tag}-${run}`;
    let version = 0;
    return async () => {
      version = await appender.append(stream, w.size, version);
    };
  }
  if (w.hot) {
    const stream = `HotConc-${library}-${w.size}-${tag}-${run}`;
    return () => Promise.all(Array.from({ length: w.writers }, () => appender.appendAny(stream, w.size)));
  }
  const spread = manyStreams(`Many-${library}-${w.size}-${w.writers}-${tag}-${run}`, w.writers);
  return () => Promise.all(Array.from({ length: w.writers }, (_, writer) => spread(appender, w.size, writer)));
}

/** The ceiling's iteration: each writer appends to a stream of its own, no version checked. */
function ceilingIteration(w: Workload, tag: string, appender = ceilingAppender): () => Promise<unknown> {
  const versions = new Array<number>(w.writers).fill(0);
  return () =>
    Promise.all(
      versions.map(async (version, writer) => {
        versions[writer] = await appender.append(
          `Ceiling-${w.size}-${w.writers}-${writer}-${tag}-${run}`,
          w.size,
          version,
        );
      }),
    );
}

const workloads: Workload[] = [1, 10, 100].flatMap((size) => [
  { size, hot: true, writers: 1 },
  { size, hot: false, writers: 1 },
  { size, hot: false, writers: WRITERS },
  { size, hot: true, writers: WRITERS },
]);
/**
 * The ceiling for a workload: as many rows per statement from as many writers. None for the hot
 * stream with 16 writers: without a version check there is no race to lose, so nothing compares.
 */
const hasCeiling = (w: Workload) => !(w.hot && w.writers > 1);

for (const size of [1, 10, 100]) {
  for (const writers of [1, WRITERS]) {
    group(`appends of ${size}, ${writers} writer${writers > 1 ? "s" : ""}`, () => {
      summary(() => {
        const here = workloads.filter((x) => x.size === size && x.writers === writers);
        for (const w of here) {
          for (const [library, appender] of libraries) {
            const name = label(library, w);
            eventsPerIteration[name] = w.size * w.writers;
            bench(name, iteration(library, appender, w, "m"));
          }
          pairs.push([label("ours", w), label("Emmett", w)]);
          if (hasCeiling(w))
            pairs.push([label("ours", w), ceilingLabel(w)], [label("ours", w), ceilingLabel(w, SAME_TABLE)]);
        }
        const ceiling = { size, hot: false, writers };
        eventsPerIteration[ceilingLabel(ceiling)] = size * writers;
        eventsPerIteration[ceilingLabel(ceiling, SAME_TABLE)] = size * writers;
        bench(ceilingLabel(ceiling), ceilingIteration(ceiling, "m"));
        bench(ceilingLabel(ceiling, SAME_TABLE), ceilingIteration(ceiling, "m", sameTableAppender));
        // What the events table's keys cost by themselves: the one ceiling as a share of the other.
        pairs.push([ceilingLabel(ceiling, SAME_TABLE), ceilingLabel(ceiling)]);
      });
    });
  }
}

/**
 * The cross-check that load changes cannot skew (lib/interleave.ts): per workload, ours, Emmett and
 * the ceiling alternate batch by batch and each gets its median batch. mitata measures one benchmark
 * after another, so on a shared machine a burst of load can land on one side of a pair.
 */
async function interleavedAppends(): Promise<InterleavedResult[]> {
  const results: InterleavedResult[] = [];
  for (const w of workloads) {
    const variants: [string, () => Promise<unknown>][] = libraries.map(([library, appender]) => [
      label(library, w),
      iteration(library, appender, w, "x"),
    ]);
    // One ceiling per size and writer count, timed beside the first workload it compares with.
    const ceiling = ceilingLabel(w);
    if (hasCeiling(w) && !results.some((r) => r.name === ceiling)) {
      variants.push([ceiling, ceilingIteration(w, "x")]);
      variants.push([ceilingLabel(w, SAME_TABLE), ceilingIteration(w, "x", sameTableAppender)]);
    }
    const batch = w.writers > 1 ? 1 : w.size === 100 ? 2 : 5;
    results.push(...(await interleaved(variants, { rounds: w.writers > 1 ? 12 : 16, batch, shuffle: true })));
  }
  return results;
}

// --- Reads -----------------------------------------------------------------------------------------

const READ = 10_000;
const oursLong = `Long-ours-${run}`;
const emmettLong = `Long-emmett-${run}`;
const oursFeedStart = await ours.getLastGlobalPosition();
const emmettFeedStart = await emmettLastPosition();
for (let written = 0; written < READ; written += 100) {
  await oursAppender.append(oursLong, 100, written);
  await emmettAppender.append(emmettLong, 100, written);
}

async function emmettLastPosition(): Promise<bigint> {
  const client = await emmettPool.connect();
  try {
    const result = await client.query("SELECT coalesce(max(global_position), 0)::text AS p FROM emt_messages");
    return BigInt(result.rows[0].p);
  } finally {
    client.release();
  }
}

async function oursReadStream(): Promise<number> {
  let count = 0;
  for await (const _ of ours.readStream(oursLong)) count++;
  return count;
}
/** The ceiling: one bare SELECT of the same rows and columns, postgres.js's own types (jsonb parsed, Date). */
const bareColumns = "global_position, stream_id, version, event_id, type, data, metadata, created_at";
async function bareReadStream(): Promise<number> {
  const rows = await sql.unsafe(
    `SELECT ${bareColumns} FROM ${ours.names.events} WHERE stream_id = $1 ORDER BY version`,
    [oursLong],
    { prepare: true },
  );
  return rows.length;
}
async function bareReadAll(): Promise<number> {
  const rows = await sql.unsafe(
    `SELECT ${bareColumns} FROM ${ours.names.events} WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
    [String(oursFeedStart), READ],
    { prepare: true },
  );
  return rows.length;
}
async function emmettReadStream(): Promise<number> {
  return (await emmett.readStream(emmettLong)).events.length;
}
async function oursReadAll(): Promise<number> {
  let count = 0;
  for await (const _ of ours.readAll({ after: oursFeedStart, maxCount: READ })) count++;
  return count;
}
async function emmettReadAll(): Promise<number> {
  let after = emmettFeedStart;
  let count = 0;
  while (count < READ) {
    const batch = await readMessagesBatch(emmettReader.execute, { after, batchSize: Math.min(1_000, READ - count) });
    if (batch.messages.length === 0) break;
    count += batch.messages.length;
    after = batch.currentGlobalPosition;
  }
  return count;
}
// A variant that reads less than it should must fail here, not look fast.
for (const [name, read] of [
  ["ours readStream", oursReadStream],
  ["bare readStream", bareReadStream],
  ["bare readAll", bareReadAll],
  ["Emmett readStream", emmettReadStream],
  ["ours readAll", oursReadAll],
  ["Emmett readAll", emmettReadAll],
] as const) {
  const count = await read();
  if (count !== READ) throw new Error(`${name} read ${count} events, expected ${READ}`);
}

const reads = {
  oursStream: "ours: read one 10,000-event stream",
  emmettStream: "Emmett: read one 10,000-event stream",
  bareStream: "ceiling: bare SELECT of one 10,000-event stream",
  oursAll: "ours: read 10,000 events of the global feed",
  emmettAll: "Emmett: read 10,000 events of the global feed",
  bareAll: "ceiling: bare SELECT of 10,000 events of the global feed",
};
const readVariants: [string, () => Promise<number>][] = [
  [reads.oursStream, oursReadStream],
  [reads.emmettStream, emmettReadStream],
  [reads.bareStream, bareReadStream],
  [reads.oursAll, oursReadAll],
  [reads.emmettAll, emmettReadAll],
  [reads.bareAll, bareReadAll],
];
for (const name of Object.values(reads)) eventsPerIteration[name] = READ;

/**
 * Every read runs on freshly analyzed tables, as on a live database whose autovacuum keeps up:
 * the plan of a read (index or bitmap scan, sort or not) follows the statistics. Without this the
 * interleaved reads ran on a table autovacuum had not analyzed yet (59,484 rows when a rerun checked) and
 * mitata's, minutes and many appends later, on an analyzed one: the two measured different plans.
 * Our stream_deletions table stays as autovacuum leaves an empty table: never analyzed.
 */
async function analyzeReadTables(): Promise<void> {
  await sql.unsafe(`ANALYZE ${ours.names.events}`);
  const client = await emmettPool.connect();
  try {
    await client.query("ANALYZE");
  } finally {
    client.release();
  }
}

group("reads", () => {
  // mitata's setup step (before the yield) runs outside its timing.
  const analyzed = (read: () => Promise<number>) =>
    async function* () {
      await analyzeReadTables();
      yield read;
    };
  summary(() => {
    for (const [name, read] of readVariants.slice(0, 3)) bench(name, analyzed(read));
  });
  summary(() => {
    for (const [name, read] of readVariants.slice(3)) bench(name, analyzed(read));
  });
});
pairs.push(
  [reads.oursStream, reads.emmettStream],
  [reads.oursStream, reads.bareStream],
  [reads.oursAll, reads.emmettAll],
  [reads.oursAll, reads.bareAll],
);

try {
  const appendsChecked = await interleavedAppends();
  await analyzeReadTables();
  const crossCheck = [
    ...appendsChecked,
    // 21 rounds: at 11, one read in a burst of load moved a median by 30-40% on this shared machine.
    ...(await interleaved(readVariants, { rounds: 21, batch: 1, shuffle: true })),
  ];
  await runAndReport("postgres", "PostgreSQL event store: EventFlows vs Emmett 0.42", {
    eventsPerIteration,
    pairs,
    // Medians: on this shared machine a few samples taken during someone else's burst drag means far off.
    statistic: "p50",
    notes: [
      "Same PostgreSQL 15 server (throwaway cluster, fsync on, loopback), same run, 20 connections per library. One iteration of a 16-writer row is 16 concurrent appends; events/s counts every event of the iteration.",
      "Each of our appends is one statement (one round trip): version check, deleted-stream check and multi-row insert together; a retried batch's event ids meet the event-id unique key, and only a refused append takes a second statement to learn why. Emmett calls its append function in a transaction.",
      "ceiling (appends): a bare multi-row INSERT (unnest of arrays) via postgres.js into a table with one index, each writer into a stream of its own; no version check, no idempotency, no global order. Against a ceiling, peer time / ours is the share of the ceiling's throughput ours reaches (0.80x = 80%).",
      "ceiling, events table: the same bare multi-row INSERT into a copy of our events table (LIKE ... INCLUDING ALL: primary key on the position, unique (stream_id, version) and event id, the checks), with the positions, transaction ids and event ids ours stores; no version check. Paired with the plain ceiling it shows what those keys cost the server by themselves.",
      "ceiling (reads): one bare SELECT of the same rows and columns via postgres.js, its own types (jsonb parsed, timestamptz as Date); no pages, no envelopes, and for the feed no in-flight-transaction bound.",
      "Reads: ours in pages that grow 16x from 1,000 (readPageSize) up to 16,000 events (10,000 events: 1,000, 9,000; the stream by its (stream_id, version) index, the feed by the position index), passed through the core's read layers as pages and flattened into events once; Emmett's readStream, and its readMessagesBatch in batches of 1,000.",
      "Reads run on freshly analyzed tables (ANALYZE of our events table and of Emmett's database before the interleaved reads and before each mitata read benchmark, outside the timing), as autovacuum keeps a live database; our stream_deletions table, empty, stays unanalyzed, as autovacuum leaves an empty table (until 2026-12-05 this made the planner overestimate our feed page's soft-deleted-streams test and JIT-compile every page: the feed read was at 41-50% of the bare SELECT on Bun that morning). Until 2026-12-03 they did not, and the two measures of the stream read disagreed (interleaved, ours at 0.49x | 0.61x of the bare SELECT; mitata 2.05x | 1.58x): the interleaved reads ran on an events table autovacuum had not analyzed yet (59,484 rows when a rerun checked), where the planner took every stream page by a bitmap scan and a sort, and our page statement cast every row from the cursor to the stream's end to text before its LIMIT (24,000 rows for 10,000 events; it now cuts the page first); mitata's reads ran minutes later on an analyzed table, where the first page walked the index. The two still differ after that fix (mitata puts our stream read ahead of the bare SELECT by more than the interleaved check does): mitata runs one read back to back, so each call pays for collecting the garbage of the call before it, while in alternation part of it falls on the next variant. In a separate Bun script on this machine (2026-12-03, load 14-17), client CPU per 10,000-event read was, back to back and alternating: bare SELECT 47 and 41 ms, ours 36 and 45 ms; with a forced collection before every call, 41-42 and 38-43 ms.",
      "Interleaved cross-check: per append workload, ours, Emmett and the ceiling alternate (batches of 5 appends with one writer, 2 at 100 events, 1 iteration with 16 writers; 16 rounds, 12 with 16 writers); the reads alternate one read each, 21 rounds. Each round runs its variants in another order (a fixed-seed shuffle), so that none always follows the slowest (Emmett's feed read leaves a second's garbage behind).",
    ],
    interleaved: crossCheck,
  });
} finally {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
  await emmettReader.close();
  await emmett.close().catch(() => undefined);
  await emmettPool.end().catch(() => undefined);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${emmettDb} WITH (FORCE)`);
  await admin.end();
}
