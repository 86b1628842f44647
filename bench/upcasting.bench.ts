/**
 * Upcasting bench (issue 12, item 2): `readStream` of a 10,000-event stream stored at schema v1,
 * read through a store whose event registry upcasts every event two steps (v1 → v2 → v3), against
 * the same stream read by a store without a registry (the ceiling: no upcasting at all). Also: the
 * registry on events already at v3 (no step applies), against the v3 stream read without one (its
 * rows are larger than the v1 stream's, which alone makes it dearer to read), and the same two steps
 * written by hand in the reading loop (what an application does without upcasters). In memory (CPU
 * only: the worst case for the ratio) and on PostgreSQL (the stored events decoded from JSONB, as in
 * production).
 *
 * Run: `bun bench/upcasting.bench.ts`, or `bun run bench upcasting` to also refresh bench/RESULTS.md.
 * PostgreSQL comes from the test harness (or EVENTFLOWS_PG_URL); the schema made here is dropped.
 */
import { bench, do_not_optimize, group, summary } from "mitata";
import { createPostgresClient, PostgresEventStore } from "../adapters/postgres/index.js";
import {
  type EventEnvelope,
  type EventStore,
  type EventStoreOptions,
  eventRegistry,
  InMemoryEventStore,
  type NewEvent,
} from "../src/index.js";
import { ensurePostgres } from "../test/services/postgres.ts";
import { type InterleavedResult, interleaved } from "./lib/interleave.js";
import { runAndReport } from "./lib/report.js";

const COUNT = 10_000;
type V1 = { sku: string; qty: number };
type V2 = V1 & { price: number };
type V3 = { sku: string; quantity: number; price: number };

const toV2 = (data: V1): V2 => ({ ...data, price: 100 });
const toV3 = (data: V2): V3 => ({ sku: data.sku, quantity: data.qty, price: data.price });
const registry = () => eventRegistry().upcast("ItemAdded", 1, toV2).upcast("ItemAdded", 2, toV3);

const history = (schemaVersion: number): NewEvent[] =>
  Array.from({ length: COUNT }, (_, i) => ({
    type: "ItemAdded",
    data: schemaVersion === 1 ? { sku: `SKU-${i % 200}`, qty: 1 + (i % 3) } : toV3(toV2({ sku: `S${i}`, qty: 1 })),
    metadata: { schemaVersion, correlationId: `c-${i % 10}` },
  }));

/**
 * Keeps every event read, as a handler that applies or stores it does: without it, an optimizing
 * JIT can remove the objects a loop body creates and discards, which only the hand-written variant
 * (upcasting inside the loop) would profit from.
 */
const sink: EventEnvelope[] = new Array(COUNT * 2);

/** Reads the stream to the end into the sink; returns the quantity read. */
async function read(store: EventStore, streamId: string, raw = false): Promise<number> {
  let total = 0;
  let i = 0;
  for await (const event of store.readStream(streamId, { raw })) {
    sink[i++] = event;
    total += (event.data as V3).quantity ?? 1;
  }
  return total;
}

/** The same two steps by hand in the loop: the application's own upcasting, on raw events. */
async function readByHand(store: EventStore, streamId: string): Promise<number> {
  let total = 0;
  let i = 0;
  for await (const event of store.readStream(streamId, { raw: true })) {
    const data: V3 = event.metadata.schemaVersion === 1 ? toV3(toV2(event.data as V1)) : (event.data as V3);
    const upcast: EventEnvelope = { ...event, data, metadata: { ...event.metadata, schemaVersion: 3 } };
    sink[i++] = upcast;
    total += (upcast.data as V3).quantity;
  }
  return total;
}

interface Backend {
  readonly name: string;
  /** A store on the backend, with the options given; all of a backend's stores see the same events. */
  readonly store: (options: EventStoreOptions) => EventStore;
  readonly batch: number;
}

const pgSql = createPostgresClient(await ensurePostgres(), { max: 4 });
const pgSchema = `bench_upcasting_${Date.now().toString(36)}`;
await new PostgresEventStore({ sql: pgSql, schema: pgSchema }).migrate();

