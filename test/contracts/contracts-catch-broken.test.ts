/**
 * Tests of the exported contract suites themselves: implementations broken the ways real ones go
 * wrong must fail the cases named for what they break, and pass the others (so the failure is that
 * case's doing); built right, the same fixture passes every case.
 */
import { describe, expect, test } from "bun:test";
import {
  type EventEnvelope,
  InMemoryCheckpointStore,
  InMemoryDedupStore,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemoryIdempotencyStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  type ReadStreamOptions,
  type SubjectKeyLookup,
} from "../../src/index.js";
import {
  type ContractSuite,
  checkpointStoreContract,
  dedupStoreContract,
  eventBusContract,
  eventEvolutionContract,
  eventStoreContract,
  idempotencyStoreContract,
  runContract,
  StoreView,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
} from "../../src/testing/index.js";
import {
  CaseFoldingCheckpointStore,
  CaseFoldingEventStore,
  CaseFoldingIdempotencyStore,
  CaseFoldingSnapshotStore,
  ClaimIgnoringIdempotencyStore,
  DroppingEventBus,
  ExpiryIgnoringDedupStore,
  FractionKeepingDedupStore,
  HeartbeatCheckpointStore,
  HeartbeatEventStore,
  HeartbeatSnapshotStore,
  LimitFirstEventStore,
  OneRowSnapshotStore,
  PrefixDeletingCheckpointStore,
  PrefixDeletingSnapshotStore,
  PrefixErasingSubjectKeyStore,
  PrefixHardDeletingEventStore,
  RemovalBlindRetryEventStore,
  SmallBatchEventStore,
} from "./broken-fixtures.ts";
import { FixtureEventStore, type PositionMode } from "./fixture-event-store.ts";

/** The names of the cases that failed, each cut to the given prefixes' length when it starts with one. */
async function failedCases(suite: ContractSuite): Promise<string[]> {
  const results = await runContract(suite);
  expect(results.length).toBe(suite.cases.length);
  expect(results.length).toBeGreaterThan(0);
  return results.filter((result) => !result.ok).map((result) => result.name);
}

const startsWithEach = (names: readonly string[], prefixes: readonly string[]) =>
  prefixes.length === names.length && prefixes.every((prefix, i) => names[i]?.startsWith(prefix));

function storeSuite(
  positions: PositionMode,
  claimsIdempotency = false,
  headAtReadersBound = false,
  headEventThroughReads = false,
): ContractSuite {
  return eventStoreContract({
    name: `FixtureEventStore (${positions}${claimsIdempotency ? ", claims idempotency" : ""})`,
    create: (options) =>
      new FixtureEventStore({ ...options, positions, claimsIdempotency, headAtReadersBound, headEventThroughReads }),
    holdCommit: (store) => (store as FixtureEventStore).hold(),
    longStreamLength: 250,
  });
}

const SKIPS_LATE_COMMITS = "a reader never passes an event that commits later with a lower position";
const FEED_OUT_OF_VERSION_ORDER = "within a stream, feed order is version order";
const RETRY_DUPLICATED = "a retried append with the same event ids is not duplicated";
const HEAD_BELOW_COMMIT = "getHeadPosition counts every committed append";
const REWRITES_HISTORY = "a reader cannot rewrite history";

/** A store with a read cache that hands every reader its own objects: the next reader sees the last one's edits. */
class SharingEventStore extends InMemoryEventStore {
  readonly #cache = new Map<string, EventEnvelope>();
  protected override async *readStreamEvents(streamId: string, options: ReadStreamOptions) {
    for await (const event of super.readStreamEvents(streamId, options)) {
      let shared = this.#cache.get(event.id);
      if (shared === undefined) {
        shared = structuredClone(event) as EventEnvelope;
        this.#cache.set(event.id, shared);
      }
      yield shared;
    }
  }
}

