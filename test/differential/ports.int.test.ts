/**
 * The stores of the smaller ports against their in-memory references on generated operation
 * sequences: idempotency stores (idempotency-differential.ts; PostgreSQL and DynamoDB Local),
 * subject key stores (subject-key-differential.ts; PostgreSQL and DynamoDB Local) and checkpoint
 * stores on their own (checkpoint-differential.ts; SQLite, PostgreSQL and DynamoDB Local). Each
 * backend is a database, schema or table of its own, shared by the runs: every run uses keys,
 * subjects and ids of its own.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, test } from "bun:test";
import {
  DynamoDbCheckpointStore,
  DynamoDbIdempotencyStore,
  DynamoDbSubjectKeyStore,
} from "../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  PostgresCheckpointStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  type PostgresSql,
  PostgresSubjectKeyStore,
} from "../../adapters/postgres/index.js";
import { bunSqliteDriver, SqliteCheckpointStore, SqliteEventStore } from "../../adapters/sqlite/index.js";
import type { CheckpointStore, IdempotencyStore, SubjectKeyStore, WebCryptoKey } from "../../src/index.js";
import { useDynamoTable } from "../fixtures/dynamodb-table.ts";
import { ensurePostgres, uniqueSchema } from "../services/postgres.ts";
import { checkCheckpointsAgainstReference } from "./checkpoint-differential.ts";
import { checkIdempotencyAgainstReference, type IdempotencySettings } from "./idempotency-differential.ts";
import { checkSubjectKeysAgainstReference, type SubjectKeySettings } from "./subject-key-differential.ts";

const TIMEOUT = 120_000;

interface Backend {
  readonly idempotency?: (settings: IdempotencySettings) => IdempotencyStore;
  readonly subjectKeys?: (settings: SubjectKeySettings) => SubjectKeyStore;
  readonly checkpoints: () => CheckpointStore;
}

/** Registers a check per port the backend implements; `backend()` makes its stores once `beforeAll` has run. */
function differential(name: string, backend: () => Backend, ports: readonly (keyof Backend)[], runs = 20) {
  describe(`${name} answers as the in-memory stores do`, () => {
    if (ports.includes("idempotency")) {
      test(
        "idempotency store: generated claims, completions, releases and expiries",
        () =>
          checkIdempotencyAgainstReference(
            (settings) => (backend().idempotency as Required<Backend>["idempotency"])(settings),
            {
              numRuns: runs,
            },
          ),
        TIMEOUT,
      );
    }
    if (ports.includes("subjectKeys")) {
      test(
        "subject key store: generated creations, lookups and deletes through two instances, caches expiring",
        () =>
          checkSubjectKeysAgainstReference(
            (settings) => (backend().subjectKeys as Required<Backend>["subjectKeys"])(settings),
            {
              numRuns: runs,
            },
          ),
        TIMEOUT,
      );
    }
    test(
      "checkpoint store: generated loads, stores with and without compare-and-set, and deletes",
      () => checkCheckpointsAgainstReference(() => backend().checkpoints(), { numRuns: runs }),
      TIMEOUT,
    );
  });
}

const newMasterKey = () =>
  crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]) as Promise<WebCryptoKey>;

let sqlite: Backend | undefined;
const db = new Database(":memory:");
beforeAll(async () => {
  const driver = bunSqliteDriver(db);
  await new SqliteEventStore({ driver }).migrate();
  sqlite = { checkpoints: () => new SqliteCheckpointStore({ driver }) };
});
afterAll(() => db.close());
differential("SQLite (bun:sqlite)", () => sqlite as Backend, ["checkpoints"]);

let postgres: Backend | undefined;
const schema = uniqueSchema("differential_ports");
let sql: PostgresSql | undefined;
beforeAll(async () => {
  const client = createPostgresClient(await ensurePostgres(), { max: 4 });
  sql = client;
  await new PostgresEventStore({ sql: client, schema }).migrate();
  const masterKey = await newMasterKey();
  postgres = {
    idempotency: (settings) => new PostgresIdempotencyStore({ sql: client, schema, ...settings }),
    subjectKeys: (settings) => new PostgresSubjectKeyStore({ sql: client, schema, masterKey, ...settings }),
    checkpoints: () => new PostgresCheckpointStore({ sql: client, schema }),
  };
}, 60_000);
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});
differential("PostgreSQL", () => postgres as Backend, ["idempotency", "subjectKeys", "checkpoints"]);

// The event store's key schema with DynamoDB TTL on: every store here shares the table.
const table = useDynamoTable("differential_ports", ({ endpoint, tableName }) =>
  new DynamoDbIdempotencyStore({ ...endpoint, tableName }).ensureTable(),
);
let dynamo: Backend | undefined;
beforeAll(async () => {
  const { endpoint, tableName } = table;
  const masterKey = await newMasterKey();
  dynamo = {
    idempotency: (settings) => new DynamoDbIdempotencyStore({ ...endpoint, tableName, ...settings }),
    subjectKeys: (settings) => new DynamoDbSubjectKeyStore({ ...endpoint, tableName, masterKey, ...settings }),
    checkpoints: () => new DynamoDbCheckpointStore({ ...endpoint, tableName }),
  };
});
differential("DynamoDB Local", () => dynamo as Backend, ["idempotency", "subjectKeys", "checkpoints"], 15);