const memoryPlain = new InMemoryEventStore();
const memoryRegistry = new InMemoryEventStore({ eventRegistry: registry() });
const backends: Backend[] = [
  // Two in-memory stores hold the same events (appended to both): one is read without a registry.
  { name: "in memory", store: (o) => (o.eventRegistry === undefined ? memoryPlain : memoryRegistry), batch: 1000 },
  { name: "postgres", store: (o) => new PostgresEventStore({ ...o, sql: pgSql, schema: pgSchema }), batch: 1000 },
];

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const overheads: [string, string][] = [];
const crossChecks: InterleavedResult[] = [];
const notes: string[] = [];

for (const backend of backends) {
  const plain = backend.store({});
  const upcasting = backend.store({ eventRegistry: registry() });
  for (const [streamId, version] of [
    ["Ledger-v1", 1],
    ["Ledger-v3", 3],
  ] as const) {
    const events = history(version);
    for (let i = 0; i < COUNT; i += backend.batch) {
      const slice = events.slice(i, i + backend.batch);
      await plain.appendToStream(streamId, slice);
      if (upcasting !== plain && backend.name === "in memory") await upcasting.appendToStream(streamId, slice);
    }
  }
  const expected = await readByHand(plain, "Ledger-v1");
  if ((await read(upcasting, "Ledger-v1")) !== expected) throw new Error(`${backend.name}: upcast read disagrees`);
  const names = {
    none: `${backend.name}: readStream 10k, no registry`,
    chain: `${backend.name}: readStream 10k v1 events, 2-step chain`,
    current: `${backend.name}: readStream 10k v3 events, registry (no step applies)`,
    currentNone: `${backend.name}: readStream 10k v3 events, no registry`,
    hand: `${backend.name}: readStream 10k raw, 2 steps by hand in the loop`,
  };
  for (const name of Object.values(names)) eventsPerIteration[name] = COUNT;
  pairs.push([names.chain, names.none]);
  // The v3 stream against itself: against the v1 stream, its larger rows were taken for the registry's cost.
  overheads.push([names.chain, names.none], [names.current, names.currentNone], [names.hand, names.none]);
  group(`read a 10,000-event stream (${backend.name})`, () => {
    summary(() => {
      bench(names.none, async () => do_not_optimize(await read(plain, "Ledger-v1")));
      bench(names.chain, async () => do_not_optimize(await read(upcasting, "Ledger-v1")));
      bench(names.current, async () => do_not_optimize(await read(upcasting, "Ledger-v3")));
      bench(names.currentNone, async () => do_not_optimize(await read(plain, "Ledger-v3")));
      bench(names.hand, async () => do_not_optimize(await readByHand(plain, "Ledger-v1")));
    });
  });
  const cross = await interleaved(
    [
      [names.none, () => read(plain, "Ledger-v1")],
      [names.chain, () => read(upcasting, "Ledger-v1")],
    ],
    backend.name === "postgres" ? { rounds: 15, batch: 2 } : { rounds: 30, batch: 10 },
  );
  crossChecks.push(...cross);
  const [none, chain] = cross.map((c) => c.medianNs) as [number, number];
  notes.push(
    `${backend.name}: interleaved cross-check, 2-step chain over no registry: ${(((chain - none) / none) * 100).toFixed(1)}% ` +
      `(${(none / 1e6).toFixed(2)} ms vs ${(chain / 1e6).toFixed(2)} ms per 10k-event read)`,
  );
}

notes.push(
  "Stored events are v1 `ItemAdded { sku, qty }`; the chain adds `price` (v1 → v2), then renames `qty` to `quantity` (v2 → v3). " +
    "Each read touches every event's data and keeps the event (an array slot), as a handler would. The target (issue 12) is < 15% overhead for the chain.",
);
try {
  await runAndReport("upcasting", "Upcasting: readStream of 10,000 events with a 2-step chain vs none", {
    eventsPerIteration,
    pairs,
    overheads,
    interleaved: crossChecks,
    notes,
    statistic: "p50",
  });
  for (const note of notes) console.log(note);
} finally {
  await pgSql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await pgSql.end();
}
