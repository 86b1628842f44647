/**
 * Snapshots bench (issue 6): loading an aggregate with 1k, 10k and 100k events by full replay and
 * from a snapshot plus the tail, through `AggregateRepository`, on the in-memory stores, on
 * PostgreSQL (PostgresEventStore + PostgresSnapshotStore) and on DynamoDB Local (DynamoDbEventStore
 * + DynamoDbSnapshotStore, in one table); and what a snapshot write costs per serializer.
 *
 * Run: `bun bench/snapshots.bench.ts`, or `bun run bench snapshots` to also refresh bench/RESULTS.md.
 * PostgreSQL and DynamoDB Local come from the test harness (or EVENTFLOWS_PG_URL /
 * AWS_ENDPOINT_URL_DYNAMODB); the schema and table made here are dropped at the end.
 */
import { bench, do_not_optimize, group, summary } from "mitata";
import { createDynamoDbClient, DynamoDbEventStore, DynamoDbSnapshotStore } from "../adapters/dynamodb/index.js";
import { createPostgresClient, PostgresEventStore, PostgresSnapshotStore } from "../adapters/postgres/index.js";
import {
  AggregateRepository,
  AggregateRoot,
  type AggregateSnapshot,
  type EventEnvelope,
  type EventOfType,
  type EventStore,
  InMemoryEventStore,
  InMemorySnapshotStore,
  jsonSerializer,
  msgpackSerializer,
  type SnapshotSerializer,
  type SnapshotStore,
  ulid,
} from "../src/index.js";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";
import { ensurePostgres } from "../test/services/postgres.ts";
import { appendToReport, type BenchmarkResult, runAndReport } from "./lib/report.js";

type LedgerEvent =
  | { type: "ItemAdded"; data: { sku: string; qty: number; price: number } }
  | { type: "ItemRemoved"; data: { sku: string } }
  | { type: "CouponApplied"; data: { code: string } };

interface LedgerState {
  lines: Map<string, { qty: number; price: number }>;
  coupons: Set<string>;
  total: number;
  updatedAt: Date | undefined;
}

/** A cart-like aggregate whose state stays bounded (≤ 200 lines) however long its stream grows. */
class Ledger extends AggregateRoot<LedgerState, LedgerEvent> {
  constructor(id: string) {
    super(id, { lines: new Map(), coupons: new Set(), total: 0, updatedAt: undefined });
  }
  protected onItemAdded(e: EventOfType<LedgerEvent, "ItemAdded">) {
    const line = this.state.lines.get(e.data.sku) ?? { qty: 0, price: e.data.price };
    line.qty += e.data.qty;
    this.state.lines.set(e.data.sku, line);
    this.state.total += e.data.qty * e.data.price;
    this.state.updatedAt = new Date(1_700_000_000_000);
  }
  protected onItemRemoved(e: EventOfType<LedgerEvent, "ItemRemoved">) {
    const line = this.state.lines.get(e.data.sku);
    if (line === undefined) return;
    this.state.total -= line.qty * line.price;
    this.state.lines.delete(e.data.sku);
  }
  protected onCouponApplied(e: EventOfType<LedgerEvent, "CouponApplied">) {
    this.state.coupons.add(e.data.code);
  }
}

function history(count: number): LedgerEvent[] {
  return Array.from({ length: count }, (_, i): LedgerEvent => {
    if (i % 50 === 49) return { type: "CouponApplied", data: { code: `C${i % 20}` } };
    if (i % 7 === 6) return { type: "ItemRemoved", data: { sku: `SKU-${(i * 13) % 200}` } };
    return { type: "ItemAdded", data: { sku: `SKU-${i % 200}`, qty: 1 + (i % 3), price: 100 + (i % 17) } };
  });
}

/** Events after the newest snapshot: half the interval of an `everyNEvents(100)` policy, on average. */
const TAIL = 50;
const sizes = [1_000, 10_000, 100_000] as const;
const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const savings: [label: string, snapshot: string, full: string][] = [];
const serializers: [string, () => SnapshotSerializer][] = [
  ["json", () => jsonSerializer],
  ["msgpack", msgpackSerializer],
];

