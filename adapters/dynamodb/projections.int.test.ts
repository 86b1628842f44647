import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  ErrorCode,
  InMemoryProjectionLock,
  ProjectionRunner,
  projection,
  type ReplayContext,
  replay,
  ulid,
} from "../../src/index.js";
import { checkpointStoreContract, eventually, projectionContract, registerContract } from "../../src/testing/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { countingProjection } from "../../test/postgres/counting-projection.ts";
import { killAfterBatches } from "../../test/projections/kill-after-batches.ts";
import {
  DynamoDbCheckpointStore,
  DynamoDbEventStore,
  DynamoDbProjectionLock,
  DynamoDbReadModelStore,
} from "./index.js";

const table = useDynamoTable("projections", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

registerContract(
  projectionContract({
    name: "projection contract on DynamoDB Local (read models and checkpoints as items, conditional-write leases)",
    create: () => ({
      eventStore: new DynamoDbEventStore(table.options),
      readModels: new DynamoDbReadModelStore(table.options),
      lock: new DynamoDbProjectionLock(table.options),
    }),
  }),
  { describe, test },
);

registerContract(
  checkpointStoreContract({
    name: "DynamoDbCheckpointStore contract (DynamoDB Local)",
    create: () => new DynamoDbCheckpointStore(table.options),
  }),
  { describe, test },
);

describe("DynamoDbProjectionLock", () => {
  test("null options, or a now that is not a function, are a ValidationError when the lock is made (they were TypeErrors)", () => {
    for (const options of [null, undefined, { ...table.options, now: 5 }]) {
      expect(() => new DynamoDbProjectionLock(options as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation }),
      );
    }
  });

  test("a clock that reads no time is a ValidationError before any request, as in the dedup and idempotency stores", async () => {
    const sent: string[] = [];
    const fetch = (request: Request) => {
      sent.push(request.headers.get("x-amz-target") ?? "");
      return globalThis.fetch(request);
    };
    for (const reading of ["1000", Number.NaN, undefined, Number.POSITIVE_INFINITY]) {
      const lock = new DynamoDbProjectionLock({ ...table.options, fetch, now: () => reading as never });
      const error = await lock.acquire(`lease-${ulid()}`, "a", 1000).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.Validation, issues: [expect.objectContaining({ path: ["now"] })] });
    }
    expect(sent).toEqual([]);
  });

  test("a lease that is not renewed lapses and another owner takes it", async () => {
    let now = 1_000_000;
    const lock = new DynamoDbProjectionLock({ ...table.options, now: () => now });
    const name = `lease-${ulid()}`;
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
    expect(await lock.acquire(name, "b", 1000)).toBe(false);
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
    now += 1001;
    expect(await lock.acquire(name, "b", 1000)).toBe(true);
    await lock.release(name, "a");
    expect(await lock.acquire(name, "a", 1000)).toBe(false);
    await lock.release(name, "b");
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
  });
});

describe("a lease ends at its until, on DynamoDB as in memory", () => {
  // The in-memory lock took a lease back at until itself, DynamoDB's only a millisecond later.
  test("at exactly acquired + ttlMs another owner takes it; a millisecond before, not", async () => {
    for (const make of [
      (now: () => number) => new DynamoDbProjectionLock({ ...table.options, now }),
      (now: () => number) => new InMemoryProjectionLock({ now }),
    ]) {
      let now = 5_000_000;
      const lock = make(() => now);
      const name = `lease-end-${ulid()}`;
      expect(await lock.acquire(name, "a", 1000)).toBe(true);
      now += 999;
      expect(await lock.acquire(name, "b", 1000)).toBe(false);
      now += 1;
      expect(await lock.acquire(name, "b", 1000)).toBe(true);
    }
  });
});

