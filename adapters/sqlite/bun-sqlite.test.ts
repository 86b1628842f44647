import { Database } from "bun:sqlite";
import { afterAll, describe, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cartRegistry,
  checkpointStoreContract,
  eventEvolutionContract,
  eventStoreContract,
  registerContract,
  snapshotStoreContract,
  streamDeletionContract,
} from "../../src/testing/index.js";
import { checkDeletionLookups } from "../../test/differential/deletion-lookups.ts";
import { checkEventStoreModel } from "../../test/differential/event-store-model.ts";
import {
  cartSchemas,
  checkEvolutionPaths,
  checkValidatedAppends,
} from "../../test/differential/evolution-differential.ts";
import { checkTwoWriters } from "../../test/differential/two-writers.ts";
import { withDeletionRace } from "../../test/runtime/suites/sqlite-contracts.js";
import { bunSqliteDriver, SqliteCheckpointStore, SqliteEventStore, SqliteSnapshotStore } from "./index.js";

// A file database in WAL mode, as an application would open it; migrated once, shared by every case.
const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-"));
const db = new Database(join(dir, "contract.db"));
const driver = bunSqliteDriver(db);
await new SqliteEventStore({ driver }).migrate();
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

registerContract(
  eventStoreContract({
    name: "SqliteEventStore contract (bun:sqlite, file, WAL)",
    create: (options) => new SqliteEventStore({ ...options, driver, readPageSize: 100 }),
    // No holdCommit: SQLite has one writer at a time, so an append cannot commit while another is
    // held open (it waits in busy_timeout); the global-order cases run with concurrent writers.
  }),
  { describe, test },
);
registerContract(
  eventEvolutionContract({
    name: "SqliteEventStore evolution contract (bun:sqlite)",
    create: (options) => new SqliteEventStore({ ...options, driver }),
  }),
  { describe, test },
);
test(
  "generated upcast, rename and split chains read on every path as the steps applied by hand (property)",
  () => checkEvolutionPaths({ create: (options) => new SqliteEventStore({ ...options, driver }), numRuns: 25 }),
  120_000,
);
test("generated batches: one an event's schema or version refuses writes nothing (raw read); one that passes reads back current (property)", () =>
  checkValidatedAppends({
    create: (options) => new SqliteEventStore({ ...options, driver }),
    registry: cartRegistry(),
    schemas: cartSchemas,
    numRuns: 50,
  }));
test("streamDeletionEvent names the last $stream-deleted while the stream is deleted, after generated histories, in a transaction and as D1's batches (property)", async () => {
  await checkDeletionLookups({ create: () => new SqliteEventStore({ driver }), numRuns: 50 });
  await checkDeletionLookups({
    create: () => new SqliteEventStore({ driver: { ...driver, transaction: undefined } }),
    numRuns: 50,
  });
}, 60_000);
test("two store instances on their own connections to one file (two processes), generated concurrent appends to streams of their own and shared ones: the feed holds each committed event once, in order; conflicts are ConcurrencyErrors only (property)", async () => {
  const other = new Database(join(dir, "contract.db"));
  try {
    const writers = [
      new SqliteEventStore({ driver }),
      new SqliteEventStore({ driver: bunSqliteDriver(other) }),
    ] as const;
    await checkTwoWriters({ writers, numRuns: 10 });
  } finally {
    other.close();
  }
}, 60_000);
// The same store without the driver's transaction: appends take the one-statement form D1 uses.
const oneStatement = { ...driver, transaction: undefined };
test("generated command sequences answer as the documented model does: appends with every expected version, retries, stream and feed reads, subscriptions, deletions, restores, truncations (model-based property), in a transaction and as D1's one statement and batches", async () => {
  for (const form of [driver, oneStatement]) {
    await checkEventStoreModel({ create: () => new SqliteEventStore({ driver: form, readPageSize: 2 }), numRuns: 100 });
  }
}, 60_000);
registerContract(
  eventStoreContract({
    name: "SqliteEventStore contract (bun:sqlite, one-statement appends as on D1)",
    create: (options) => new SqliteEventStore({ ...options, driver: oneStatement }),
  }),
  { describe, test },
);
// Without the driver's write: appends read the state and insert row by row in the transaction, as on Durable Objects.
const transactionOnly = { ...driver, write: undefined };
registerContract(
  eventStoreContract({
    name: "SqliteEventStore contract (bun:sqlite, transaction without write as on Durable Objects)",
    create: (options) => new SqliteEventStore({ ...options, driver: transactionOnly, readPageSize: 100 }),
  }),
  { describe, test },
);
registerContract(
  streamDeletionContract({
    name: "SqliteEventStore stream deletion contract (bun:sqlite, transaction without write as on Durable Objects)",
    create: (options) => new SqliteEventStore({ ...options, driver: transactionOnly, readPageSize: 100 }),
  }),
  { describe, test },
);
registerContract(
  snapshotStoreContract({
    name: "SqliteSnapshotStore contract (bun:sqlite)",
    create: (options) => new SqliteSnapshotStore({ ...options, driver }),
  }),
  { describe, test },
);
registerContract(
  checkpointStoreContract({
    name: "SqliteCheckpointStore contract (bun:sqlite)",
    create: () => new SqliteCheckpointStore({ driver }),
  }),
  { describe, test },
);

// Stream deletion: in the driver's write transaction; without one, as one guarded batch (D1's form).
registerContract(
  streamDeletionContract({
    name: "SqliteEventStore stream deletion contract (bun:sqlite)",
    create: (options) => new SqliteEventStore({ ...options, driver, readPageSize: 100 }),
  }),
  { describe, test },
);
registerContract(
  withDeletionRace(
    streamDeletionContract({
      name: "SqliteEventStore stream deletion contract (bun:sqlite, one guarded batch as on D1)",
      create: (options) => new SqliteEventStore({ ...options, driver: oneStatement }),
    }),
    () => new SqliteEventStore({ driver: oneStatement }),
  ),
  { describe, test },
);
