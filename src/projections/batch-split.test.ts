import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  CheckpointStore,
  ErrorCode,
  type EventEnvelope,
  InMemoryEventStore,
  InMemoryReadModelStore,
  isReadModelTransactionTooLargeError,
  ProjectionRunner,
  projection,
  type ReadModelDocument,
  type ReadModelDrop,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
  ReadModelTransactionTooLargeError,
  type ReplayOptions,
  rebuildProjection,
  replay,
} from "../index.js";
import { eventually } from "../testing/index.js";

/**
 * The in-memory store with a cap no emulator lets a test choose: a transaction writing more than
 * `cap` distinct documents and checkpoints is refused with `ReadModelTransactionTooLargeError`,
 * nothing of it written, as DynamoDB refuses one over 100 items. `refuseAt: "commit"` counts them
 * when the work is done (DynamoDB, SQLite on D1); `"write"` at the write that passes the cap (a store
 * that counts as it goes). `attempts` holds each transaction's write count, `committed` the ones
 * that committed.
 */
class CappedReadModelStore extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities = { atomicCheckpoints: true, rebuilds: true };
  readonly inner = new InMemoryReadModelStore();
  readonly checkpoints = this.inner.checkpoints;
  readonly attempts: number[] = [];
  readonly committed: number[] = [];

  constructor(
    readonly cap: number,
    readonly refuseAt: "commit" | "write" = "commit",
  ) {
    super();
  }

  protected readDocument(collection: string, id: string): Promise<unknown> {
    return this.inner.get(collection, id);
  }
  protected writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    return this.inner.put(collection, id, document);
  }
  protected deleteDocument(collection: string, id: string): Promise<void> {
    return this.inner.delete(collection, id);
  }
  protected listDocuments(collection: string): Promise<ReadModelDocument[]> {
    return this.inner.list(collection);
  }
  protected override swapGeneration(swap: ReadModelSwap): Promise<void> {
    return this.inner.swap(swap);
  }
  protected override dropGeneration(drop: ReadModelDrop): Promise<void> {
    return this.inner.drop(drop);
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    const writes = new Set<string>();
    const write = (key: string) => {
      writes.add(key);
      if (this.refuseAt === "write" && writes.size > this.cap) this.#refuse(writes.size);
    };
    let count = 0;
    const result = await this.inner.transaction(async (tx) => {
      const capped: ReadModelTransaction = {
        checkpoints: new CountedCheckpoints(tx.checkpoints, (id) => write(`checkpoint ${id}`)),
        get: (collection, id) => tx.get(collection, id),
        put: async (collection, id, document) => {
          write(JSON.stringify([collection, id]));
          await tx.put(collection, id, document);
        },
        delete: async (collection, id) => {
          write(JSON.stringify([collection, id]));
          await tx.delete(collection, id);
        },
      };
      const done = await work(capped);
      count = writes.size;
      if (count > this.cap) this.#refuse(count);
      return done;
    });
    this.committed.push(count);
    return result;
  }

  #refuse(size: number): never {
    this.attempts.push(size);
    throw new ReadModelTransactionTooLargeError("a capped store", size, this.cap, "writes");
  }
}

/** A transaction's checkpoints, each write counted. */
class CountedCheckpoints extends CheckpointStore {
  constructor(
    readonly inner: CheckpointStore,
    readonly counted: (id: string) => void,
  ) {
    super();
  }
  protected readCheckpoint(id: string): Promise<number | undefined> {
    return this.inner.load(id);
  }
  protected writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    this.counted(id);
    return this.inner.store(id, position, expected === undefined ? {} : { expected });
  }
  protected deleteCheckpoint(id: string): Promise<void> {
    this.counted(id);
    return this.inner.delete(id);
  }
}

/** One distinct document per event (`writes` more for events whose data asks), and a count as its state. */
const oneDocumentPerEvent = (name: string, collection: string) =>
  projection({
    name,
    initialState: { count: 0 },
    handle: async (event, { readModels, state }) => {
      const data = event.data as { n: number; extra?: number };
      await readModels.put(collection, event.id, { n: data.n });
      for (let i = 0; i < (data.extra ?? 0); i++) await readModels.put(collection, `${event.id}-${i}`, i);
      return { count: state.count + 1 };
    },
  });

