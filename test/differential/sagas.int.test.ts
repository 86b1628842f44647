/**
 * Saga stores against their in-memory reference on generated operation sequences
 * (saga-differential.ts), on PostgreSQL and DynamoDB Local (the event store's table, and a table of
 * the saga store's own with other key names and sharded timeouts). SQLite's runs in
 * adapters/sqlite/saga-store.test.ts, which needs no service.
 * Each backend is a schema or table of its own, shared by the runs: every run uses sagas of its own.
 */
import { afterAll, beforeAll, describe, test } from "bun:test";
import { createDynamoDbClient, DynamoDbEventStore, DynamoDbSagaStore } from "../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresSagaStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import { type SagaStore, ulid } from "../../src/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../services/dynamodb.ts";
import { ensurePostgres, uniqueSchema } from "../services/postgres.ts";
import { checkSagasAgainstReference } from "./saga-differential.ts";

const TIMEOUT = 120_000;

function differential(name: string, store: () => SagaStore, runs: number, sharded = false) {
  describe(`${name} answers as the in-memory stores do`, () => {
    test(
      "saga store: generated commits, loads, handled ids, outbox, timeout claims, drops, listings and failures",
      () => checkSagasAgainstReference(store, { numRuns: runs, sharded }),
      TIMEOUT,
    );
  });
}

const schema = uniqueSchema("sagadiff");
let sql: PostgresSql | undefined;
beforeAll(async () => {
  sql = createPostgresClient(await ensurePostgres(), { max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
}, 60_000);
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});
differential("PostgreSQL", () => new PostgresSagaStore({ sql: sql as PostgresSql, schema }), 25);

const tables = [`sagadiff_${ulid()}`, `sagadiff_own_${ulid()}`] as const;
let local: DynamoDbEndpoint | undefined;
beforeAll(async () => {
  local = await ensureDynamoDb();
  await new DynamoDbEventStore({ ...local, tableName: tables[0] }).ensureTable();
  await new DynamoDbSagaStore({ ...local, tableName: tables[1], partitionKey: "PK", sortKey: "SK" }).ensureTable();
}, 120_000);
afterAll(async () => {
  if (local === undefined) return;
  const client = createDynamoDbClient(local);
  for (const table of tables) await client.send("DeleteTable", { TableName: table });
});
differential(
  "DynamoDB Local (the event store's table)",
  () => new DynamoDbSagaStore({ ...(local as DynamoDbEndpoint), tableName: tables[0] }),
  15,
);
differential(
  "DynamoDB Local (a table of its own, 3 timeout shards)",
  () =>
    new DynamoDbSagaStore({
      ...(local as DynamoDbEndpoint),
      tableName: tables[1],
      partitionKey: "PK",
      sortKey: "SK",
      timeoutShards: 3,
    }),
  15,
  true,
);