describe("eventStoreContract catches broken stores", () => {
  test("the fixture built right (positions given at commit) passes every case", async () => {
    expect(await failedCases(storeSuite("at-commit"))).toEqual([]);
  });

  test("bigserial positions, taken at insert, that a late commit slips below: the never-skip case fails", async () => {
    const failed = await failedCases(storeSuite("at-insert"));
    expect(startsWithEach(failed, [SKIPS_LATE_COMMITS])).toBe(true);
  }, 30_000);

  test("positions by transaction start: the within-stream order case fails", async () => {
    const failed = await failedCases(storeSuite("by-transaction"));
    expect(startsWithEach(failed, [FEED_OUT_OF_VERSION_ORDER])).toBe(true);
  }, 30_000);

  test("a head position at the readers' bound, below a commit an older transaction holds back: the head case fails", async () => {
    const failed = await failedCases(storeSuite("at-commit", false, true));
    expect(failed).toEqual([]);
    const held = await failedCases(storeSuite("by-transaction", false, true));
    expect(startsWithEach(held, [HEAD_BELOW_COMMIT, FEED_OUT_OF_VERSION_ORDER])).toBe(true);
  }, 30_000);

  test("feedHead reading the head's event through a held-back readAll: the head case fails", async () => {
    // Built so, at-commit positions hold nothing back: it passes. By transaction, the event at the head is
    // out of reads' reach while an older transaction is open, which a tenant's head check must not miss.
    expect(await failedCases(storeSuite("at-commit", false, false, true))).toEqual([]);
    const held = await failedCases(storeSuite("by-transaction", false, false, true));
    expect(startsWithEach(held, [HEAD_BELOW_COMMIT, FEED_OUT_OF_VERSION_ORDER])).toBe(true);
  }, 30_000);

  test("a store that claims idempotent appends without them: the retry case fails", async () => {
    const failed = await failedCases(storeSuite("at-commit", true));
    expect(startsWithEach(failed, [RETRY_DUPLICATED])).toBe(true);
  });

  test("a store whose reads hand out the same mutable objects: the history case fails", async () => {
    const suite = eventStoreContract({
      name: "SharingEventStore",
      create: (options) => new SharingEventStore(options),
      longStreamLength: 50,
    });
    const failed = await failedCases(suite);
    expect(startsWithEach(failed, [REWRITES_HISTORY])).toBe(true);
    const result = (await runContract(suite)).find((r) => r.name.startsWith(REWRITES_HISTORY));
    expect(result?.error).toContain("after mutating what readStream returned");
  }, 30_000);

  test("without a holdCommit hook the global-order cases still run, with concurrent writers", async () => {
    const suite = eventStoreContract({
      name: "FixtureEventStore without the hook",
      create: (options) => new FixtureEventStore({ ...options, positions: "at-commit" }),
      longStreamLength: 10,
    });
    const names = suite.cases.map((c) => c.name).filter((n) => n.includes("no holdCommit hook"));
    expect(names).toHaveLength(2);
    expect(await failedCases(suite)).toEqual([]);
  });
});

describe("a store that declares a small maxEventsPerAppend", () => {
  test("passes every case of eventStoreContract and eventEvolutionContract: their own appends keep to the limit", async () => {
    const shared = new SmallBatchEventStore();
    for (const suite of [
      eventStoreContract({ name: "small batches", create: (options) => new SmallBatchEventStore(options) }),
      eventEvolutionContract({ name: "small batches", create: (options) => new StoreView(shared, options) }),
    ]) {
      expect(await failedCases(suite)).toEqual([]);
    }
  });
});

describe("the ping cases catch a ping that writes", () => {
  test("a heartbeat event appended by ping fails eventStoreContract's ping case, and only it", async () => {
    const suite = eventStoreContract({ name: "heartbeat", create: (options) => new HeartbeatEventStore(options) });
    expect(await failedCases(suite)).toEqual(["ping answers for health checks and creates nothing"]);
  });

  test("a heartbeat checkpoint stored by ping fails checkpointStoreContract's ping case, and only it", async () => {
    const suite = checkpointStoreContract({ name: "heartbeat", create: () => new HeartbeatCheckpointStore() });
    expect(await failedCases(suite)).toEqual(["ping answers for health checks and stores nothing"]);
  });

  test("a heartbeat snapshot saved by ping fails snapshotStoreContract's ping case, and only it", async () => {
    const suite = snapshotStoreContract({
      name: "heartbeat",
      create: (options) => new HeartbeatSnapshotStore(options),
    });
    expect(await failedCases(suite)).toEqual(["ping answers for health checks and saves nothing"]);
  });
});

describe("eventStoreContract catches a store with case-insensitive stream ids", () => {
  test("Cart-A and Cart-a sharing one stream fail the exact-id case, and only it", async () => {
    const failed = await failedCases(
      eventStoreContract({
        name: "CaseFoldingEventStore",
        create: (options) => new CaseFoldingEventStore(options),
        longStreamLength: 50,
      }),
    );
    expect(failed).toEqual([
      "stream ids match exactly: case, trailing spaces, Unicode forms, prefixes and LIKE wildcards are other streams",
    ]);
  }, 30_000);
});