async function appendEvents(store: InMemoryEventStore, count: number, stream = "Split-1") {
  const events = Array.from({ length: count }, (_, n) => ({ type: "Counted", data: { n } }));
  // In appends of at most 50, as an application would make them.
  for (let at = 0; at < count; at += 50) await store.appendToStream(stream, events.slice(at, at + 50));
  return store.getLastGlobalPosition();
}

/**
 * 30 events, then one whose handler writes 21 documents (more than a store capped at 12 commits at once),
 * then 10 on another stream.
 */
async function withOneEventTooLarge() {
  const eventStore = new InMemoryEventStore();
  await appendEvents(eventStore, 30);
  const { events } = await eventStore.appendToStream("Split-1", [{ type: "Counted", data: { n: 30, extra: 20 } }], {
    expectedVersion: 30,
  });
  const big = events[0] as EventEnvelope;
  await appendEvents(eventStore, 10, "Split-2");
  return { eventStore, big };
}

/** The read model the projection makes, computed by hand from the events. */
async function expectedDocuments(store: InMemoryEventStore) {
  const documents: { id: string; document: { n: number } }[] = [];
  for await (const event of store.readAll()) {
    documents.push({ id: event.id, document: { n: (event.data as { n: number }).n } });
  }
  // ULIDs: ASCII, so code-unit order is the store's code-point order.
  return documents.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * Whether a catch-up without a cap would read a batch of more than `fits` events: the batches of a
 * capped one are the same until the first that does not fit, so that is when it splits one.
 */
function wouldSplit(events: number, maxBatchSize: number, fits: number): boolean {
  let position = 0;
  // A catch-up starts at maxBatchSize (batchSize is where a started runner's batches go once caught up).
  let limit = maxBatchSize;
  for (;;) {
    const read = Math.min(limit, events - position);
    if (read > fits) return true;
    position += read;
    if (read < limit) return false;
    limit = Math.min(limit * 2, maxBatchSize);
  }
}

describe("mock: a batch too large for one read-model transaction is committed in halves", () => {
  test("mock: catchUp commits every batch in halves as the cap needs, ending with the read model and checkpoint a run without a cap makes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 20 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom("commit" as const, "write" as const),
        async (cap, events, batchSize, growth, refuseAt) => {
          const eventStore = new InMemoryEventStore();
          const last = await appendEvents(eventStore, events);
          const readModels = new CappedReadModelStore(cap, refuseAt);
          const reads: number[] = [];
          const maxBatchSize = batchSize * 2 ** growth;
          const runner = new ProjectionRunner({
            projection: oneDocumentPerEvent("split", "docs"),
            eventStore,
            readModels,
            batchSize,
            maxBatchSize,
            onBatch: (batch) => reads.push(batch.read),
          });
          const done = await runner.catchUp();
          expect(done).toEqual({ read: events, position: last });
          expect(await readModels.checkpoints.load("projection:split")).toBe(events === 0 ? undefined : last);
          expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
          expect(await readModels.get("projection-state", "split")).toEqual(
            events === 0 ? undefined : { count: events },
          );
          // Every commit fits (a batch of n events writes n documents, the state and the checkpoint).
          for (const writes of readModels.committed) expect(writes).toBeLessThanOrEqual(cap);
          for (const read of reads) expect(read).toBeLessThanOrEqual(cap - 2);
          // A split happened exactly when a batch could not fit.
          expect(readModels.attempts.length > 0).toBe(wouldSplit(events, maxBatchSize, cap - 2));
        },
      ),
      { numRuns: 60 },
    );
  });

  test("mock: the half that commits is where growth resumes: batches double again, and halve again at the cap", async () => {
    const eventStore = new InMemoryEventStore();
    await appendEvents(eventStore, 40);
    // 10 writes: 8 events' documents, the state and the checkpoint.
    const readModels = new CappedReadModelStore(10);
    const reads: number[] = [];
    const runner = new ProjectionRunner({
      projection: oneDocumentPerEvent("regrow", "docs"),
      eventStore,
      readModels,
      batchSize: 4,
      maxBatchSize: 32,
      onBatch: (batch) => reads.push(batch.read),
    });
    await runner.catchUp();
    // The catch-up starts at maxBatchSize: 32 is refused (34 writes), then its half of 16 (18), and
    // 8 commit; each next batch grows from there to 16, is refused and halved again: 8 a batch.
    expect(reads).toEqual([8, 8, 8, 8, 8]);
    expect(readModels.attempts).toEqual([34, 18, 18, 18, 18]);
    expect(readModels.committed).toEqual([10, 10, 10, 10, 10]);
    expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
  });

  test("mock: a started runner (default batchSize) splits its batches instead of retrying them for ever, reporting no error", async () => {
    const eventStore = new InMemoryEventStore();
    await appendEvents(eventStore, 250);
    const readModels = new CappedReadModelStore(30);
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      projection: oneDocumentPerEvent("started", "docs"),
      eventStore,
      readModels,
      pollIntervalMs: 10,
      retryDelayMs: 10,
      onError: (error) => errors.push(error),
    });
    runner.start();
    try {
      await runner.whenCaughtUp();
      // What is appended while it runs is split the same way.
      const last = await appendEvents(eventStore, 75, "Split-2");
      await runner.whenCaughtUp();
      expect(await readModels.checkpoints.load("projection:started")).toBe(last);
    } finally {
      await runner.stop();
    }
    expect(errors).toEqual([]);
    expect(runner.failure).toBeUndefined();
    expect(readModels.attempts.length).toBeGreaterThan(0);
    expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
    expect(await readModels.get("projection-state", "started")).toEqual({ count: 325 });
  });

  test("mock: an inline runner splits the batch of a large append: the read model is current when the append returns", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new CappedReadModelStore(12);
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      projection: oneDocumentPerEvent("inline", "docs"),
      eventStore,
      readModels,
      inline: true,
      batchSize: 50,
      pollIntervalMs: 60_000,
      onError: (error) => errors.push(error),
    });
    runner.start();
    try {
      await eventually(async () => expect(runner.active).toBe(true));
      for (let round = 0; round < 3; round++) {
        const { events } = await eventStore.appendToStream(
          `Inline-${round}`,
          Array.from({ length: 45 }, (_, n) => ({ type: "Counted", data: { n } })),
        );
        // Current on return: the inline step took all 45 in, in batches of at most 10.
        expect(await readModels.checkpoints.load("projection:inline")).toBe(events.at(-1)?.globalPosition);
      }
    } finally {
      await runner.stop();
    }
    expect(errors).toEqual([]);
    expect(readModels.attempts.length).toBeGreaterThan(0);
    for (const writes of readModels.committed) expect(writes).toBeLessThanOrEqual(12);
    expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
  });

  test("mock: one event writing more than the store commits at once fails the projection at that event (ProjectionFailedError), once, with what came before it committed", async () => {
    for (const refuseAt of ["commit", "write"] as const) {
      const { eventStore, big } = await withOneEventTooLarge();
      for (const started of [false, true]) {
        const readModels = new CappedReadModelStore(12, refuseAt);
        const failures: unknown[] = [];
        const errors: unknown[] = [];
        const runner = new ProjectionRunner({
          projection: oneDocumentPerEvent("too-much", "docs"),
          eventStore,
          readModels,
          retryDelayMs: 10,
          onFailure: (error) => failures.push(error),
          onError: (error) => errors.push(error),
        });
        let failed: unknown;
        if (started) {
          runner.start();
          await eventually(async () => expect(runner.running).toBe(false));
          failed = runner.failure;
        } else failed = await runner.catchUp().catch((error: unknown) => error);
        expect(failed).toMatchObject({
          code: ErrorCode.ProjectionFailed,
          eventId: big.id,
          position: big.globalPosition,
        });
        expect(isReadModelTransactionTooLargeError((failed as Error).cause)).toBe(true);
        expect(failures).toEqual([failed]);
        expect(errors).toEqual([]);
        // Every event before it committed; none after.
        expect(await readModels.checkpoints.load("projection:too-much")).toBe((big.globalPosition ?? 0) - 1);
        expect(await readModels.list("docs")).toHaveLength(30);
      }
    }
  });

  test("mock: a rebuild into a capped store splits its shadow batches (batchSize 1,000) and swaps the whole read model in", async () => {
    const eventStore = new InMemoryEventStore();
    const last = await appendEvents(eventStore, 120);
    const readModels = new CappedReadModelStore(25);
    const result = await rebuildProjection({
      projection: oneDocumentPerEvent("rebuilt", "docs"),
      eventStore,
      readModels,
      collections: ["docs"],
    });
    expect(result).toMatchObject({ read: 120, position: last, swapped: true });
    expect(readModels.attempts.length).toBeGreaterThan(0);
    expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
    expect(await readModels.checkpoints.load("projection:rebuilt")).toBe(last);
    expect(await readModels.get("projection-state", "rebuilt")).toEqual({ count: 120 });
  });
});