describe("DynamoDbReadModelStore sizes", () => {
  // DynamoDB refuses an item over 400 KB and a transaction over 4 MB with a ValidationException: a
  // ServiceError no retry can cure, which a running runner retried every retryDelayMs for ever.
  test("a document over the 400 KB item is a PayloadTooLargeError before anything is sent, plain or in a transaction; one at the limit is stored", async () => {
    const readModels = new DynamoDbReadModelStore(table.options);
    const collection = `sizes-${ulid()}`;
    const tooBig = { code: ErrorCode.PayloadTooLarge, limit: 400 * 1024 };
    const refused = await readModels.put(collection, "a", "x".repeat(400 * 1024)).catch((error: unknown) => error);
    expect(refused).toMatchObject(tooBig);
    expect(String(refused)).not.toContain("ValidationException");
    await expect(
      readModels.transaction(async (tx) => {
        await tx.put(collection, "small", { ok: true });
        await tx.put(collection, "a", "x".repeat(500 * 1024));
      }),
    ).rejects.toMatchObject(tooBig);
    expect(await readModels.list(collection)).toEqual([]);
    // The estimate counts as DynamoDB does (a number as its 21 bytes at most, so a little under): the largest
    // document it allows (ids of the same length) is stored.
    const over = (refused as { size: number }).size - 400 * 1024;
    const largest = "x".repeat(400 * 1024 - over);
    await readModels.put(collection, "b", largest);
    await readModels.transaction((tx) => tx.put(collection, "c", largest));
    expect((await readModels.list<string>(collection)).map((d) => [d.id, d.document.length])).toEqual([
      ["b", largest.length],
      ["c", largest.length],
    ]);
    await expect(readModels.put(collection, "b", `${largest}x`)).rejects.toMatchObject(tooBig);
  }, 60_000);

  test("a replay's dry run fails at a document over the 400 KB item as the run that writes does (it passed the dry run); checkPut says the same and writes nothing", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const stream = `Sizes-${ulid()}`;
    const collection = `sizes-${ulid()}`;
    await eventStore.appendToStream(stream, [{ type: "Big", data: 1 }]);
    const handle = (_event: unknown, { readModels: writer }: ReplayContext) =>
      writer.put(collection, "a", "x".repeat(410 * 1024));
    const failures = [];
    for (const dryRun of [true, false]) {
      const failed = await replay({ eventStore, readModels, stream, dryRun, handle }).catch((e: unknown) => e);
      failures.push({ code: (failed as { code?: string }).code, cause: (failed as Error).cause });
    }
    expect(failures).toEqual([
      { code: ErrorCode.ReplayFailed, cause: expect.objectContaining({ code: ErrorCode.PayloadTooLarge }) },
      { code: ErrorCode.ReplayFailed, cause: expect.objectContaining({ code: ErrorCode.PayloadTooLarge }) },
    ]);
    await expect(readModels.checkPut(collection, "a", "x".repeat(410 * 1024))).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    await readModels.checkPut(collection, "a", "small");
    expect(await readModels.list(collection)).toEqual([]);
  }, 60_000);

  test("a transaction over DynamoDB's 4 MB, or over its 100 items, is a ReadModelTransactionTooLargeError and writes nothing", async () => {
    const readModels = new DynamoDbReadModelStore(table.options);
    const collection = `sizes-${ulid()}`;
    const refused = readModels.transaction(async (tx) => {
      for (let i = 0; i < 12; i++) await tx.put(collection, `d${i}`, "x".repeat(390 * 1024));
    });
    await expect(refused).rejects.toMatchObject({
      code: ErrorCode.ReadModelTransactionTooLarge,
      store: "DynamoDB",
      limit: 4 * 1024 * 1024,
      unit: "bytes",
    });
    // 99 documents, a checkpoint, and the check of the collection's generation pointer.
    const many = readModels.transaction(async (tx) => {
      for (let i = 0; i < 99; i++) await tx.put(collection, `d${i}`, i);
      await tx.checkpoints.store(`sizes-${ulid()}`, 1);
    });
    await expect(many).rejects.toMatchObject({
      code: ErrorCode.ReadModelTransactionTooLarge,
      store: "DynamoDB",
      size: 101,
      limit: 100,
      unit: "writes",
    });
    expect(await readModels.list(collection)).toEqual([]);
  }, 60_000);

  test("a handler writing a document, or a projection state, too large for an item fails the projection at that event (ProjectionFailedError), checkpoint and documents unmoved", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const stream = `Sized-${ulid()}`;
    const [, big] = (
      await eventStore.appendToStream(stream, [
        { type: "Small", data: 1 },
        { type: "Big", data: 2 },
      ])
    ).events;
    const collection = `sized-${ulid()}`;
    const documents = projection({
      name: `sized-${ulid()}`,
      streams: [stream],
      handle: async (event, { readModels }) =>
        readModels.put(collection, event.id, event.type === "Big" ? "x".repeat(500 * 1024) : event.type),
    });
    const state = projection({
      name: `sized-state-${ulid()}`,
      streams: [stream],
      initialState: "",
      handle: (event) => (event.type === "Big" ? "x".repeat(500 * 1024) : undefined),
    });
    const runners = [
      new ProjectionRunner({ projection: documents, eventStore, readModels, onFailure: () => undefined }),
      new ProjectionRunner({ projection: state, eventStore, readModels, onFailure: () => undefined }),
    ];
    for (const runner of runners) {
      const failed = await runner.catchUp().catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: ErrorCode.ProjectionFailed, eventId: big?.id });
      expect((failed as Error).cause).toMatchObject({ code: ErrorCode.PayloadTooLarge });
      expect(runner.failure).toBe(failed as never);
      expect(await readModels.checkpoints.load(`projection:${runner.projection.name}`)).toBeUndefined();
    }
    expect(await readModels.list(collection)).toEqual([]);
  }, 60_000);
});

