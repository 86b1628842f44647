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
 * peer rows: Emmett's SQLite event store (`@event-driven-io/emmett-sqlite` 0.42.4 on the native `sqlite3`
 * driver, an asynchronous callback driver, not bun:sqlite or node:sqlite), installed on first use into
 * .cache with sqlite3 built from source (lib/emmett-sqlite-peer.ts says how and why): its own file in
 * the same folder, one connection (Emmett's singleton option), WAL (Emmett sets it) and synchronous=NORMAL
 * like the others; the same events, appended at the version it knows and read back whole.
 * Run: `bun run bench sqlite` (Bun, then Node 22 from .cache/node22) to also refresh bench/RESULTS.md,
 * or `bun bench/sqlite.bench.ts` for Bun alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, group, summary } from "mitata";
import { SqliteEventStore } from "../adapters/sqlite/index.js";
import { ulid } from "../src/index.js";
import { type EmmettSqliteEventStore, importEmmettSqlite } from "./lib/emmett-sqlite-peer.js";
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

// Emmett, when its native driver loads on this runtime (it is an N-API addon: Node, and Bun if it takes it).
const emmett = await (async (): Promise<
  { store: EmmettSqliteEventStore; close(): void } | { store: undefined; reason: string }
> => {
  try {
    const module = await importEmmettSqlite();
    const fileName = join(dir, "emmett.db");
    const connection = module.sqliteConnection({ fileName });
    await connection.command("PRAGMA synchronous = NORMAL");
    const store = module.getSQLiteEventStore({ fileName, connectionOptions: { singleton: true, connection } });
    return { store, close: () => connection.close() };
  } catch (error) {
    if ("Bun" in globalThis)
      return { store: undefined, reason: String((error as Error)?.message ?? error).split("\n")[0] ?? "" };
    throw error;
  }
})();

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

