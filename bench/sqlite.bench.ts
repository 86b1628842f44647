/**
 * SQLite event store bench (issue 15): `SqliteEventStore` on bun:sqlite under Bun and node:sqlite
 * under Node 22 (a file in a temp folder, WAL, busy_timeout 5 s, synchronous=NORMAL for both sides:
 * with FULL every commit waits for an fsync of the shared disk, whose noise drowns what the library
 * costs) against the ceiling: bare prepared statements on the same connection. One writer; appends of 1, 10 and 100 events to one stream at
 * the version it knows; reads of one 10,000-event stream.
 *
 * ceiling rows: appends are one prepared INSERT per event (in one transaction for 10 and 100) into
 * a table with the same columns and keys, no version check; the read is one prepared SELECT of the
 * stream with JSON.parse of data and metadata (what any event store must return).
 *
 * Not here (yet): Emmett's SQLite store. `@event-driven-io/emmett-sqlite` (0.38.5, 0.42.4 on npm) takes
 * `@event-driven-io/emmett` (same version) and the native `sqlite3` package (^5.1.7, an asynchronous
 * callback driver, not bun:sqlite or node:sqlite) as peer dependencies; none of them is installed.
 * Run: `bun run bench sqlite` (Bun, then Node 22 from .cache/node22) to also refresh bench/RESULTS.md,
 * or `bun bench/sqlite.bench.ts` for Bun alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, group, summary } from "mitata";
import { SqliteEventStore } from "../adapters/sqlite/index.js";
import { ulid } from "../src/index.js";
import type { InterleavedResult } from "./lib/interleave.js";
import { runAndReport } from "./lib/report.js";
import { openBenchSqlite } from "./lib/sqlite-connection.js";

const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-bench-"));
const db = await openBenchSqlite(join(dir, "bench.db"));
const store = new SqliteEventStore({ driver: db.driver });
db.exec("PRAGMA synchronous = NORMAL");
await store.migrate();
db.exec(`CREATE TABLE ceiling (
  position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
  id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, timestamp TEXT NOT NULL,
  UNIQUE (stream_id, version), UNIQUE (id))`);
const insert = db.prepare(
  "INSERT INTO ceiling (stream_id, version, id, type, data, metadata, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
);
const select = db.prepare(
  "SELECT position, stream_id, version, id, type, data, metadata, timestamp FROM ceiling WHERE stream_id = ? ORDER BY version",
);

const event = (n: number) => ({
  type: "ItemAdded",
  data: { orderId: "Order-01JBENCH", sku: `SKU-${n % 97}`, quantity: 1 + (n % 5), price: 19.99, note: "gift wrap" },
  metadata: { correlationId: "corr-bench" },
});
const batchOf = (size: number) => Array.from({ length: size }, (_, n) => event(n));

function oursAppend(size: number): () => Promise<void> {
  const stream = `Hot-ours-${size}-${ulid()}`;
  let version = 0;
  return async () => {
    version = (await store.appendToStream(stream, batchOf(size), { expectedVersion: version })).nextExpectedVersion;
  };
}

function ceilingAppend(size: number): () => void {
  const stream = `Hot-ceiling-${size}-${ulid()}`;
  let version = 0;
  return () => {
    const events = batchOf(size);
    db.transaction(() => {
      const timestamp = new Date().toISOString();
      for (const e of events) {
        version += 1;
        insert.run(stream, version, ulid(), e.type, JSON.stringify(e.data), JSON.stringify(e.metadata), timestamp);
      }
    });
  };
}

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
for (const size of [1, 10, 100]) {
  const ours = `ours: append ${size}`;
  const ceiling = `ceiling: append ${size}`;
  eventsPerIteration[ours] = size;
  eventsPerIteration[ceiling] = size;
  pairs.push([ours, ceiling]);
  group(`appends of ${size}`, () => {
    summary(() => {
      bench(ours, oursAppend(size));
      bench(ceiling, ceilingAppend(size));
    });
  });
}

// --- Reads: one 10,000-event stream each -----------------------------------------------------------

const READ = 10_000;
const oursLong = `Long-ours-${ulid()}`;
const ceilingLong = `Long-ceiling-${ulid()}`;
for (let written = 0; written < READ; written += 100) {
  await store.appendToStream(oursLong, batchOf(100), { expectedVersion: written });
}
// Filled like ceilingAppend(100) does, into a stream the read can name.
const ceilingStream = (() => {
  let version = 0;
  return () =>
    db.transaction(() => {
      const timestamp = new Date().toISOString();
      for (const e of batchOf(100)) {
        version += 1;
        insert.run(ceilingLong, version, ulid(), e.type, JSON.stringify(e.data), JSON.stringify(e.metadata), timestamp);
      }
    });
})();
for (let written = 0; written < READ; written += 100) ceilingStream();

async function oursRead(): Promise<number> {
  let count = 0;
  for await (const _ of store.readStream(oursLong)) count++;
  return count;
}
function ceilingRead(): number {
  const rows = select.all(ceilingLong) as { data: string; metadata: string }[];
  let count = 0;
  for (const row of rows) {
    JSON.parse(row.data);
    JSON.parse(row.metadata);
    count++;
  }
  return count;
}
// A variant that reads less than it should must fail here, not look fast.
for (const [name, count] of [
  ["ours", await oursRead()],
  ["ceiling", ceilingRead()],
] as const) {
  if (count !== READ) throw new Error(`${name} read ${count} events, expected ${READ}`);
}
const reads = { ours: "ours: read one 10,000-event stream", ceiling: "ceiling: read one 10,000-event stream" };
eventsPerIteration[reads.ours] = READ;
eventsPerIteration[reads.ceiling] = READ;
pairs.push([reads.ours, reads.ceiling]);
group("reads", () => {
  summary(() => {
    bench(reads.ours, oursRead);
    bench(reads.ceiling, ceilingRead);
  });
});

/**
 * A cross-check that load bursts cannot skew: ours and the ceiling alternate iteration by
 * iteration, and the medians are compared (mitata measures one benchmark after the other, so on a
 * shared machine a burst can land on one side of a pair). Named as the mitata rows, so RESULTS.md
 * shows each runtime's medians and ratios side by side.
 */