describe("ProjectionRunner on DynamoDB", () => {
  test("a runner stopped mid-run and started again ends with the read model a run from scratch makes", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const lock = new DynamoDbProjectionLock(table.options);
    const streams = Array.from({ length: 6 }, (_, i) => `Stopped${i % 2}-${ulid()}`);
    for (const [i, stream] of streams.entries()) {
      await eventStore.appendToStream(
        stream,
        Array.from({ length: 10 }, (_, n) => ({ type: "Counted", data: { i, n } })),
      );
    }
    const name = `stopped-${ulid()}`;
    const collection = `stopped-${ulid()}`;
    const runner = (projectionName: string, into: string) =>
      new ProjectionRunner({
        projection: countingProjection(projectionName, into, 5),
        eventStore,
        readModels,
        lock,
        batchSize: 10,
        pollIntervalMs: 20,
      });
    const first = runner(name, collection);
    let batches = 0;
    const stopping = new Promise<void>((resolve) => {
      const watch = setInterval(async () => {
        const lag = await first.lag();
        if (lag.position > 0) batches++;
        if (batches > 0) {
          clearInterval(watch);
          resolve();
        }
      }, 5);
    });
    first.start();
    await stopping;
    await first.stop();
    const atStop = await first.lag();
    expect(atStop.behind).toBeGreaterThan(0);
    await runner(name, collection).catchUp();
    const scratch = `scratch-${ulid()}`;
    const scratchName = `scratch-${ulid()}`;
    await runner(scratchName, scratch).catchUp();
    const resumed = await readModels.list(collection);
    // The projection counts every Counted event of the table (other tests' too): this test's streams are there, whole.
    for (const stream of streams)
      expect(resumed.find((d) => d.id === stream)?.document).toEqual({ count: 10, sum: 45 });
    expect(resumed).toEqual(await readModels.list(scratch));
    expect(await readModels.get("projection-state", name)).toEqual(
      await readModels.get("projection-state", scratchName),
    );
  }, 60_000);
});

