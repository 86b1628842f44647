/**
 * Tenancy bench (issue 22, scope 1): what a tenant's event store (`TenantEventStore`: the tenantId
 * stamp on every append, the check of every event read) costs over the same store used directly.
 * Appends of 1 and of 10 events and `readStream` of a 1,000-event stream, in memory (CPU only: the
 * worst case for the ratio) and on DynamoDB Local (a table per tenant: the store is the same kind of
 * store, so the wrapper is the whole difference). Target: < 10%.
 *
 * Run: `bun bench/tenant-stores.bench.ts`, or `bun run bench tenant-stores` to also refresh bench/RESULTS.md.
 * DynamoDB Local comes from the test harness (or AWS_ENDPOINT_URL_DYNAMODB); the table made here is deleted.
 */
import { bench, do_not_optimize, group, summary } from "mitata";
import { createDynamoDbClient, DynamoDbEventStore } from "../adapters/dynamodb/index.js";
import { type EventStore, InMemoryEventStore, type NewEvent, TenantEventStore, tenantId, ulid } from "../src/index.js";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";
import { type InterleavedResult, interleaved } from "./lib/interleave.js";
import { appendsOf, readAllOf } from "./lib/overhead-workloads.js";
import { overheadNote, runAndReport } from "./lib/report.js";

const READ_COUNT = 1000;
const tenant = tenantId("acme");

/** ~150 bytes of JSON, as an ordinary domain event. */
const event = (i: number): NewEvent => ({
  type: "ItemAdded",
  data: { cartId: `cart-${i % 50}`, sku: `SKU-${i}`, quantity: (i % 5) + 1, price: 1999 },
  metadata: { correlationId: `c-${i % 10}` },
});

const local = await ensureDynamoDb();
const tableName = `bench_tenancy_${ulid()}`;
const dynamo = new DynamoDbEventStore({ ...local, tableName });
await dynamo.ensureTable();

const backends: { readonly name: string; readonly store: () => EventStore; readonly remote: boolean }[] = [
  { name: "in memory", store: () => new InMemoryEventStore(), remote: false },
  { name: "dynamodb", store: () => new DynamoDbEventStore({ ...local, tableName }), remote: true },
];

const eventsPerIteration: Record<string, number> = {};
const overheads: [string, string][] = [];
const crossChecks: InterleavedResult[] = [];
const notes: string[] = [];

for (const backend of backends) {
  const plain = backend.store();
  const scoped = new TenantEventStore(tenant, backend.store());
  const readPlain = `ReadPlain-${ulid()}`;
  const readScoped = `ReadScoped-${ulid()}`;
  for (let i = 0; i < READ_COUNT; i += 50) {
    const slice = Array.from({ length: 50 }, (_, n) => event(i + n));
    await plain.appendToStream(readPlain, slice);
    await scoped.appendToStream(readScoped, slice);
  }
  if ((await readAllOf(scoped, readScoped)) !== READ_COUNT) throw new Error("read disagrees");

  const appendOf = appendsOf(event);
  const names = {
    append1Plain: `${backend.name}: append 1 event, no tenancy`,
    append1Scoped: `${backend.name}: append 1 event, tenant store`,
    append10Plain: `${backend.name}: append 10 events, no tenancy`,
    append10Scoped: `${backend.name}: append 10 events, tenant store`,
    readPlain: `${backend.name}: readStream 1,000 events, no tenancy`,
    readScoped: `${backend.name}: readStream 1,000 events, tenant store`,
  };
  Object.assign(eventsPerIteration, {
    [names.append1Plain]: 1,
    [names.append1Scoped]: 1,
    [names.append10Plain]: 10,
    [names.append10Scoped]: 10,
    [names.readPlain]: READ_COUNT,
    [names.readScoped]: READ_COUNT,
  });
  const pairs: [string, string][] = [
    [names.append1Scoped, names.append1Plain],
    [names.append10Scoped, names.append10Plain],
    [names.readScoped, names.readPlain],
  ];
  overheads.push(...pairs);
  const suffix = ulid();
  const variants: Record<string, () => unknown> = {
    [names.append1Plain]: appendOf(plain, 1, `P1-${suffix}`),
    [names.append1Scoped]: appendOf(scoped, 1, `S1-${suffix}`),
    [names.append10Plain]: appendOf(plain, 10, `P10-${suffix}`),
    [names.append10Scoped]: appendOf(scoped, 10, `S10-${suffix}`),
    [names.readPlain]: () => readAllOf(plain, readPlain),
    [names.readScoped]: () => readAllOf(scoped, readScoped),
  };
  group(`tenancy (${backend.name})`, () => {
    summary(() => {
      for (const [name, run] of Object.entries(variants)) bench(name, async () => do_not_optimize(await run()));
    });
  });
  for (const [scopedName, plainName] of pairs) {
    const isRead = scopedName === names.readScoped;
    const cross = await interleaved(
      [
        [plainName, variants[plainName] as () => unknown],
        [scopedName, variants[scopedName] as () => unknown],
      ],
      backend.remote ? { rounds: 15, batch: isRead ? 2 : 10 } : { rounds: 30, batch: isRead ? 5 : 200 },
    );
    crossChecks.push(...cross);
    const [none, withTenancy] = cross.map((c) => c.medianNs) as [number, number];
    notes.push(overheadNote(scopedName, "none", none, withTenancy));
  }
}

notes.push(
  "The tenant store copies each appended event to add tenantId to its metadata and compares one metadata field per " +
    "event read, inside the wrapped store's own read loop (a call per event, no promise of its own); with a table " +
    "per tenant that is the whole cost of tenancy (the isolation itself is the table). " +
    "The target (issue 22) is < 10%.",
);
try {
  await runAndReport("tenant-stores", "Tenancy: a tenant's event store vs the same store used directly", {
    eventsPerIteration,
    overheads,
    interleaved: crossChecks,
    notes,
    statistic: "p50",
  });
  for (const note of notes) console.log(note);
} finally {
  await createDynamoDbClient(local).send("DeleteTable", { TableName: tableName });
}
