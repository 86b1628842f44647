/**
 * Read-model and saga writes whose answer is lost after DynamoDB applied them (mock fetch: the connection
 * drops once the server has answered), on DynamoDB Local. The AWS client sends the request again;
 * the write must then be reported as done, not refused by its own first attempt as if another
 * runner had got in between.
 */
import { describe, expect, test } from "bun:test";
import type { FetchFunction } from "../aws/index.js";
import { DynamoDbReadModelStore, DynamoDbSagaStore } from "./index.js";
import { inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/** A fetch that loses the answer of the next request of `operation` (after DynamoDB applied it), once armed. */
function losingAnswers() {
  let armed: string | undefined;
  let lost = 0;
  const fetch: FetchFunction = async (request) => {
    const { operation } = await inspect(request);
    const response = await globalThis.fetch(request);
    if (operation !== armed) return response;
    armed = undefined;
    lost++;
    await response.arrayBuffer();
    throw new TypeError("connection reset (injected, after the server answered)");
  };
  return {
    fetch,
    loseNext(operation: string) {
      armed = operation;
    },
    lost: () => lost,
  };
}

async function readModels() {
  const { layout, client } = await local.store();
  const answers = losingAnswers();
  const store = new DynamoDbReadModelStore({
    ...local.endpoint,
    tableName: layout.tableName,
    fetch: answers.fetch,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  // A second store on the same table, whose answers are never lost: what a reader sees.
  const reader = new DynamoDbReadModelStore({ tableName: layout.tableName, client });
  return { store, reader, answers };
}

describe("DynamoDB read models: an answer lost after the write was applied (mock fetch: dropped connection)", () => {
  test("a transaction's documents and checkpoint commit once, and the transaction succeeds", async () => {
    const { store, reader, answers } = await readModels();
    await store.checkpoints.store("projection:p", 10);
    answers.loseNext("TransactWriteItems");
    await store.transaction(async (tx) => {
      await tx.put("orders", "o-1", { total: 1 });
      await tx.checkpoints.store("projection:p", 20, { expected: 10 });
    });
    expect(answers.lost()).toBe(1);
    expect(await reader.checkpoints.load("projection:p")).toBe(20);
    expect(await reader.get("orders", "o-1")).toEqual({ total: 1 });
  });

  test("a checkpoint's compare-and-set succeeds", async () => {
    const { store, reader, answers } = await readModels();
    await store.checkpoints.store("projection:p", 10);
    answers.loseNext("PutItem");
    await store.checkpoints.store("projection:p", 30, { expected: 10 });
    expect(answers.lost()).toBe(1);
    expect(await reader.checkpoints.load("projection:p")).toBe(30);
  });

  test("a checkpoint another writer moved is still a ConcurrencyError, with the position it holds", async () => {
    const { store, reader, answers } = await readModels();
    await store.checkpoints.store("projection:p", 10);
    await reader.checkpoints.store("projection:p", 15, { expected: 10 });
    answers.loseNext("PutItem");
    await expect(store.checkpoints.store("projection:p", 30, { expected: 10 })).rejects.toMatchObject({
      code: "CONCURRENCY_CONFLICT",
      actualVersion: 15,
    });
    expect(await reader.checkpoints.load("projection:p")).toBe(15);
  });

  test("a swap takes the shadow generation in once, and succeeds", async () => {
    const { store, reader, answers } = await readModels();
    await store.put("orders-shadow", "o-1", { total: 2 });
    answers.loseNext("TransactWriteItems");
    await store.swap({ collections: [{ from: "orders-shadow", to: "orders" }], documents: [], checkpoints: [] });
    expect(answers.lost()).toBe(1);
    expect(await reader.get("orders", "o-1")).toEqual({ total: 2 });
  });
});

/** A saga store whose answers can be lost (`answers`), and one on the same table that reads plainly (`reader`). */
async function sagas() {
  const { layout, client } = await local.store();
  const answers = losingAnswers();
  const retry = { baseDelayMs: 1, maxDelayMs: 2 };
  const store = new DynamoDbSagaStore({
    ...local.endpoint,
    tableName: layout.tableName,
    fetch: answers.fetch,
    retry,
  });
  return { store, reader: new DynamoDbSagaStore({ tableName: layout.tableName, client }), answers };
}

describe("DynamoDB sagas: an answer lost after the write was applied (mock fetch: dropped connection)", () => {
  const step = (expectedVersion: number, state: unknown) =>
    ({
      saga: "Shipping",
      key: "order-1",
      expectedVersion,
      state,
      status: "running",
      step: 1,
      compensations: [],
    }) as const;

  test("a step that writes only the instance (a PutItem, then an UpdateItem) commits once and succeeds", async () => {
    const { store, reader, answers } = await sagas();
    answers.loseNext("PutItem");
    expect(await store.commit(step(0, { n: 1 }))).toBe(1);
    answers.loseNext("UpdateItem");
    expect(await store.commit(step(1, { n: 2 }))).toBe(2);
    expect(answers.lost()).toBe(2);
    expect(await reader.load("Shipping", "order-1")).toMatchObject({ version: 2, state: { n: 2 } });
  });

  test("an instance another delivery changed is still a ConcurrencyError, with its version", async () => {
    const { store, reader, answers } = await sagas();
    await store.commit(step(0, { n: 1 }));
    await reader.commit(step(1, { n: "theirs" }));
    answers.loseNext("UpdateItem");
    await expect(store.commit(step(1, { n: "mine" }))).rejects.toMatchObject({
      code: "CONCURRENCY_CONFLICT",
      actualVersion: 2,
    });
    expect(await reader.load("Shipping", "order-1")).toMatchObject({ version: 2, state: { n: "theirs" } });
  });
});

describe("DynamoDB saga timeouts: a claim whose answer is lost after it was applied (mock fetch: dropped connection)", () => {
  test("the claim still returns the timeout it took", async () => {
    const { store, reader: other, answers } = await sagas();
    const timeout = {
      id: "Shipping/order-1/t/remind/1",
      saga: "Shipping",
      key: "order-1",
      name: "remind",
      dueAt: 1_000,
    };
    await store.commit({
      saga: "Shipping",
      key: "order-1",
      expectedVersion: 0,
      state: {},
      status: "running",
      step: 1,
      compensations: [],
      schedule: [{ ...timeout, data: null }],
    });
    answers.loseNext("UpdateItem");
    const claimed = await store.claimDueTimeouts({ now: 2_000, owner: "scheduler-a", leaseMs: 60_000, limit: 10 });
    expect(answers.lost()).toBe(1);
    expect(claimed.map((t) => t.id)).toEqual([timeout.id]);
    // Leased to the claimant: another scheduler finds nothing to claim.
    expect(await other.claimDueTimeouts({ now: 2_000, owner: "scheduler-b", leaseMs: 60_000, limit: 10 })).toEqual([]);
  });
});
