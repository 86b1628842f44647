/**
 * A quick figure, not a mitata benchmark (not run by `bun run bench`): how fast a ProjectionRunner on
 * PostgreSQL takes the global feed in, against the bare read of the same feed (the ceiling).
 *   bun bench/projection-throughput.ts [events, default 20000]
 * Appends the events 100 per append over 100 streams, then times: `readAll` alone; a runner whose
 * handler writes nothing (the checkpoint only); a runner that reads and writes one document per
 * stream for every event (batchSize 1,000). Prints events/s and checks the documents add up.
 */
import {
  PostgresEventStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  type PostgresSql,
} from "../adapters/postgres/index.ts";
import { type EventEnvelope, ProjectionRunner, projection } from "../src/index.ts";
import { postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

const sql: PostgresSql = await postgresTestClient({ max: 8 });
const schema = uniqueSchema("projbench");
const store = new PostgresEventStore({ sql, schema });
await store.migrate();
const total = Number(process.argv[2] ?? 20_000);
for (let i = 0; i < total / 100; i++) {
  await store.appendToStream(
    `Cart-${i % 100}`,
    Array.from({ length: 100 }, (_, n) => ({ type: "Counted", data: { n } })),
  );
}
let started = performance.now();
let count = 0;
for await (const _ of store.readAll()) count++;
const rate = (events: number, ms: number) =>
  `${events} events in ${ms.toFixed(0)} ms = ${Math.round(events / (ms / 1000))} ev/s`;
console.log(`bare readAll: ${rate(count, performance.now() - started)}`);
const handlers: [
  string,
  (event: EventEnvelope, context: { readModels: import("../src/index.ts").ReadModelWriter }) => unknown,
][] = [
  ["checkpoint only (no writes)", () => undefined],
  [
    "get + put one document per stream",
    async (event, { readModels }) => {
      const doc = (await readModels.get<{ n: number }>("c", event.streamId)) ?? { n: 0 };
      await readModels.put("c", event.streamId, { n: doc.n + 1 });
    },
  ],
];
for (const [label, handle] of handlers) {
  const runner = new ProjectionRunner({
    projection: projection({ name: `bench-${crypto.randomUUID()}`, handle: handle as never }),
    eventStore: store,
    readModels: new PostgresReadModelStore({ sql, schema }),
    lock: new PostgresProjectionLock({ sql, schema }),
    batchSize: 1000,
  });
  started = performance.now();
  const done = await runner.catchUp();
  console.log(`${label}: ${rate(done?.read ?? 0, performance.now() - started)}`);
}
const docs = await new PostgresReadModelStore({ sql, schema }).list<{ n: number }>("c");
console.log(`documents: ${docs.length}, events counted: ${docs.reduce((sum, d) => sum + d.document.n, 0)}`);
await sql.unsafe(`DROP SCHEMA ${schema} CASCADE`);
await sql.end();