describe("ProjectionRunner on DynamoDB, batches over one TransactWriteItems", () => {
  // A batch writing more than 100 items was refused with a ValidationError, which a started runner
  // retried every retryDelayMs for ever: the runner now commits it in halves.
  test("a projection writing one distinct document per event, with the default batchSize, catches up over 250 events: the read model equals one computed by hand", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const stream = `PerEvent-${ulid()}`;
    const appended = [];
    for (let at = 0; at < 250; at += 50) {
      const { events } = await eventStore.appendToStream(
        stream,
        Array.from({ length: 50 }, (_, n) => ({ type: "Counted", data: { n: at + n } })),
        { expectedVersion: at === 0 ? "no-stream" : at },
      );
      appended.push(...events);
    }
    const collection = `per-event-${ulid()}`;
    const name = `per-event-${ulid()}`;
    const errors: unknown[] = [];
    const handled: number[] = [];
    const runner = new ProjectionRunner({
      projection: projection({
        name,
        streams: [stream],
        initialState: 0,
        handle: async (event, { readModels, state }) => {
          await readModels.put(collection, event.id, event.data);
          return state + 1;
        },
      }),
      eventStore,
      readModels,
      onError: (error) => errors.push(error),
      onBatch: (batch) => handled.push(batch.handled),
    });
    const done = await runner.catchUp();
    expect(done?.position).toBe(await eventStore.getLastGlobalPosition());
    expect(errors).toEqual([]);
    // No batch that committed handled more than 97 events: its state, its checkpoint and the check of
    // the collection's generation pointer take 3 of the 100 items. (The feed holds other tests' events too.)
    for (const n of handled) expect(n).toBeLessThanOrEqual(97);
    expect(handled.reduce((a, b) => a + b, 0)).toBe(250);
    const byHand = appended
      .map((event) => ({ id: event.id, document: event.data }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await readModels.list(collection)).toEqual(byHand);
    expect(await readModels.get("projection-state", name)).toBe(250);
    expect(await readModels.checkpoints.load(`projection:${name}`)).toBe(done?.position);
  }, 120_000);

  test("a batch whose documents are over DynamoDB's 4 MB together is committed in halves too", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const stream = `Heavy-${ulid()}`;
    const { events } = await eventStore.appendToStream(
      stream,
      Array.from({ length: 30 }, (_, n) => ({ type: "Heavy", data: n })),
    );
    const collection = `heavy-${ulid()}`;
    const runner = new ProjectionRunner({
      projection: projection({
        name: `heavy-${ulid()}`,
        streams: [stream],
        // 30 documents of 200 KB: 6 MB in one batch.
        handle: (event, { readModels }) => readModels.put(collection, event.id, "x".repeat(200 * 1024)),
      }),
      eventStore,
      readModels,
    });
    await runner.catchUp();
    const stored = await readModels.list<string>(collection);
    expect(stored.map((d) => d.id)).toEqual(events.map((e) => e.id).sort());
    for (const { document } of stored) expect(document).toHaveLength(200 * 1024);
  }, 120_000);
});

describe("ProjectionRunner on DynamoDB, killed", () => {
  test("a runner process killed with SIGKILL mid-run: once its lease lapses a new runner resumes, and the read model equals a run from scratch", async () => {
    const eventStore = new DynamoDbEventStore(table.options);
    const readModels = new DynamoDbReadModelStore(table.options);
    const lock = new DynamoDbProjectionLock(table.options);
    for (let i = 0; i < 8; i++) {
      await eventStore.appendToStream(
        `Killed${i % 3}-${ulid()}`,
        Array.from({ length: 10 }, (_, n) => ({ type: "Counted", data: { i, n } })),
      );
    }
    const name = `killed-${ulid()}`;
    const collection = `killed-${ulid()}`;
    await killAfterBatches(join(import.meta.dirname, "..", "..", "test", "dynamodb", "projection-worker.ts"), [
      table.endpoint.endpoint,
      table.tableName,
      name,
      collection,
      "1000",
    ]);
    const atKill = (await readModels.checkpoints.load(`projection:${name}`)) ?? 0;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(await eventStore.getLastGlobalPosition());

    const resume = () =>
      new ProjectionRunner({
        projection: countingProjection(name, collection),
        eventStore,
        readModels,
        lock,
        leaseMs: 1000,
      });
    // The dead worker's lease holds until it lapses (1 s), then a new runner takes over.
    await eventually(
      async () => {
        expect(await resume().catchUp()).toBeDefined();
      },
      10_000,
      100,
    );
    const scratchName = `scratch-${ulid()}`;
    const scratch = `scratch-${ulid()}`;
    await new ProjectionRunner({
      projection: countingProjection(scratchName, scratch),
      eventStore,
      readModels,
      lock,
      batchSize: 7,
    }).catchUp();
    // Both stop at the head they found; the resumed one ran first, so bring it to the same head.
    await resume().catchUp();
    const resumed = await readModels.list(collection);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed).toEqual(await readModels.list(scratch));
    expect(await readModels.get("projection-state", name)).toEqual(
      await readModels.get("projection-state", scratchName),
    );
  }, 60_000);
});