describe("mock: replay commits a batch too large for one read-model transaction in halves", () => {
  /** A replay that writes one document per event, as the projection above does. */
  const replayInto = (eventStore: InMemoryEventStore, readModels: ReadModelStore, options: Partial<ReplayOptions>) =>
    replay({
      eventStore,
      readModels,
      dryRun: false,
      handle: async (event, { readModels: writer }) => {
        const data = event.data as { n: number; extra?: number };
        await writer.put("docs", event.id, { n: data.n });
        for (let i = 0; i < (data.extra ?? 0); i++) await writer.put("docs", `${event.id}-${i}`, i);
      },
      ...options,
    });

  test("mock: every batch commits as the cap needs, ending with the documents, checkpoint and counts a replay without a cap makes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 20 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom("feed" as const, "feed with a checkpoint" as const, "stream" as const),
        fc.constantFrom("commit" as const, "write" as const),
        async (cap, events, batchSize, mode, refuseAt) => {
          const withCheckpoint = mode === "feed with a checkpoint";
          const eventStore = new InMemoryEventStore();
          const last = await appendEvents(eventStore, events);
          const readModels = new CappedReadModelStore(cap, refuseAt);
          const progress: number[] = [];
          const result = await replayInto(eventStore, readModels, {
            batchSize,
            ...(withCheckpoint ? { checkpoint: "replayed" } : {}),
            ...(mode === "stream" ? { stream: "Split-1" } : {}),
            onProgress: (p) => progress.push(p.done),
          });
          // A stream's replay ends at its version, the feed's at its global position.
          const position = mode === "stream" ? events : last;
          expect(result).toMatchObject({ read: events, handled: events, position, writes: events });
          expect(await readModels.list("docs")).toEqual(await expectedDocuments(eventStore));
          if (withCheckpoint) {
            expect(await readModels.checkpoints.load("replayed")).toBe(events === 0 ? undefined : last);
          }
          // Every commit fits; progress is reported per committed part, up to every event.
          for (const writes of readModels.committed) expect(writes).toBeLessThanOrEqual(cap);
          expect(progress.at(-1) ?? 0).toBe(events);
          // A split happened exactly when the first batch could not fit.
          const fits = cap - (withCheckpoint ? 1 : 0);
          expect(readModels.attempts.length > 0).toBe(Math.min(events, batchSize) > fits);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("mock: the half that commits is where the batch grows back from, doubling to batchSize, halved again at the cap", async () => {
    const eventStore = new InMemoryEventStore();
    const last = await appendEvents(eventStore, 40);
    // 10 writes: 9 events' documents and the checkpoint.
    const readModels = new CappedReadModelStore(10);
    const progress: number[] = [];
    const result = await replayInto(eventStore, readModels, {
      batchSize: 16,
      checkpoint: "regrow",
      onProgress: (p) => progress.push(p.done),
    });
    expect(result).toMatchObject({ read: 40, handled: 40, position: last, writes: 40 });
    // 16 is refused and its first 8 commit; 8 fit, and the batch after grows back to 16: refused again.
    expect(readModels.attempts).toEqual([17, 17]);
    expect(readModels.committed).toEqual([9, 9, 9, 9, 9]);
    expect(progress).toEqual([8, 16, 24, 32, 40]);
    expect(await readModels.checkpoints.load("regrow")).toBe(last);
  });

  test("mock: one event writing more than the store commits at once stops the replay with the store's error, once, with what came before it committed", async () => {
    for (const refuseAt of ["commit", "write"] as const) {
      const { eventStore, big } = await withOneEventTooLarge();
      const readModels = new CappedReadModelStore(12, refuseAt);
      const failed = await replayInto(eventStore, readModels, { checkpoint: "too-much" }).catch((e: unknown) => e);
      expect(isReadModelTransactionTooLargeError(failed)).toBe(true);
      expect(await readModels.checkpoints.load("too-much")).toBe((big.globalPosition ?? 0) - 1);
      expect(await readModels.list("docs")).toHaveLength(30);
    }
  });
});
