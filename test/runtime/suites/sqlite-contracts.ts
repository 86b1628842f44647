/**
 * The SQLite contract runs, shared by the node:sqlite, D1 and Durable Object suites (not a suite
 * module itself: sqlite-node.ts and sqlite-workerd.ts use it). Besides the contracts, the event
 * store's run has a race: 16 writers at once on one stream, each expecting the same version; on a
 * backend that caps a value (D1, Durable Objects), the event and saga stores' runs check that cap.
 */
import {
  SqliteCheckpointStore,
  SqliteDedupStore,
  type SqliteDriver,
  SqliteEventStore,
  SqliteIdempotencyStore,
  SqliteReadModelStore,
  SqliteSagaStore,
  SqliteSnapshotStore,
  SqliteSubjectKeyStore,
} from "../../../adapters/sqlite/index.js";
import { ErrorCode, type EventStore, InMemoryProjectionLock, ulid, type WebCryptoKey } from "../../../src/index.js";
import {
  assert,
  assertEqual,
  assertRejects,
  type ContractSuite,
  checkpointStoreContract,
  collect,
  dedupStoreContract,
  eventEvolutionContract,
  eventStoreContract,
  idempotencyStoreContract,
  projectionContract,
  sagaStoreContract,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
} from "../../../src/testing/index.js";

export type SqliteContract =
  | "event"
  | "snapshot"
  | "checkpoint"
  | "projection"
  | "deletion"
  | "saga"
  | "evolution"
  | "idempotency"
  | "subject-key"
  | "dedup";

/** Every kind, for a backend that runs them all (node:sqlite, D1, a Durable Object's storage). */
export const SQLITE_KINDS: readonly SqliteContract[] = [
  "event",
  "snapshot",
  "checkpoint",
  "projection",
  "deletion",
  "saga",
  "evolution",
  "idempotency",
  "subject-key",
  "dedup",
];

export const SQLITE_CONTRACTS: Readonly<Record<SqliteContract, string>> = {
  event: "eventStoreContract",
  snapshot: "snapshotStoreContract",
  checkpoint: "checkpointStoreContract",
  projection: "projectionContract",
  deletion: "streamDeletionContract",
  saga: "sagaStoreContract",
  evolution: "eventEvolutionContract",
  idempotency: "idempotencyStoreContract",
  "subject-key": "subjectKeyStoreContract",
  dedup: "dedupStoreContract",
};