const repository = (store: EventStore, snapshots?: SnapshotStore) =>
  new AggregateRepository({
    store,
    stream: (id) => `Ledger-${id}`,
    create: (id) => new Ledger(id),
    ...(snapshots === undefined ? {} : { snapshots: { store: snapshots, policy: () => false } }),
  });

// The database backends: one schema / one table for this run, dropped at the end.
const runId = ulid().toLowerCase();
const pgSql = createPostgresClient(await ensurePostgres(), { max: 4 });
const pgSchema = `bench_snapshots_${Date.now().toString(36)}`;
const pgEvents = new PostgresEventStore({ sql: pgSql, schema: pgSchema });
await pgEvents.migrate();
const dynamo = await ensureDynamoDb();
const ddbTable = `bench_snapshots_${runId}`;
// Without the global feed: a full replay reads the stream alone, and the 100k-event history is written faster.
const ddbEvents = new DynamoDbEventStore({ ...dynamo, tableName: ddbTable, globalFeed: false });
await ddbEvents.ensureTable();

interface Backend {
  readonly name: string;
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  /** Events per append while writing the history. */
  readonly batch: number;
}
// Both snapshot stores with their defaults: JSON, gzip-compressed.
const backends: readonly Backend[] = [
  {
    name: "postgres",
    events: pgEvents,
    snapshots: new PostgresSnapshotStore({ sql: pgSql, schema: pgSchema }),
    batch: 1000,
  },
  {
    name: "dynamodb",
    events: ddbEvents,
    snapshots: new DynamoDbSnapshotStore({ ...dynamo, tableName: ddbTable, client: ddbEvents.client }),
    batch: ddbEvents.capabilities.maxEventsPerAppend ?? 25,
  },
];

/** Writes the history to a backend and registers its two load benchmarks: full replay, and snapshot + tail. */
async function backendRows(
  backend: Backend,
  size: number,
  events: readonly LedgerEvent[],
  atSnapshot: AggregateSnapshot<LedgerState>,
  expected: LedgerState,
) {
  const label = size.toLocaleString("en-US");
  const id = `${backend.name}-${size}`;
  const streamId = `Ledger-${id}`;
  for (let i = 0; i < size; i += backend.batch) {
    await backend.events.appendToStream(streamId, events.slice(i, i + backend.batch), { expectedVersion: i });
  }
  const saved = await backend.snapshots.save({ streamId, ...atSnapshot });
  const full = repository(backend.events);
  const withSnapshot = repository(backend.events, backend.snapshots);
  for (const [path, repo] of [
    ["full replay", full],
    ["snapshot", withSnapshot],
  ] as const) {
    const loaded = await repo.load(id);
    if (
      loaded.version !== size ||
      JSON.stringify([...loaded.currentState.lines]) !== JSON.stringify([...expected.lines])
    ) {
      throw new Error(`${backend.name}: ${path} load disagrees with the in-memory replay at ${label} events`);
    }
  }
  const names = {
    full: `${backend.name}: load ${label} events: full replay`,
    snapshot: `${backend.name}: load ${label} events: ${saved.encoding} snapshot + ${TAIL}-event tail`,
  };
  eventsPerIteration[names.full] = size;
  pairs.push([names.snapshot, names.full]);
  savings.push([
    `${label} events, ${backend.name} (${saved.encoding}, ${saved.storedBytes.toLocaleString("en-US")} bytes)`,
    names.snapshot,
    names.full,
  ]);
  group(`load an aggregate with ${label} events (${backend.name})`, () => {
    summary(() => {
      bench(names.full, async () => do_not_optimize(await full.load(id)));
      bench(names.snapshot, async () => do_not_optimize(await withSnapshot.load(id)));
    });
  });
}

