import { describe, expect, test } from "bun:test";
import { type SagaCommit, sagaTimeoutId, ulid } from "../../src/index.js";
import { registerContract, sagaStoreContract } from "../../src/testing/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { checkInterleavings } from "../../test/sagas/interleavings.ts";
import { DynamoDbEventStore, DynamoDbSagaStore, SAGA_PARTITION_PREFIX } from "./index.js";

/** The event store's table, which the saga store shares. */
const shared = useDynamoTable("sagas", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);
/** A table of the saga store's own, with other key names and sharded timeouts. */
const own = useDynamoTable("sagas_own", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName, partitionKey: "PK", sortKey: "SK" }).ensureTable(),
);

registerContract(
  sagaStoreContract({
    name: "DynamoDbSagaStore contract (DynamoDB Local, in the event store's table)",
    create: (settings) => new DynamoDbSagaStore({ ...shared.endpoint, ...settings, tableName: shared.tableName }),
  }),
  { describe, test },
);

registerContract(
  sagaStoreContract({
    name: "DynamoDbSagaStore contract (DynamoDB Local, a table of its own, 4 timeout shards)",
    create: (settings) =>
      new DynamoDbSagaStore({
        ...own.endpoint,
        ...settings,
        tableName: own.tableName,
        partitionKey: "PK",
        sortKey: "SK",
        timeoutShards: 4,
      }),
  }),
  { describe, test },
);

