import { afterAll, beforeAll, describe, test } from "bun:test";
import postgres from "postgres";
import {
  cartRegistry,
  eventEvolutionContract,
  eventStoreContract,
  holdCommitIn,
  registerContract,
} from "../../src/testing/index.js";
import { checkEventStoreModel } from "../../test/differential/event-store-model.ts";
import {
  cartSchemas,
  checkEvolutionPaths,
  checkValidatedAppends,
} from "../../test/differential/evolution-differential.ts";
import { checkTwoWriters } from "../../test/differential/two-writers.ts";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { createPostgresClient, PostgresEventStore, type PostgresSql } from "./index.js";

// Twice: on a client made with our defaults, and on the most restrictive client an application
// may hand in (no prepared statements, as behind PgBouncer in transaction mode; no type discovery).
const clients: Record<string, PostgresSql> = {};
const schema = uniqueSchema("contract");

beforeAll(async () => {
  const url = await ensurePostgres();
  clients.defaults = createPostgresClient(url, { max: 12 });
  clients.restrictive = postgres(url, { max: 12, prepare: false, fetch_types: false, onnotice: () => undefined });
  await new PostgresEventStore({ sql: clients.defaults, schema }).migrate();
});
afterAll(async () => {
  await clients.defaults?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  for (const sql of Object.values(clients)) await sql.end();
});

for (const [label, description] of [
  ["defaults", "createPostgresClient defaults"],
  ["restrictive", "a client with prepare: false and fetch_types: false"],
] as const) {
  registerContract(
    eventStoreContract({
      name: `PostgresEventStore contract (${description})`,
      create: (options) => new PostgresEventStore({ ...options, sql: clients[label] as PostgresSql, schema }),
      // The global-order cases hold a commit open in a real transaction of the store's own.
      holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
    }),
    { describe, test },
  );
}

test(
  "generated command sequences answer as the documented model does: appends with every expected version, retries, stream and feed reads, subscriptions, deletions, restores, truncations (model-based property)",
  () =>
    checkEventStoreModel({
      create: () => new PostgresEventStore({ sql: clients.defaults as PostgresSql, schema, readPageSize: 2 }),
      numRuns: 100,
    }),
  120_000,
);

// Two releases of an application on one schema: the old one writes v1 events, the current one reads.
registerContract(
  eventEvolutionContract({
    name: "PostgresEventStore evolution contract",
    create: (options) => new PostgresEventStore({ ...options, sql: clients.defaults as PostgresSql, schema }),
  }),
  { describe, test },
);

test(
  "generated upcast, rename and split chains read on every path as the steps applied by hand (property)",
  () =>
    checkEvolutionPaths({
      create: (options) => new PostgresEventStore({ ...options, sql: clients.defaults as PostgresSql, schema }),
      numRuns: 25,
    }),
  240_000,
);

test(
  "generated batches: one an event's schema or version refuses writes nothing (raw read); one that passes reads back current (property)",
  () =>
    checkValidatedAppends({
      create: (options) => new PostgresEventStore({ ...options, sql: clients.defaults as PostgresSql, schema }),
      registry: cartRegistry(),
      schemas: cartSchemas,
      numRuns: 50,
    }),
  240_000,
);

test(
  "two store instances on their own clients (two processes), generated concurrent appends to streams of their own and shared ones: the feed holds each committed event once, in order; conflicts are ConcurrencyErrors only (property)",
  () =>
    checkTwoWriters({
      writers: [
        new PostgresEventStore({ sql: clients.defaults as PostgresSql, schema }),
        new PostgresEventStore({ sql: clients.restrictive as PostgresSql, schema }),
      ],
      numRuns: 10,
    }),
  240_000,
);
