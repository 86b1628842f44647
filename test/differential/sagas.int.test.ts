/**
 * Saga stores against their in-memory reference on generated operation sequences
 * (saga-differential.ts), on PostgreSQL and DynamoDB Local (the event store's table, and a table of
 * the saga store's own with other key names and sharded timeouts). SQLite's runs in
 * adapters/sqlite/saga-store.test.ts, which needs no service.
 * Each backend is a schema or table of its own, shared by the runs: every run uses sagas of its own.
 */
import { afterAll, beforeAll, describe, test } from "bun:test";
import { DynamoDbEventStore, DynamoDbSagaStore } from "../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresSagaStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import type { SagaStore } from "../../src/index.js";
import { useDynamoTable } from "../fixtures/dynamodb-table.ts";
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

const shared = useDynamoTable("sagadiff", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);
const own = useDynamoTable("sagadiff_own", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName, partitionKey: "PK", sortKey: "SK" }).ensureTable(),
);
differential("DynamoDB Local (the event store's table)", () => new DynamoDbSagaStore(shared.options), 15);
differential(
  "DynamoDB Local (a table of its own, 3 timeout shards)",
  () =>
    new DynamoDbSagaStore({
      ...own.options,
      partitionKey: "PK",
      sortKey: "SK",
      timeoutShards: 3,
    }),
  15,
  true,
);