for (const size of sizes) {
  const label = size.toLocaleString("en-US");
  const store = new InMemoryEventStore();
  const events = history(size);
  for (let i = 0; i < size; i += 1000) await store.appendToStream("Ledger-L", events.slice(i, i + 1000));
  const full = repository(store);
  // The snapshot as everyNEvents would have taken it, TAIL events before the head.
  const atSnapshot = new Ledger("L").rehydrate((await collect(store.readStream("Ledger-L"))).slice(0, size - TAIL));
  const expected = (await full.load("L")).currentState;
  const names = { full: `load ${label} events: full replay` };
  eventsPerIteration[names.full] = size;
  const withSnapshot: [string, AggregateRepository<Ledger>][] = [];
  for (const [format, serializer] of serializers) {
    const snapshots = new InMemorySnapshotStore({ serializer: serializer() });
    await snapshots.save({ streamId: "Ledger-L", ...atSnapshot.toSnapshot() });
    const repo = repository(store, snapshots);
    const loaded = await repo.load("L");
    // Checks both paths agree before timing them, so a broken load cannot look fast.
    if (
      loaded.version !== size ||
      JSON.stringify([...loaded.currentState.lines]) !== JSON.stringify([...expected.lines])
    ) {
      throw new Error(`snapshot load (${format}) disagrees with full replay at ${label} events`);
    }
    const name = `load ${label} events: ${format} snapshot + ${TAIL}-event tail`;
    pairs.push([name, names.full]);
    savings.push([`${label} events, ${format}`, name, names.full]);
    withSnapshot.push([name, repo]);
  }
  group(`load an aggregate with ${label} events (in memory)`, () => {
    summary(() => {
      bench(names.full, async () => do_not_optimize(await full.load("L")));
      for (const [name, repo] of withSnapshot) bench(name, async () => do_not_optimize(await repo.load("L")));
    });
  });
  for (const backend of backends) await backendRows(backend, size, events, atSnapshot.toSnapshot(), expected);
}

// What a snapshot write costs: serialization (and compression) of the 200-line state, then the store.
const state = new Ledger("L")
  .rehydrate(
    history(10_000).map(
      (event, i): EventEnvelope => ({
        ...event,
        id: "",
        streamId: "Ledger-L",
        version: i + 1,
        timestamp: "",
        metadata: {},
      }),
    ),
  )
  .toSnapshot();
group("take one snapshot (200-line state)", () => {
  for (const [format, serializer] of serializers) {
    const plain = new InMemorySnapshotStore({ serializer: serializer(), keepLast: 1 });
    const gzip = new InMemorySnapshotStore({ serializer: serializer(), keepLast: 1, compression: { format: "gzip" } });
    bench(`save snapshot: ${format}`, async () => do_not_optimize(await plain.save({ streamId: "S", ...state })));
    bench(`save snapshot: ${format}+gzip`, async () => do_not_optimize(await gzip.save({ streamId: "S", ...state })));
  }
});

let results: BenchmarkResult[];
try {
  results = await runAndReport("snapshots", "Snapshots: rehydration with and without a snapshot", {
    eventsPerIteration,
    pairs,
    statistic: "p50",
    notes: [
      `Through AggregateRepository.load, on the in-memory stores, on PostgreSQL (PostgresEventStore and PostgresSnapshotStore, one local server, fsync on) and on DynamoDB Local (DynamoDbEventStore without the global feed and DynamoDbSnapshotStore in the same table). The aggregate's state is bounded (≤ 200 lines, a Set, a Date); the snapshot sits ${TAIL} events before the head, as an everyNEvents(100) policy leaves it on average, so a snapshot load is two reads (the snapshot; the stream from the snapshot's version, which proves that event exists) and replays ${TAIL} events. The database snapshot stores run with their defaults (JSON, gzip). events/s is given for full replays only.`,
    ],
  });
} finally {
  await pgSql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await pgSql.end();
  await createDynamoDbClient(dynamo).send("DeleteTable", { TableName: ddbTable });
}

const byName = new Map<string, BenchmarkResult>(results.map((r) => [r.name, r]));
const lines = ["", "| aggregate | time with snapshot / full replay (p50) | time saved |", "| --- | ---: | ---: |"];
for (const [label, snapshot, full] of savings) {
  const a = byName.get(snapshot);
  const b = byName.get(full);
  if (a === undefined || b === undefined) continue;
  const share = a.p50Ns / b.p50Ns;
  lines.push(`| ${label} | ${(share * 100).toFixed(1)}% | ${((1 - share) * 100).toFixed(1)}% |`);
}
appendToReport("snapshots", lines.join("\n"));
console.log(lines.join("\n"));

/** `Array.fromAsync`, which Node 20 lacks. */
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
