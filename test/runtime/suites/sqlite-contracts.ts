/**
 * The SQLite contract runs, shared by the node:sqlite, D1 and Durable Object suites (not a suite
 * module itself: sqlite-node.ts and sqlite-workerd.ts use it). Besides the three contracts, the
 * event store's run has a race: 16 writers at once on one stream, each expecting the same version.
 */
import {
  SqliteCheckpointStore,
  type SqliteDriver,
  SqliteEventStore,
  SqliteReadModelStore,
  SqliteSnapshotStore,
} from "../../../adapters/sqlite/index.js";
import { ErrorCode, type EventStore, InMemoryProjectionLock, ulid } from "../../../src/index.js";
import {
  assert,
  assertEqual,
  type ContractSuite,
  checkpointStoreContract,
  eventStoreContract,
  projectionContract,
  snapshotStoreContract,
  streamDeletionContract,
} from "../../../src/testing/index.js";

export type SqliteContract = "event" | "snapshot" | "checkpoint" | "projection" | "deletion";

export const SQLITE_CONTRACTS: Readonly<Record<SqliteContract, string>> = {
  event: "eventStoreContract",
  snapshot: "snapshotStoreContract",
  checkpoint: "checkpointStoreContract",
  projection: "projectionContract",
  deletion: "streamDeletionContract",
};

/** The contract suite of one store kind over `driver` (migrated first by the caller). */
export function sqliteContract(kind: SqliteContract, label: string, driver: SqliteDriver): ContractSuite {
  if (kind === "snapshot") {
    return snapshotStoreContract({
      name: `SqliteSnapshotStore contract (${label})`,
      create: (options) => new SqliteSnapshotStore({ ...options, driver }),
    });
  }
  if (kind === "projection") {
    return projectionContract({
      name: `projection contract on SQLite (${label})`,
      create: () => ({
        eventStore: new SqliteEventStore({ driver }),
        readModels: new SqliteReadModelStore({ driver }),
        lock: new InMemoryProjectionLock(),
      }),
    });
  }
  if (kind === "deletion") {
    // On D1 (no interactive transaction) each change is one batch guarded in SQL (stream-deletion.ts).
    return streamDeletionContract({
      name: `SqliteEventStore stream deletion contract (${label})`,
      create: (options) => new SqliteEventStore({ ...options, driver }),
    });
  }
  if (kind === "checkpoint") {
    return checkpointStoreContract({
      name: `SqliteCheckpointStore contract (${label})`,
      create: () => new SqliteCheckpointStore({ driver }),
    });
  }
  const suite = eventStoreContract({
    name: `SqliteEventStore contract (${label})`,
    create: (options) => new SqliteEventStore({ ...options, driver }),
  });
  return withRace(suite, () => new SqliteEventStore({ driver }));
}

/** The event store suite plus a race: 16 writers at once on one stream, each expecting version 1. */
export function withRace(suite: ContractSuite, create: () => EventStore): ContractSuite {
  return {
    ...suite,
    cases: [
      ...suite.cases,
      {
        name: "16 concurrent writers expecting one version of one stream: one wins, 15 ConcurrencyErrors, nothing lost",
        run: async () => {
          const store = create();
          const stream = `Race-${ulid()}`;
          await store.appendToStream(stream, [{ type: "Opened", data: 0 }]);
          const results = await Promise.allSettled(
            Array.from({ length: 16 }, (_, i) =>
              store.appendToStream(stream, [{ type: "Won", data: i }], { expectedVersion: 1 }),
            ),
          );
          const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as { code?: string }] : []));
          assertEqual(results.length - lost.length, 1, "winners");
          assert(
            lost.every((e) => e.code === ErrorCode.Concurrency),
            `losers fail with ConcurrencyError: ${lost.map((e) => e.code).join(", ")}`,
          );
          assertEqual(await store.getStreamVersion(stream), 2, "the stream's version");
        },
      },
    ],
  };
}

/** Migrates the default tables through `driver`. */
export async function migrated(driver: SqliteDriver): Promise<SqliteDriver> {
  await new SqliteEventStore({ driver }).migrate();
  return driver;
}