describe("eventStoreContract's model case catches what no single case checks", () => {
  test("a backward read that applies maxCount before fromVersion fails the model case, and only it", async () => {
    const failed = await failedCases(
      eventStoreContract({
        name: "LimitFirstEventStore",
        create: (options) => new LimitFirstEventStore(options),
        longStreamLength: 50,
      }),
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]).toStartWith("generated appends and reads agree with a model of the contract");
  }, 30_000);
});

describe("eventBusContract catches broken buses", () => {
  test("the in-memory bus passes every case", async () => {
    expect(
      await failedCases(eventBusContract({ name: "InMemoryEventBus", create: (o) => new InMemoryEventBus(o) })),
    ).toEqual([]);
  });

  test("a bus that silently drops events fails the delivery cases", async () => {
    const failed = await failedCases(
      eventBusContract({ name: "DroppingEventBus", create: (o) => new DroppingEventBus(o) }),
    );
    expect(failed).toEqual([
      "delivers by type, by category and to all subscribers",
      "delivers events to a subscriber in publish order",
      "a failing handler is reported with its event and does not stop the others",
    ]);
  }, 30_000);

  test("a bus without local subscribers fails every case, each saying to run remoteBusContract", async () => {
    class RemoteOnly extends InMemoryEventBus {
      override readonly capabilities = { localSubscribers: false };
    }
    const suite = eventBusContract({ name: "RemoteOnly", create: (o) => new RemoteOnly(o) });
    const results = await runContract(suite);
    expect(results).toHaveLength(suite.cases.length);
    const messages = results.map((r) => (r.ok ? "passed" : (r.error ?? "")));
    expect(messages.filter((m) => m.includes("run remoteBusContract"))).toHaveLength(suite.cases.length);
  });
});

describe("dedupStoreContract catches broken stores", () => {
  test("the in-memory store passes every case", async () => {
    const suite = dedupStoreContract({ name: "InMemoryDedupStore", create: (s) => new InMemoryDedupStore(s) });
    expect(await failedCases(suite)).toEqual([]);
  });

  test("a store that keeps ids past their TTL fails the expiry case", async () => {
    const suite = dedupStoreContract({
      name: "ExpiryIgnoringDedupStore",
      create: (s) => new ExpiryIgnoringDedupStore(s),
    });
    // It reads no clock at all, so a reading that is no time goes unnoticed too.
    expect(await failedCases(suite)).toEqual([
      "an id is forgotten once its TTL has passed, and can be added again",
      "a clock reading fractions of a millisecond counts whole milliseconds, as every store does",
      "a clock reading that is no time (NaN, Infinity, past 2^53, not a number) is a ValidationError, and nothing is stored",
    ]);
  });

  test("a store that keeps its clock's fractions fails the whole-milliseconds case, and only it", async () => {
    const suite = dedupStoreContract({
      name: "FractionKeepingDedupStore",
      create: (s) => new FractionKeepingDedupStore(s),
    });
    expect(await failedCases(suite)).toEqual([
      "a clock reading fractions of a millisecond counts whole milliseconds, as every store does",
    ]);
  });
});

describe("idempotencyStoreContract catches broken stores", () => {
  test("the in-memory store passes every case", async () => {
    const suite = idempotencyStoreContract({
      name: "InMemoryIdempotencyStore",
      create: (s) => new InMemoryIdempotencyStore(s),
    });
    expect(await failedCases(suite)).toEqual([]);
  });

  test("a store whose keys are case-insensitive fails the exact-key case, and only it", async () => {
    const suite = idempotencyStoreContract({
      name: "CaseFoldingIdempotencyStore",
      create: (s) => new CaseFoldingIdempotencyStore(s),
    });
    expect(await failedCases(suite)).toEqual([
      "keys keep their exact text: case, trailing spaces, Unicode forms and prefixes are other keys",
    ]);
  });

  test("a store whose complete and release ignore the claim's token fails the lost-claim cases", async () => {
    const suite = idempotencyStoreContract({
      name: "ClaimIgnoringIdempotencyStore",
      create: (s) => new ClaimIgnoringIdempotencyStore(s),
    });
    expect(await failedCases(suite)).toEqual([
      "release with another fingerprint or token, of a completed key, or of an unknown key changes nothing",
      "complete after the claim expired and another request claimed the key is an IdempotencyClaimLostError; the other claim stays",
      "release after the claim expired and the same request claimed the key again frees nothing",
    ]);
  });
});