/** How a runtime suite of `kind` is named after its backend: "event store", "event evolution". */
export function kindLabel(kind: SqliteContract): string {
  return kind === "evolution" ? "event evolution" : `${kind} store`;
}

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
  if (kind === "saga") {
    // A commit is one batch on every driver, so on D1 too: its first statement fails on a stale version.
    const suite = sagaStoreContract({
      name: `SqliteSagaStore contract (${label})`,
      create: (settings) => new SqliteSagaStore({ ...settings, driver }),
    });
    return driver.maxValueBytes === undefined ? suite : withSagaValueCap(suite, driver, driver.maxValueBytes);
  }
  if (kind === "evolution") {
    // The old release's store and the current one's share the database, as two deployments would.
    return eventEvolutionContract({
      name: `SqliteEventStore evolution contract (${label})`,
      create: (options) => new SqliteEventStore({ ...options, driver }),
    });
  }
  if (kind === "idempotency") {
    // A claim is one batch on every driver (D1's too), its read in the same transaction as its insert.
    return idempotencyStoreContract({
      name: `SqliteIdempotencyStore contract (${label})`,
      create: (settings) => new SqliteIdempotencyStore({ ...settings, driver }),
    });
  }
  if (kind === "subject-key") {
    // One master key for the suite's stores: each is another process over the same keys.
    const masterKey = crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ]) as Promise<WebCryptoKey>;
    return subjectKeyStoreContract({
      name: `SqliteSubjectKeyStore contract (${label})`,
      create: async (settings) => new SqliteSubjectKeyStore({ ...settings, driver, masterKey: await masterKey }),
    });
  }
  if (kind === "dedup") {
    return dedupStoreContract({
      name: `SqliteDedupStore contract (${label})`,
      create: (settings) => new SqliteDedupStore({ ...settings, driver }),
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
  const raced = withBytePages(
    withRace(suite, () => new SqliteEventStore({ driver })),
    driver,
  );
  return driver.maxValueBytes === undefined ? raced : withValueCap(raced, driver, driver.maxValueBytes);
}

/**
 * Pages bounded in bytes on this backend: with a small `readPageBytes`, reads take many pages (the
 * statement's cut, `octet_length` and its running sum, run here), each within the bound unless one
 * event alone, and readers see every event once, in order.
 */
function withBytePages(suite: ContractSuite, driver: SqliteDriver): ContractSuite {
  return {
    ...suite,
    cases: [
      ...suite.cases,
      {
        name: "pages bounded in bytes (readPageBytes): every event once, in order, forward, backward and in the feed",
        run: async () => {
          const budget = 200;
          const pages: { rows: number; bytes: number }[] = [];
          const utf8 = new TextEncoder();
          const counting: SqliteDriver = {
            ...driver,
            all: async (sql, params) => {
              const rows = await driver.all(sql, params);
              if (rows.some((row) => "data" in row)) {
                const size = (row: Record<string, unknown>) =>
                  utf8.encode(String(row.data)).length + utf8.encode(String(row.metadata)).length;
                pages.push({ rows: rows.length, bytes: rows.reduce((sum, row) => sum + size(row), 0) });
              }
              return rows;
            },
          };
          const writer = new SqliteEventStore({ driver });
          const stream = `Byte-pages-${ulid()}`;
          const before = await writer.getLastGlobalPosition();
          // From 2 to over 300 bytes of data, in characters of 1 to 4 UTF-8 bytes.
          const data = Array.from({ length: 24 }, (_, n) => ["a", "é", "€", "😀"][n % 4]?.repeat((n * 37) % 90) ?? "");
          await writer.appendToStream(
            stream,
            data.map((d) => ({ type: "Sized", data: d })),
          );
          const reader = new SqliteEventStore({ driver: counting, readPageBytes: budget, readPageSize: 50 });
          const forward = await collect(reader.readStream(stream));
          assertEqual(JSON.stringify(forward.map((e) => e.data)), JSON.stringify(data), "forward");
          const backward = await collect(reader.readStream(stream, { direction: "backward" }));
          assertEqual(JSON.stringify(backward.map((e) => e.data)), JSON.stringify(data.toReversed()), "backward");
          const feed = await collect(reader.readAll({ after: before }));
          assertEqual(
            JSON.stringify(feed.map((e) => e.globalPosition)),
            JSON.stringify(data.map((_, n) => before + n + 1)),
            "the feed's positions",
          );
          assert(pages.length > 6, `reads took several pages each (${pages.length} in all)`);
          for (const page of pages) {
            assert(page.rows === 1 || page.bytes <= budget, `a page of ${page.rows} events holds ${page.bytes} bytes`);
          }
        },
      },
    ],
  };
}

/**
 * For a backend that caps a value, and so a row (D1 and Durable Objects: 2 MB), with `maxEventBytes`
 * raised above the cap: an event near the cap is stored; one whose data and metadata fit one by one
 * but not together is refused with a PayloadTooLargeError before anything is sent, not by the database.
 */
function withValueCap(suite: ContractSuite, driver: SqliteDriver, cap: number): ContractSuite {
  return {
    ...suite,
    cases: [
      ...suite.cases,
      {
        name: "with maxEventBytes above the backend's cap: an event's data and metadata must fit it together",
        run: async () => {
          const store = new SqliteEventStore({ driver, maxEventBytes: 3 * cap });
          const stream = `Capped-${ulid()}`;
          const half = "h".repeat(Math.floor(cap * 0.6));
          await assertRejects(
            () => store.appendToStream(stream, [{ type: "Halves", data: half, metadata: { note: half } }]),
            ErrorCode.PayloadTooLarge,
            "data and metadata over the cap together",
          );
          assertEqual(await store.getStreamVersion(stream), 0, "nothing stored");
          const near = "n".repeat(cap - 1000);
          await store.appendToStream(stream, [{ type: "Near", data: near }]);
          const [stored] = await collect(store.readStream(stream));
          assertEqual(stored?.data, near, "the stored event's data");
        },
      },
    ],
  };
}

/**
 * For a backend that caps a value, and so a row (D1 and Durable Objects: 2 MB), with `maxStateBytes`
 * raised above the cap: a state near the cap is stored; one over it is refused with a
 * PayloadTooLargeError before anything is sent, not by the database, and nothing of the step is written.
 */
function withSagaValueCap(suite: ContractSuite, driver: SqliteDriver, cap: number): ContractSuite {
  return {
    ...suite,
    cases: [
      ...suite.cases,
      {
        name: "with maxStateBytes above the backend's cap: a state over the cap is refused before it is sent",
        run: async () => {
          const store = new SqliteSagaStore({ driver, maxStateBytes: 3 * cap });
          const saga = `Capped-${ulid()}`;
          const commit = (state: unknown) => ({
            saga,
            key: "k",
            expectedVersion: 0,
            state,
            status: "running" as const,
            step: 0,
            compensations: [],
            handledId: "e1",
          });
          await assertRejects(
            () => store.commit(commit({ big: "b".repeat(cap) })),
            ErrorCode.PayloadTooLarge,
            "a state over the cap",
          );
          assertEqual(await store.load(saga, "k"), undefined, "nothing stored");
          assertEqual(await store.hasHandled(saga, "k", "e1"), false, "no handled id stored");
          const near = "n".repeat(cap - 1000);
          await store.commit(commit({ near }));
          assertEqual((await store.load(saga, "k"))?.state, { near }, "the stored state");
        },
      },
    ],
  };
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

/**
 * The deletion suite plus a race for stores whose changes are guarded batches (D1): 16 appends with
 * "any", a truncation and a hard delete of one stream, all at once. Every append is stored (and then
 * removed) or refused as deleted, and the `$stream-*` events account for every event removed.
 */
export function withDeletionRace(suite: ContractSuite, create: () => EventStore): ContractSuite {
  return {
    ...suite,
    cases: [
      ...suite.cases,
      {
        name: "16 appends, a truncation and a hard delete of one stream at once: every event removed is counted, nothing lands after",
        run: async () => {
          const store = create();
          const stream = `DeletionRace-${ulid()}`;
          const start = await store.getLastGlobalPosition();
          await store.appendToStream(
            stream,
            [1, 2, 3, 4, 5].map((n) => ({ type: "Seeded", data: n })),
          );
          // A change that finds the stream moved under each of its attempts gives up, retryable: retry it.
          const retried = async (change: () => Promise<unknown>): Promise<unknown> => {
            for (;;) {
              try {
                return await change();
              } catch (error) {
                if ((error as { serviceCode?: string }).serviceCode !== "CONTENDED") throw error;
              }
            }
          };
          const [appends, truncated, deleted] = await Promise.all([
            Promise.allSettled(
              Array.from({ length: 16 }, (_, i) => store.appendToStream(stream, [{ type: "Raced", data: i }])),
            ),
            retried(() => store.truncateStream(stream, { before: 3 })).catch((error: { code?: string }) => error),
            retried(() => store.deleteStream(stream, { mode: "hard" })),
          ]);
          const refused = appends.flatMap((r) => (r.status === "rejected" ? [r.reason as { code?: string }] : []));
          assert(
            refused.every((e) => e.code === ErrorCode.StreamDeleted),
            `appends are stored or refused as deleted: ${refused.map((e) => e.code).join(", ")}`,
          );
          assertEqual((deleted as { changed?: boolean }).changed, true, "the hard delete changed the stream");
          const truncation = truncated as { code?: string; changed?: boolean };
          assert(
            truncation.code === undefined || truncation.code === ErrorCode.StreamDeleted,
            `the truncation ran, or came after the delete: ${truncation.code}`,
          );
          const lifecycle = (await collect(store.readAll({ after: start }))).filter(
            (e) => e.streamId === "$streams" && (e.data as { streamId?: string }).streamId === stream,
          );
          const removed = lifecycle.reduce((sum, e) => sum + Number((e.data as { removed?: number }).removed), 0);
          assertEqual(
            removed,
            5 + appends.length - refused.length,
            "events removed, as the $stream-* events count them",
          );
          assertEqual((await collect(store.readStream(stream))).length, 0, "events left");
          await assertRejects(
            () => store.appendToStream(stream, [{ type: "Late", data: null }]),
            ErrorCode.StreamDeleted,
            "an append after the delete",
          );
        },
      },
    ],
  };
}
