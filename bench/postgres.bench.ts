/**
 * PostgreSQL event store bench (issue 3): `PostgresEventStore` (postgres.js) against Emmett 0.42
 * (`@event-driven-io/emmett-postgresql`, node-postgres) on the same PostgreSQL 15 server (fsync on),
 * in the same run, with equal pools (20 connections each).
 *
 * Appends: batches of 1, 10 and 100 events; one hot stream or 1,000 streams; one writer or 16
 * concurrent writers. Sequential and many-stream writers pass the expected version they know (what
 * an aggregate save does); the 16 writers of one hot stream append without an expectation and
 * retry on a conflict (both libraries can lose that race). Reads: one 10,000-event stream, and
 * 10,000 events of the global feed in pages of 1,000. "ceiling" rows are a bare multi-row INSERT
 * through postgres.js into a table with one index: what no event store can beat.
 *
 * Run: `bun bench/postgres.bench.ts`, or `bun run bench postgres` to also refresh bench/RESULTS.md.
 */
import { dumbo } from "@event-driven-io/dumbo";
import { getPostgreSQLEventStore, readMessagesBatch } from "@event-driven-io/emmett-postgresql";
import { bench, group, summary } from "mitata";
import pg from "pg";
import { createPostgresClient, PostgresEventStore } from "../adapters/postgres/index.js";
import { isConcurrencyError, ulid } from "../src/index.js";
import { ensurePostgres } from "../test/services/postgres.ts";
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
        sql.array(rows.map((r) => r.stream_id)),
        sql.array(rows.map((r) => r.version)),
        sql.array(rows.map((r) => r.type)),
        sql.array(rows.map((r) => r.data)),
        sql.array(rows.map((r) => r.metadata)),
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

const workloads: Workload[] = [1, 10, 100].flatMap((size) => [
  { size, hot: true, writers: 1 },
  { size, hot: false, writers: 1 },
  { size, hot: false, writers: WRITERS },
  { size, hot: true, writers: WRITERS },
]);

for (const size of [1, 10, 100]) {
  for (const writers of [1, WRITERS]) {
    group(`appends of ${size}, ${writers} writer${writers > 1 ? "s" : ""}`, () => {
      summary(() => {
        for (const w of workloads.filter((x) => x.size === size && x.writers === writers)) {
          for (const [library, appender] of libraries) {
            const name = label(library, w);
            eventsPerIteration[name] = w.size * w.writers;
            bench(name, iteration(library, appender, w, "m"));
          }
          pairs.push([label("ours", w), label("Emmett", w)]);
        }
        // The ceiling: as many rows per statement, nothing checked. Not for the hot stream with
        // 16 writers, which has no race to lose without a version check.
        const ceiling = workloads.find((x) => x.size === size && x.writers === writers && x.hot === (writers === 1));
        if (ceiling !== undefined) {
          const name = label("ceiling", ceiling);
          eventsPerIteration[name] = ceiling.size * ceiling.writers;
          bench(name, iteration("ceiling", ceilingAppender, { ...ceiling, hot: writers === 1 }, "m"));
        }
      });
    });
  }
}

/**
 * A cross-check that load changes cannot skew: each workload runs ours and Emmett in alternation,
 * iteration by iteration, and compares the medians. mitata measures one benchmark after another, so
 * on a shared machine a burst of load can land on one side of a pair.
 */
async function interleaved(): Promise<string> {
  const lines = [
    "Interleaved cross-check (same run; ours and Emmett alternate iteration by iteration; medians):",
    "",
    "| workload | ours p50 | Emmett p50 | Emmett / ours |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const w of workloads) {
    const ours = iteration("ours", oursAppender, w, "x");
    const peer = iteration("Emmett", emmettAppender, w, "x");
    const times: [number[], number[]] = [[], []];
    const rounds = w.writers === 1 ? (w.size === 100 ? 40 : 80) : 16;
    for (let round = 0; round < rounds; round++) {
      for (const [side, run] of [
        [0, ours],
        [1, peer],
      ] as const) {
        const started = performance.now();
        await run();
        times[side].push(performance.now() - started);
      }
    }
    const [a, b] = times.map(median) as [number, number];
    lines.push(`| ${label("", w).slice(2)} | ${a.toFixed(2)} ms | ${b.toFixed(2)} ms | ${(b / a).toFixed(2)}× |`);
  }
  return lines.join("\n");
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
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
  oursAll: "ours: read 10,000 events of the global feed",
  emmettAll: "Emmett: read 10,000 events of the global feed",
};
for (const name of Object.values(reads)) eventsPerIteration[name] = READ;
group("reads", () => {
  summary(() => {
    bench(reads.oursStream, oursReadStream);
    bench(reads.emmettStream, emmettReadStream);
  });
  summary(() => {
    bench(reads.oursAll, oursReadAll);
    bench(reads.emmettAll, emmettReadAll);
  });
});
pairs.push([reads.oursStream, reads.emmettStream], [reads.oursAll, reads.emmettAll]);

try {
  const crossCheck = await interleaved();
  await runAndReport("postgres", "PostgreSQL event store: EventFlows vs Emmett 0.42", {
    eventsPerIteration,
    pairs,
    // Medians: on this shared machine a few samples taken during someone else's burst drag means far off.
    statistic: "p50",
    notes: [
      "Same PostgreSQL 15 server (throwaway cluster, fsync on, loopback), same run, 20 connections per library. One iteration of a 16-writer row is 16 concurrent appends; events/s counts every event of the iteration.",
      "Each of our appends is one statement (one round trip): version check, idempotency probe and multi-row insert together. Emmett calls its append function in a transaction.",
      "ceiling: a bare multi-row INSERT via postgres.js into a table with one index; no version check, no global order.",
      "Global-feed reads: ours in pages of 1,000 over the position index; Emmett's readMessagesBatch in batches of 1,000.",
      crossCheck,
    ],
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