describe("DynamoDbSagaStore", () => {
  const base = (saga: string): SagaCommit => ({
    saga,
    key: "k",
    expectedVersion: 0,
    state: {},
    status: "running",
    step: 0,
    compensations: [],
  });
  /** Timeout `name` of instance "k", scheduled at version `v`, due at once. */
  const dueTimeout = (saga: string, name: string, v: number) => ({
    id: sagaTimeoutId(saga, "k", name, v),
    saga,
    key: "k",
    name,
    dueAt: 1,
    data: null,
  });
  const entry = (saga: string, n: number, payload: unknown = {}) => ({
    id: `${saga}/k/${n}`,
    type: "Cmd",
    payload,
    causationId: "e1",
    compensation: false,
  });
  const items = async (saga: string) => {
    const scan = await shared.client.send<{ Items?: unknown[] }>("Scan", {
      TableName: shared.tableName,
      ConsistentRead: true,
      FilterExpression: "contains(#pk, :saga) OR #sg = :saga",
      ExpressionAttributeNames: { "#pk": "pk", "#sg": "sg" },
      ExpressionAttributeValues: { ":saga": { S: saga } },
    });
    return scan.Items?.length ?? 0;
  };

  test("a commit that fails half-way (its handled id is taken) leaves no outbox entry or timeout behind", async () => {
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    await store.commit({ ...base(saga), handledId: "e1" });
    const before = await items(saga);
    await expect(
      store.commit({
        ...base(saga),
        expectedVersion: 1,
        handledId: "e1",
        outbox: [entry(saga, 1)],
        schedule: [{ id: `${saga}/k/t/x/2`, saga, key: "k", name: "x", dueAt: 0, data: null }],
      }),
    ).rejects.toMatchObject({ code: "CONCURRENCY_CONFLICT" });
    expect(await items(saga)).toBe(before);
    expect((await store.load(saga, "k"))?.version).toBe(1);
  });

  test("a step over DynamoDB's transaction limits is refused before anything is written", async () => {
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    const many = Array.from({ length: 99 }, (_, i) => entry(saga, i));
    await expect(store.commit({ ...base(saga), handledId: "e1", outbox: many })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    const big = Array.from({ length: 12 }, (_, i) => entry(saga, i, { blob: "x".repeat(390_000) }));
    await expect(store.commit({ ...base(saga), outbox: big })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    await expect(
      store.commit({ ...base(saga), outbox: [entry(saga, 1, { blob: "x".repeat(410_000) })] }),
    ).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(await items(saga)).toBe(0);
    expect(await store.hasHandled(saga, "k", "e1")).toBe(false);
    // 98 entries with the instance and the handled id: exactly the limit.
    await store.commit({ ...base(saga), handledId: "e1", outbox: many.slice(0, 98) });
    expect((await store.load(saga, "k"))?.outbox.length).toBe(98);
  });

  test("an update whose item would pass 400 KB with what it keeps (its pending timeouts) is refused before it is sent", async () => {
    // maxStateBytes above the item limit: the step's state alone fits, the item it leaves does not.
    const store = new DynamoDbSagaStore({ ...shared.options, maxStateBytes: 1_000_000 });
    const saga = `Saga-${ulid()}`;
    const schedule = Array.from({ length: 60 }, (_, i) => {
      const name = `t${i}-${"n".repeat(200)}`;
      return { id: sagaTimeoutId(saga, "k", name, 1), saga, key: "k", name, dueAt: 9e12, data: null };
    });
    await store.commit({ ...base(saga), schedule });
    const before = await items(saga);
    for (const reader of [store, new DynamoDbSagaStore({ ...shared.options, maxStateBytes: 1_000_000 })]) {
      // The store that committed knows the timeouts; a fresh one reads them.
      await expect(
        reader.commit({ ...base(saga), expectedVersion: 1, state: { blob: "x".repeat(385_000) } }),
      ).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    }
    expect(await items(saga)).toBe(before);
    expect(await store.load(saga, "k")).toMatchObject({ version: 1, state: {} });
    // Without the timeouts (cancelled in the same step) it fits.
    await store.commit({
      ...base(saga),
      expectedVersion: 1,
      state: { blob: "x".repeat(385_000) },
      cancel: schedule.map((t) => t.name),
    });
    expect((await store.load(saga, "k"))?.version).toBe(2);
  });

  test("a state under 200 KB next to a pending-timeout list that makes the item pass 400 KB is refused before it is sent", async () => {
    // The longest names a timeout list can hold: 98 timeouts of 250 three-byte characters, keys of 500.
    const sent: string[] = [];
    const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(new Request(input, init).headers.get("x-amz-target") ?? "?");
      return globalThis.fetch(input, init);
    };
    const store = new DynamoDbSagaStore({ ...shared.options, fetch });
    const saga = `Saga-${ulid()}`;
    const key = "\u20ac".repeat(500);
    const schedule = Array.from({ length: 98 }, (_, i) => {
      const name = `${"\u20ac".repeat(250)}${i}`;
      return { id: sagaTimeoutId(saga, key, name, 1), saga, key, name, dueAt: 9e12, data: null };
    });
    await store.commit({ ...base(saga), key, schedule });
    expect(await store.load(saga, key)).toMatchObject({ version: 1 });
    sent.length = 0;
    await expect(
      store.commit({ ...base(saga), key, expectedVersion: 1, state: { blob: "x".repeat(150_000) } }),
    ).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(sent).toEqual([]);
    expect(await store.load(saga, key)).toMatchObject({ version: 1, state: {} });
  });

  test("several runtimes (processes: a store each), duplicated deliveries, ticks and crashes end as a sequential run, each command once in effect (property)", async () => {
    await checkInterleavings(
      () => new DynamoDbSagaStore({ ...own.options, partitionKey: "PK", sortKey: "SK", timeoutShards: 4 }),
      25,
      {
        processes: true,
      },
    );
  }, 300_000);

  test("names too long for a partition key are stored under their hash and read back whole", async () => {
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}-${"é".repeat(480)}`;
    const key = "ключ".repeat(128);
    await store.commit({ ...base(saga), key, handledId: "e".repeat(512), outbox: [entry(saga, 1)] });
    const record = await store.load(saga, key);
    expect(record?.saga).toBe(saga);
    expect(record?.key).toBe(key);
    expect(record?.outbox.length).toBe(1);
    expect(await store.hasHandled(saga, key, "e".repeat(512))).toBe(true);
  });

  test("an instance's stale timeout cache is caught: a commit from another process reads the current timeouts", async () => {
    const one = new DynamoDbSagaStore(shared.options);
    const two = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    const timeout = (name: string, v: number) => dueTimeout(saga, name, v);
    await one.commit({ ...base(saga), schedule: [timeout("a", 1)] });
    // `two` never loaded the instance: it reads its pending timeouts to cancel "a".
    await two.commit({ ...base(saga), expectedVersion: 1, cancel: ["a"] });
    // `one` cached version 1: its commit at version 1 conflicts instead of using the stale cache.
    await expect(one.commit({ ...base(saga), expectedVersion: 1, cancel: ["a"] })).rejects.toMatchObject({
      code: "CONCURRENCY_CONFLICT",
    });
    const due = await one.claimDueTimeouts({ now: 10, owner: "x", leaseMs: 1, limit: 1000 });
    expect(due.filter((t) => t.saga === saga)).toEqual([]);
  });

  test("a timeout another process dropped is not listed again by a commit decided on the list read before: it conflicts", async () => {
    const one = new DynamoDbSagaStore(shared.options);
    const two = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    const timeout = (name: string, v: number) => dueTimeout(saga, name, v);
    // `one` remembers "a" listed at version 1.
    await one.commit({ ...base(saga), schedule: [timeout("a", 1)] });
    // Its firing ignored in another process: dropped there, the version left at 1.
    await two.dropTimeout(timeout("a", 1).id);
    expect(await two.isTimeoutPending(saga, "k", timeout("a", 1).id)).toBe(false);
    // `one` would write "a" back with "b": the list it read is not the list stored.
    await expect(one.commit({ ...base(saga), expectedVersion: 1, schedule: [timeout("b", 2)] })).rejects.toMatchObject({
      code: "CONCURRENCY_CONFLICT",
    });
    await one.load(saga, "k");
    await one.commit({ ...base(saga), expectedVersion: 1, schedule: [timeout("b", 2)] });
    expect(await one.isTimeoutPending(saga, "k", timeout("a", 1).id)).toBe(false);
    expect(await one.isTimeoutPending(saga, "k", timeout("b", 2).id)).toBe(true);
    await one.commit({ ...base(saga), expectedVersion: 2, status: "completed" });
  });

  test("nextDueAt for one saga reads past a first page holding only another saga's earlier timeouts", async () => {
    // Its answer was that page's last due time, overdue: an alarm driver woke every minDelayMs for nothing.
    const store = new DynamoDbSagaStore(shared.options);
    const ours = `Saga-${ulid()}`;
    const theirs = `${ours}-theirs`;
    // After the contract's own times (which look for theirs first), before any set from the clock.
    const at = 5_000_000_000 + Math.floor(Math.random() * 1_000_000);
    const timeout = (saga: string, key: string, name: string, dueAt: number) => ({
      id: sagaTimeoutId(saga, key, name, 1),
      saga,
      key,
      name,
      dueAt,
      data: null,
    });
    // 120 of theirs (4 instances: a transaction holds at most 100 items), then ours: past the first page of 100.
    for (let k = 0; k < 4; k++) {
      const schedule = Array.from({ length: 30 }, (_, i) => timeout(theirs, `k${k}`, `t${i}`, at + k * 30 + i));
      await store.commit({ ...base(theirs), key: `k${k}`, schedule });
    }
    await store.commit({ ...base(ours), schedule: [timeout(ours, "k", "t", at + 1000)] });
    expect(await store.nextDueAt({ sagas: [ours] })).toBe(at + 1000);
    // Ended: the table's other cases find none of these.
    for (let k = 0; k < 4; k++) {
      await store.commit({ ...base(theirs), key: `k${k}`, expectedVersion: 1, status: "completed" });
    }
    await store.commit({ ...base(ours), expectedVersion: 1, status: "completed" });
    expect(await store.nextDueAt({ sagas: [ours, theirs] })).toBeUndefined();
  });

  test("bad options are refused", () => {
    expect(() => new DynamoDbSagaStore({ ...shared.options, partitionKey: "sg" })).toThrow(
      "Invalid DynamoDB saga store options",
    );
    expect(() => new DynamoDbSagaStore({ ...shared.options, timeoutShards: 0 })).toThrow(
      "Invalid DynamoDB saga store options",
    );
    expect(SAGA_PARTITION_PREFIX.startsWith("\u001f")).toBe(true);
  });
});
