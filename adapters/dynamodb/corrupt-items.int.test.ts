/**
 * Items another tool wrote badly, read back through the DynamoDB stores (DynamoDB Local; the items are
 * rewritten with PutItem as that tool would): each read is a typed EventFlowsError naming what is
 * wrong and quoting none of it, never JSON.parse's SyntaxError.
 */
import { describe, expect, test } from "bun:test";
import { isEventFlowsError, type SagaCommit, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import {
  DynamoDbCheckpointStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbReadModelStore,
  DynamoDbSagaStore,
  dynamoDbStreamDeletion,
} from "./index.js";
import { dueShard, S } from "./saga-items.js";

const table = useDynamoTable("corrupt_items", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

type Item = Record<string, Record<string, unknown>>;

/** Every item whose `attribute` holds a string containing `marker`. */
async function itemsHolding(attribute: string, marker: string): Promise<Item[]> {
  const scan = await table.client.send<{ Items?: Item[] }>("Scan", {
    TableName: table.tableName,
    ConsistentRead: true,
    FilterExpression: "contains(#a, :m)",
    ExpressionAttributeNames: { "#a": attribute },
    ExpressionAttributeValues: { ":m": { S: marker } },
  });
  return scan.Items ?? [];
}

async function rewrite(item: Item, changes: Item): Promise<void> {
  await table.client.send("PutItem", { TableName: table.tableName, Item: { ...item, ...changes } });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

const sagaCommit = (saga: string): SagaCommit => ({
  saga,
  key: "k",
  expectedVersion: 0,
  state: { n: 1 },
  status: "running",
  step: 0,
  compensations: [],
});

/** Rewrites one attribute of the saga's instance item (sort key 0), as another tool might have. */
async function overwrite(saga: string, attribute: string, value: Record<string, unknown>): Promise<void> {
  const [item] = (await itemsHolding(S.saga, saga)).filter((i) => i.sk?.N === "0");
  if (item === undefined) throw new Error("no instance item");
  await rewrite(item, { [attribute]: value });
}

describe("DynamoDB items another tool wrote badly", () => {
  test("a read-model document that is not JSON: get and list are DOCUMENT_CORRUPT, quoting none of it", async () => {
    const readModels = new DynamoDbReadModelStore(table.options);
    const collection = `c${ulid()}`;
    await readModels.put(collection, "a", { marker: collection });
    const [item] = await itemsHolding("doc", collection);
    if (item === undefined) throw new Error("no document item");
    await rewrite(item, { doc: { S: "{secret" } });
    // One call at a time: a second promise made up front would reject before it is awaited.
    for (const read of [() => readModels.get(collection, "a"), () => readModels.list(collection)]) {
      const error = await failure(read());
      expect(error).toMatchObject({ name: "ServiceError", serviceCode: "DOCUMENT_CORRUPT", retryable: false });
      expect(isEventFlowsError(error)).toBe(true);
      expect((error as Error).message).not.toContain("secret");
    }
  });

  test("a due timeout whose data is not JSON: claimDueTimeouts is SAGA_CORRUPT naming the timeout", async () => {
    const sagas = new DynamoDbSagaStore(table.options);
    const saga = `Saga-${ulid()}`;
    const id = `${saga}/k/t/remind/1`;
    await sagas.commit({
      ...sagaCommit(saga),
      schedule: [{ id, saga, key: "k", name: "remind", dueAt: 1, data: { secret: 1 } }],
    });
    const [item] = (await itemsHolding(S.id, id)).filter((i) => i.pk?.S === `${dueShard(0)}`);
    if (item === undefined) throw new Error("no timeout item");
    await rewrite(item, { [S.data]: { S: "{secret" } });
    const error = await failure(
      sagas.claimDueTimeouts({ owner: "o", now: 2, leaseMs: 1000, limit: 100, sagas: [saga] }),
    );
    expect(error).toMatchObject({ serviceCode: "SAGA_CORRUPT" });
    expect((error as Error).message).toContain(id);
    expect((error as Error).message).not.toContain("secret");
  });

  test("a pending stream change that is not one: deleteStream is an EventCorruptError naming the stream", async () => {
    const store = new DynamoDbEventStore({ ...table.options, streamDeletion: dynamoDbStreamDeletion });
    const streamId = `Doomed-${ulid()}`;
    await store.appendToStream(streamId, [{ type: "Noted", data: { n: 1 } }]);
    const [first] = await itemsHolding("pk", streamId);
    if (first === undefined) throw new Error("no first event item");
    for (const op of ["{secret", "1", '{"kind":"delete"}']) {
      await rewrite(first, { op: { S: op } });
      const error = await failure(store.deleteStream(streamId, { mode: "soft" }));
      expect(error).toMatchObject({ name: "EventCorruptError", streamId });
      expect((error as Error).message).not.toContain("secret");
    }
  });

  test("an event item without its type, data kept: readStream and readAll are EVENT_CORRUPT, not a removed event passed by", async () => {
    const store = new DynamoDbEventStore(table.options);
    const streamId = `Typeless-${ulid()}`;
    await store.appendToStream(streamId, [{ type: "Noted", data: { secret: 1 } }]);
    const [item] = await itemsHolding("pk", streamId);
    if (item === undefined) throw new Error("no event item");
    const { type: _, ...typeless } = item;
    await table.client.send("PutItem", { TableName: table.tableName, Item: typeless });
    const readStream = async () => {
      for await (const _event of store.readStream(streamId)) {
      }
    };
    const readAll = async () => {
      for await (const _event of store.readAll()) {
      }
    };
    for (const read of [readStream, readAll]) {
      const error = await failure(read());
      expect(error).toMatchObject({ name: "EventCorruptError", code: "EVENT_CORRUPT", streamId, version: 1 });
      expect((error as Error).message).toContain("no event type");
      expect((error as Error).message).not.toContain("secret");
    }
  });

  test("a saved purge cursor that is not one: purgeRetiredGenerations starts a new pass instead of failing", async () => {
    const readModels = new DynamoDbReadModelStore(table.options);
    const cursor = {
      pk: { S: "\u001feventflows:rmretired" },
      sk: { N: "0" },
      cursor: { S: "{not a pass" },
    };
    for (const text of ["{not a pass", '{"namespaces":7}', "null"]) {
      await table.client.send("PutItem", { TableName: table.tableName, Item: { ...cursor, cursor: { S: text } } });
      expect(await readModels.purgeRetiredGenerations({ olderThanMs: 0 })).toMatchObject({ done: true });
    }
  });

  test("a completed idempotency record whose status is no HTTP status: claim is IDEMPOTENCY_CORRUPT, not a response new Response refuses", async () => {
    const store = new DynamoDbIdempotencyStore(table.options);
    // A 1xx is no final response: `new Response` throws on it too.
    for (const status of ["42", "200.5", "600", "101", "199"]) {
      const key = `k${ulid()}`;
      const claim = await store.claim(key, "fp");
      if (claim.state !== "claimed") throw new Error("not claimed");
      await store.complete(key, "fp", { status: 201, body: "{}", contentType: "application/json" }, claim.token);
      const [item] = await itemsHolding("pk", key);
      if (item === undefined) throw new Error("no idempotency item");
      await rewrite(item, { st: { N: status } });
      await expect(store.claim(key, "fp")).rejects.toMatchObject({
        serviceCode: "IDEMPOTENCY_CORRUPT",
        retryable: false,
      });
    }
  });

  test("a checkpoint item whose position is no position, or that has none: load is CHECKPOINT_CORRUPT, not NaN or a restart from 0", async () => {
    const checkpoints = new DynamoDbCheckpointStore(table.options);
    for (const pos of [{ N: "2.5" }, { N: "-1" }, { N: "1e100" }, { N: "9007199254740993" }, { S: "7" }, undefined]) {
      const id = `cp${ulid()}`;
      await checkpoints.store(id, 7);
      const [item] = await itemsHolding("pk", id);
      if (item === undefined) throw new Error("no checkpoint item");
      const { pos: _, ...rest } = item;
      await rewrite(rest, pos === undefined ? {} : { pos });
      await expect(checkpoints.load(id)).rejects.toMatchObject({ serviceCode: "CHECKPOINT_CORRUPT", retryable: false });
    }
  });
});

describe("DynamoDbSagaStore: an instance item another tool wrote badly", () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ["state that is not JSON", S.state, { S: "{not json" }],
    ["compensations that are not an array", S.compensations, { S: '{"a":1}' }],
    ["compensations that are not JSON", S.compensations, { S: "[" }],
    ["a status that is no saga status", S.status, { S: "dancing" }],
    ["a step that is not an integer", S.step, { N: "1.5" }],
    ["attention that is not an object", S.attention, { S: "[1]" }],
    ["pending timeouts that are not JSON", S.timeouts, { S: "{" }],
  ];
  for (const [what, attribute, value] of cases) {
    test(`${what}: load is a SAGA_CORRUPT ServiceError naming the instance, quoting none of it`, async () => {
      const store = new DynamoDbSagaStore(table.options);
      const saga = `Saga-${ulid()}`;
      await store.commit(sagaCommit(saga));
      await overwrite(saga, attribute, value);
      const error = await store.load(saga, "k").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        name: "ServiceError",
        code: "SERVICE_ERROR",
        serviceCode: "SAGA_CORRUPT",
        retryable: false,
      });
      const message = (error as Error).message;
      expect(message).toContain(saga);
      expect(message).not.toContain("not json");
      expect(message).not.toContain("dancing");
    });
  }

  test("list() meets such an instance: SAGA_CORRUPT, not a SyntaxError", async () => {
    const store = new DynamoDbSagaStore(table.options);
    const saga = `Saga-${ulid()}`;
    await store.commit(sagaCommit(saga));
    await overwrite(saga, S.state, { S: "{" });
    await expect(store.list({ saga })).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });

  test("an outbox entry that is not JSON: load is SAGA_CORRUPT", async () => {
    const store = new DynamoDbSagaStore(table.options);
    const saga = `Saga-${ulid()}`;
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e1", compensation: false };
    await store.commit({ ...sagaCommit(saga), outbox: [entry] });
    const scan = { Items: await itemsHolding(S.entry, entry.id) };
    const [item] = scan.Items;
    if (item === undefined) throw new Error("no outbox item");
    await rewrite(item, { [S.entry]: { S: "{" } });
    await expect(store.load(saga, "k")).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });

  test("a commit that reads the pending timeouts of a corrupt instance is refused with SAGA_CORRUPT, nothing written", async () => {
    const saga = `Saga-${ulid()}`;
    await new DynamoDbSagaStore(table.options).commit(sagaCommit(saga));
    await overwrite(saga, S.timeouts, { S: "[1]" });
    // A fresh store has no cached timeouts: a commit that cancels one reads them from the item.
    const store = new DynamoDbSagaStore(table.options);
    await expect(
      store.commit({ ...sagaCommit(saga), expectedVersion: 1, state: { n: 2 }, cancel: ["reminder"] }),
    ).rejects.toMatchObject({
      serviceCode: "SAGA_CORRUPT",
    });
    const scan = { Items: await itemsHolding(S.saga, saga) };
    expect(scan.Items?.map((item) => item[S.version])).toEqual([{ N: "1" }]);
  });

  test("a stored failure that is not an object: failures() is SAGA_CORRUPT", async () => {
    const store = new DynamoDbSagaStore(table.options);
    const saga = `Saga-${ulid()}`;
    await store.recordFailure({
      saga,
      key: "k",
      eventId: "e1",
      eventType: "Happened",
      error: "Error: boom",
      at: new Date(0).toISOString(),
    });
    const [item] = await itemsHolding(S.failure, saga);
    if (item === undefined) throw new Error("no failure item");
    await rewrite(item, { [S.failure]: { S: "nope" } });
    await expect(store.failures({ saga })).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });
});