async function interleaved(): Promise<InterleavedResult[]> {
  const workloads: [string, string, () => unknown, () => unknown, number][] = [
    ...[1, 10, 100].map(
      (size) =>
        [`ours: append ${size}`, `ceiling: append ${size}`, oursAppend(size), ceilingAppend(size), 400] as [
          string,
          string,
          () => unknown,
          () => unknown,
          number,
        ],
    ),
    [reads.ours, reads.ceiling, oursRead, ceilingRead, 40],
  ];
  const results: InterleavedResult[] = [];
  for (const [oursName, ceilingName, ours, ceiling, rounds] of workloads) {
    const times: [number[], number[]] = [[], []];
    for (let round = 0; round < rounds; round++) {
      for (const [side, run] of [
        [0, ours],
        [1, ceiling],
      ] as const) {
        const started = performance.now();
        await run();
        times[side].push(performance.now() - started);
      }
    }
    results.push({ name: oursName, medianNs: median(times[0]) * 1e6 });
    results.push({ name: ceilingName, medianNs: median(times[1]) * 1e6 });
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

try {
  const crossCheck = await interleaved();
  await runAndReport(
    "sqlite",
    "SQLite event store (bun:sqlite on Bun, node:sqlite on Node 22): EventFlows vs bare prepared statements",
    {
      eventsPerIteration,
      pairs,
      statistic: "p50",
      interleaved: crossCheck,
      notes: [
        "bun:sqlite on Bun, node:sqlite on Node 22 (its DatabaseSync; Node 20 has none), a file database in a temp folder, WAL, synchronous=NORMAL (no fsync per commit; the default FULL adds one, the same for both sides), one connection, one writer. Ratios are the ceiling's time over ours: 1.00× would be no overhead at all.",
        "Each of our appends is one write transaction on the connection: BEGIN IMMEDIATE, the stream's version read and checked, one prepared INSERT per event (the first and last with RETURNING position), COMMIT; then the envelopes are returned and the after-commit step runs. Beyond the ceiling it pays the version read, RETURNING, and the core's validation, ULIDs and envelopes.",
        "ceiling: one prepared INSERT per event in one BEGIN IMMEDIATE … COMMIT (for 1, 10 and 100), no version check; read: one prepared SELECT of the stream plus JSON.parse of data and metadata. Ours reads in pages of 1,000.",
        "The interleaved cross-check alternates single iterations (a batch of one): 400 rounds per append size, 40 for the read.",
      ],
    },
  );
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
