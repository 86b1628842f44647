/**
 * Every store against its in-memory reference on generated operation sequences: event stores
 * (event-store-differential.ts), read-model stores with their checkpoints (read-model-differential.ts)
 * and snapshot stores (snapshot-differential.ts), on SQLite (bun:sqlite), PostgreSQL and DynamoDB
 * Local (the event store with the global feed on and off). Each backend is a database, schema or
 * table of its own, shared by the runs: every run uses streams, collections and checkpoints of its own.
 * Each check runs twice: on generated JSON, and on hostile values (hostile-values.ts) with a fixed
 * seed and fewer runs, which each store must keep as the reference does or refuse with the same error.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, test } from "bun:test";
import {
  DynamoDbEventStore,
  DynamoDbReadModelStore,
  DynamoDbSnapshotStore,
  dynamoDbStreamDeletion,
} from "../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresReadModelStore,
  PostgresSnapshotStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import {
  bunSqliteDriver,
  SqliteEventStore,
  SqliteReadModelStore,
  SqliteSnapshotStore,
} from "../../adapters/sqlite/index.js";
import type { EventStore, ReadModelStore, SnapshotStore } from "../../src/index.js";
import { useDynamoTable } from "../fixtures/dynamodb-table.ts";
import { ensurePostgres, uniqueSchema } from "../services/postgres.ts";
import { checkAgainstReference } from "./event-store-differential.ts";
import { hostileMetadata, hostileType, hostileValue } from "./hostile-values.ts";
import { checkReadModelsAgainstReference } from "./read-model-differential.ts";
import { checkSnapshotsAgainstReference } from "./snapshot-differential.ts";

const TIMEOUT = 240_000;

interface Backend {
  /** One per label given to `differential`, in that order. */
  readonly eventStores: readonly (() => EventStore)[];
  readonly readModels: () => ReadModelStore;
  readonly snapshots: (keepLast: number) => SnapshotStore;
}

/** Registers the three checks for a backend whose stores `backend()` makes once `beforeAll` has run. */
function differential(name: string, backend: () => Backend, eventStoreLabels: readonly string[], runs = 25) {
  describe(`${name} answers as the in-memory stores do`, () => {
    for (const [i, label] of eventStoreLabels.entries()) {
      test(
        `event store${label}: generated appends, retries, reads, feed reads, deletes, restores and truncations`,
        () => checkAgainstReference(() => (backend().eventStores[i] as () => EventStore)(), { numRuns: runs }),
        TIMEOUT,
      );
    }
    test(
      "read-model store: generated puts, gets, deletes, lists, checkpoints, swaps, drops and transactions",
      () => checkReadModelsAgainstReference(() => backend().readModels(), { numRuns: runs }),
      TIMEOUT,
    );
    test(
      "snapshot store: generated saves, loads and deletes, keepLast 1 to 3",
      () => checkSnapshotsAgainstReference((keepLast) => backend().snapshots(keepLast), { numRuns: runs }),
      TIMEOUT,
    );
    const hostile = { numRuns: HOSTILE_RUNS, seed: HOSTILE_SEED };
    for (const [i, label] of eventStoreLabels.entries()) {
      test(
        `event store${label}: hostile data, metadata, types and stream ids kept or refused as the reference does`,
        () =>
          checkAgainstReference(() => (backend().eventStores[i] as () => EventStore)(), {
            ...hostile,
            maxOperations: 12,
            data: hostileValue,
            metadata: hostileMetadata,
            types: hostileType,
          }),
        TIMEOUT,
      );
    }
    test(
      "read-model store: hostile documents kept or refused as the reference does",
      () => checkReadModelsAgainstReference(() => backend().readModels(), { ...hostile, documents: hostileValue }),
      TIMEOUT,
    );
    test(
      "snapshot store: hostile states kept or refused as the reference does",
      () =>
        checkSnapshotsAgainstReference((keepLast) => backend().snapshots(keepLast), {
          ...hostile,
          states: hostileValue,
        }),
      TIMEOUT,
    );
  });
}

// Fixed, so a failure is the same on every run; few runs, as each operation meets a hostile value.
const HOSTILE_SEED = 47;
const HOSTILE_RUNS = 100;

let sqlite: Backend | undefined;
const db = new Database(":memory:");
beforeAll(async () => {
  const driver = bunSqliteDriver(db);
  await new SqliteEventStore({ driver }).migrate();
  sqlite = {
    eventStores: [() => new SqliteEventStore({ driver, readPageSize: 2 })],
    readModels: () => new SqliteReadModelStore({ driver }),
    snapshots: (keepLast) => new SqliteSnapshotStore({ driver, keepLast }),
  };
});
afterAll(() => db.close());
differential("SQLite (bun:sqlite)", () => sqlite as Backend, [""]);

let postgres: Backend | undefined;
const schema = uniqueSchema("differential");
let sql: PostgresSql | undefined;
beforeAll(async () => {
  const client = createPostgresClient(await ensurePostgres(), { max: 4 });
  sql = client;
  await new PostgresEventStore({ sql: client, schema }).migrate();
  postgres = {
    eventStores: [() => new PostgresEventStore({ sql: client, schema, readPageSize: 2 })],
    readModels: () => new PostgresReadModelStore({ sql: client, schema }),
    snapshots: (keepLast) => new PostgresSnapshotStore({ sql: client, schema, keepLast }),
  };
}, 60_000);
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});
differential("PostgreSQL", () => postgres as Backend, [""]);

const feedOn = useDynamoTable("differential", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);
const feedOff = useDynamoTable("differential", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName, globalFeed: false }).ensureTable(),
);
let dynamo: Backend | undefined;
beforeAll(() => {
  const { endpoint, tableName: withFeed } = feedOn;
  const withoutFeed = feedOff.tableName;
  const eventStore = (tableName: string, globalFeed: boolean) => () =>
    new DynamoDbEventStore({
      ...endpoint,
      tableName,
      globalFeed,
      gapTimeoutMs: 200,
      streamDeletion: dynamoDbStreamDeletion,
    });
  dynamo = {
    eventStores: [eventStore(withFeed, true), eventStore(withoutFeed, false)],
    readModels: () => new DynamoDbReadModelStore({ ...endpoint, tableName: withFeed }),
    snapshots: (keepLast) => new DynamoDbSnapshotStore({ ...endpoint, tableName: withFeed, keepLast }),
  };
});
differential("DynamoDB Local", () => dynamo as Backend, [" (global feed on)", " (global feed off)"], 15);