function emmettAppend(store: EmmettSqliteEventStore, size: number): () => Promise<void> {
  const stream = `Hot-emmett${size}-${ulid()}`;
  let version = 0n;
  return async () => {
    version = (await store.appendToStream(stream, batchOf(size), { expectedStreamVersion: version }))
      .nextExpectedStreamVersion;
  };
}

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
for (const size of [1, 10, 100]) {
  const ours = `ours: append ${size}`;
  const ceiling = `ceiling: append ${size}`;
  const peer = `Emmett: append ${size}`;
  eventsPerIteration[ours] = size;
  eventsPerIteration[ceiling] = size;
  pairs.push([ours, ceiling]);
  if (emmett.store !== undefined) {
    eventsPerIteration[peer] = size;
    // Ours as timed beside Emmett in the cross-check (see interleaved()): mitata's tables show it as "—".
    pairs.push([`${ours} (against Emmett)`, peer]);
  }
  group(`appends of ${size}`, () => {
    summary(() => {
      bench(ours, oursAppend(size));
      bench(ceiling, ceilingAppend(size));
      if (emmett.store !== undefined) bench(peer, emmettAppend(emmett.store, size));
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
const emmettLong = `Long-emmett-${ulid()}`;
if (emmett.store !== undefined) {
  let version = 0n;
  for (let written = 0; written < READ; written += 100) {
    version = (await emmett.store.appendToStream(emmettLong, batchOf(100), { expectedStreamVersion: version }))
      .nextExpectedStreamVersion;
  }
}

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
async function emmettRead(): Promise<number> {
  return (await (emmett.store as EmmettSqliteEventStore).readStream(emmettLong)).events.length;
}
// A variant that reads less than it should must fail here, not look fast.
for (const [name, count] of [
  ["ours", await oursRead()],
  ["ceiling", ceilingRead()],
  ...(emmett.store === undefined ? [] : [["Emmett", await emmettRead()] as const]),
] as const) {
  if (count !== READ) throw new Error(`${name} read ${count} events, expected ${READ}`);
}
const reads = {
  ours: "ours: read one 10,000-event stream",
  ceiling: "ceiling: read one 10,000-event stream",
  peer: "Emmett: read one 10,000-event stream",
};
eventsPerIteration[reads.ours] = READ;
eventsPerIteration[reads.ceiling] = READ;
pairs.push([reads.ours, reads.ceiling]);
if (emmett.store !== undefined) {
  eventsPerIteration[reads.peer] = READ;
  pairs.push([`${reads.ours} (against Emmett)`, reads.peer]);
}
group("reads", () => {
  summary(() => {
    bench(reads.ours, oursRead);
    bench(reads.ceiling, ceilingRead);
    if (emmett.store !== undefined) bench(reads.peer, emmettRead);
  });
});

/**
 * A cross-check that load bursts cannot skew: ours and the ceiling alternate iteration by
 * iteration, and the medians are compared (mitata measures one benchmark after the other, so on a
 * shared machine a burst can land on one side of a pair). Named as the mitata rows, so RESULTS.md
 * shows each runtime's medians and ratios side by side.
 */
const WARM_UP_ROUNDS = 2000;
const WARM_UP_MS = 1000;

async function interleaved(): Promise<InterleavedResult[]> {
  const peer = emmett.store;
  const withPeer = (name: string, run: () => unknown): [string, () => unknown][] =>
    peer === undefined ? [] : [[name, run]];
  // Per workload: the pairs to alternate ([name, run] each) and the rounds. Ours and the ceiling
  // alternate alone, as before Emmett was here; Emmett is then timed against a second run of ours,
  // so its driver's background work (its own thread pool, its WAL) cannot land on the ceiling pair.
  const workloads: [[string, () => unknown][], number][] = [
    ...[1, 10, 100].flatMap((size): [[string, () => unknown][], number][] => [
      [
        [
          [`ours: append ${size}`, oursAppend(size)],
          [`ceiling: append ${size}`, ceilingAppend(size)],
        ],
        400,
      ],
      ...(peer === undefined
        ? []
        : ([
            [
              [
                [`ours: append ${size} (against Emmett)`, oursAppend(size)],
                ...withPeer(`Emmett: append ${size}`, emmettAppend(peer, size)),
              ],
              200,
            ],
          ] as [[string, () => unknown][], number][])),
    ]),
    [
      [
        [reads.ours, oursRead],
        [reads.ceiling, ceilingRead],
      ],
      40,
    ],
    ...(peer === undefined
      ? []
      : ([[[[`${reads.ours} (against Emmett)`, oursRead], ...withPeer(reads.peer, emmettRead)], 20]] as [
          [string, () => unknown][],
          number,
        ][])),
  ];
  const results: InterleavedResult[] = [];
  for (const [sides, rounds] of workloads) {
    // Untimed rounds of the same alternation first, as mitata warms up before its rows: the timed
    // rounds then compare warmed code, not how soon each side's JIT tiers up (a 400-round run from
    // cold put half of a 1-event append's rounds in unoptimized code, where ours runs far more JS).
    const warmUntil = performance.now() + WARM_UP_MS;
    for (let round = 0; round < WARM_UP_ROUNDS && performance.now() < warmUntil; round++) {
      for (const [, run] of sides) await run();
    }
    const times = sides.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (const [side, [, run]] of sides.entries()) {
        const started = performance.now();
        await run();
        times[side]?.push(performance.now() - started);
      }
    }
    for (const [side, [name]] of sides.entries()) results.push({ name, medianNs: median(times[side] ?? []) * 1e6 });
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
        "Each of our appends (at the version it knows, up to 100 events) is one multi-row INSERT whose first row checks the version and the deletion state (two index probes; a NULL version fails NOT NULL when they do not hold), with no BEGIN or COMMIT and no read first; positions come from its lastInsertRowid. Then the envelopes are returned and the after-commit step runs. Beyond the ceiling it pays the check, and the core's validation, ULIDs and envelopes.",
        "ceiling: one prepared INSERT per event in one BEGIN IMMEDIATE … COMMIT (for 1, 10 and 100), no version check; read: one prepared SELECT of the stream plus JSON.parse of data and metadata. Ours reads in pages of 1,000.",
        "The interleaved cross-check alternates single iterations (a batch of one): 400 rounds per append size, 40 for the read, each after untimed warm-up rounds of the same alternation (2,000, or 1 s, whichever ends first), so that it compares warmed code, as mitata's rows do.",
        emmett.store === undefined
          ? `Emmett's SQLite store (emmett-sqlite 0.42.4 on the native sqlite3 driver) did not load on this runtime: ${emmett.reason}`
          : "Emmett: @event-driven-io/emmett-sqlite 0.42.4 (with emmett 0.42.0) on the native sqlite3 5.1.7 driver built from source, one connection to its own file in the same folder, WAL and synchronous=NORMAL; appends at the version it knows (its streams row updated and checked, then one multi-row INSERT … RETURNING, in a transaction); the read is its readStream of the whole stream.",
      ],
    },
  );
} finally {
  if (emmett.store !== undefined) emmett.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
