import { afterAll, beforeAll, expect, test } from "bun:test";
import { isEventFlowsError, ProjectionRunner, projection, ulid } from "../../src/index.js";
import { untilHeadReadable } from "../../src/testing/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import {
  PostgresEventStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  type PostgresSql,
  tableNames,
} from "./index.js";

// The transaction's COMMIT goes out right behind its document writes, without waiting for them
// (one round trip less per batch). These tests make the server refuse a write at that point, with a
// CHECK constraint no client-side check knows of, and show that nothing of the transaction commits.

let sql: PostgresSql;
const schema = uniqueSchema("read_model_commit");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
  await sql.unsafe(
    `ALTER TABLE ${tableNames({ schema }).readModels} ADD CONSTRAINT no_boom CHECK (document->>'boom' IS NULL)`,
  );
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

test("a document write the server refuses at commit fails the transaction, and nothing of it commits", async () => {
  const store = new PostgresReadModelStore({ sql, schema });
  const col = `c${ulid()}`;
  await store.put(col, "kept", { n: 1 });
  await store.checkpoints.store("commit-test", 5);
  const failure = await store
    .transaction(async (tx) => {
      await tx.put(col, "kept", { n: 2 });
      await tx.put(col, "new", { n: 3 });
      await tx.delete(col, "kept-too");
      await tx.checkpoints.store("commit-test", 6, { expected: 5 });
      await tx.put(col, "refused", { boom: true });
      return "done";
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  expect(isEventFlowsError(failure)).toBe(true);
  expect((failure as { code?: string }).code).toBe("SERVICE_ERROR");
  expect(await store.list(col)).toEqual([{ id: "kept", document: { n: 1 } }]);
  expect(await store.checkpoints.load("commit-test")).toBe(5);
  // The connection is usable afterwards: the next transaction commits.
  await store.transaction(async (tx) => tx.put(col, "after", { n: 4 }));
  expect(await store.get(col, "after")).toEqual({ n: 4 });
});

test("a runner whose batch write is refused at commit keeps its checkpoint and writes nothing of the batch", async () => {
  const events = new PostgresEventStore({ sql, schema });
  const stream = `Boom-${ulid()}`;
  await events.appendToStream(
    stream,
    Array.from({ length: 30 }, (_, n) => ({ type: n === 24 ? "Bad" : "Good", data: { n } })),
  );
  // Every event readable before catchUp, which reads what the feed's readers see (see untilReadable).
  const head = await untilHeadReadable(events);
  const readModels = new PostgresReadModelStore({ sql, schema });
  const col = `r${ulid()}`;
  const runner = new ProjectionRunner({
    projection: projection({
      name: col,
      handle: async (event, { readModels: tx }) => {
        const n = (event.data as { n: number }).n;
        await tx.put(col, String(n), event.type === "Bad" ? { boom: n } : { n });
      },
    }),
    eventStore: events,
    readModels,
    lock: new PostgresProjectionLock({ sql, schema }),
    // Batches of 10 throughout (catch-up batches would grow to 20 after the first).
    batchSize: 10,
    maxBatchSize: 10,
    telemetry: false,
  });
  const failure = await runner.catchUp().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect((failure as { code?: string }).code).toBe("SERVICE_ERROR");
  // The two batches before the refused one committed; nothing of the third did.
  const docs = await readModels.list<{ n: number }>(col);
  expect(docs.map((d) => d.document.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
  const checkpoint = await readModels.checkpoints.load(`projection:${col}`);
  expect(checkpoint).toBeLessThan(head);
  expect(runner.position).toBe(checkpoint ?? -1);
});