describe("snapshotStoreContract catches broken stores", () => {
  const EXACT_IDS = "stream ids match exactly";

  test("the in-memory store passes every case", async () => {
    const suite = snapshotStoreContract({ name: "InMemorySnapshotStore", create: (o) => new InMemorySnapshotStore(o) });
    expect(await failedCases(suite)).toEqual([]);
  });

  test("a store whose stream ids are case-insensitive fails the exact-id case, and only it", async () => {
    const suite = snapshotStoreContract({
      name: "CaseFoldingSnapshotStore",
      create: (o) => new CaseFoldingSnapshotStore(o),
    });
    expect(startsWithEach(await failedCases(suite), [EXACT_IDS])).toBe(true);
  });

  test("a store that deletes by prefix (LIKE id%) fails the exact-id case, and only it", async () => {
    const suite = snapshotStoreContract({
      name: "PrefixDeletingSnapshotStore",
      create: (o) => new PrefixDeletingSnapshotStore(o),
    });
    expect(startsWithEach(await failedCases(suite), [EXACT_IDS])).toBe(true);
  });

  test("a store that keeps one row per stream, whichever save came last, fails the ordering and history cases", async () => {
    const failed = await failedCases(
      snapshotStoreContract({ name: "OneRowSnapshotStore", create: (o) => new OneRowSnapshotStore(o) }),
    );
    expect(failed).toEqual(
      expect.arrayContaining([
        "a save below the newest version never hides the newer snapshot",
        "concurrent saves: the highest version wins whatever the order; retention holds afterwards",
        "loads the newest snapshot at or below a version",
        "retention: keeps the newest keepLast snapshots per stream and reports what it pruned",
      ]),
    );
  });
});

describe("checkpointStoreContract catches broken stores", () => {
  const EXACT_IDS = [
    "ids match exactly: case, trailing spaces, Unicode forms, prefixes and LIKE wildcards are other checkpoints",
  ];

  test("the in-memory store passes every case", async () => {
    const suite = checkpointStoreContract({
      name: "InMemoryCheckpointStore",
      create: () => new InMemoryCheckpointStore(),
    });
    expect(await failedCases(suite)).toEqual([]);
  });

  test("a store whose ids are case-insensitive, or that deletes by prefix, fails the exact-id case, and only it", async () => {
    for (const make of [() => new CaseFoldingCheckpointStore(), () => new PrefixDeletingCheckpointStore()]) {
      expect(await failedCases(checkpointStoreContract({ name: "broken", create: make }))).toEqual(EXACT_IDS);
    }
  });
});

describe("subjectKeyStoreContract catches broken stores", () => {
  test("the in-memory store passes every case", async () => {
    const shared = new InMemorySubjectKeyStore();
    const suite = subjectKeyStoreContract({ name: "InMemorySubjectKeyStore", create: (s) => shared.sharing(s) });
    expect(await failedCases(suite)).toEqual([]);
  });

  test("a store that erases by prefix fails the exact-id case, and only it", async () => {
    const keys = new Map<string, SubjectKeyLookup>();
    const suite = subjectKeyStoreContract({
      name: "PrefixErasingSubjectKeyStore",
      create: (s) => new PrefixErasingSubjectKeyStore(s, keys),
    });
    expect(await failedCases(suite)).toEqual(["subject ids keep their exact text: case, Unicode and prefixes matter"]);
  });
});

describe("streamDeletionContract catches broken stores", () => {
  test("the in-memory store passes every case", async () => {
    const suite = streamDeletionContract({ name: "InMemoryEventStore", create: (o) => new InMemoryEventStore(o) });
    expect(await failedCases(suite)).toEqual([]);
  }, 30_000);

  test("a store whose hard delete takes every stream the id starts (LIKE id%) fails the hard-delete case", async () => {
    const suite = streamDeletionContract({
      name: "PrefixHardDeletingEventStore",
      create: (o) => new PrefixHardDeletingEventStore(o),
    });
    expect(await failedCases(suite)).toEqual(["hard delete removes the events, retires the id, and is idempotent"]);
  }, 30_000);

  test("a store whose retry detection outlives a truncation or deletion fails the overtaken-retry case, and only it", async () => {
    const suite = streamDeletionContract({
      name: "RemovalBlindRetryEventStore",
      create: (o) => new RemovalBlindRetryEventStore(o),
    });
    expect(await failedCases(suite)).toEqual([
      "a retried append that a truncation or deletion overtook is refused typed, retried, or (all its events removed) a new append, alike on every store",
    ]);
  }, 30_000);
});
