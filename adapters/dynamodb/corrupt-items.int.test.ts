/**
 * Items another tool wrote badly, read back through the DynamoDB stores (DynamoDB Local; the items are
 * rewritten with PutItem as that tool would): each read is a typed EventFlowsError naming what is
 * wrong and quoting none of it, never JSON.parse's SyntaxError.
 */
import { describe, expect, test } from "bun:test";
import { isEventFlowsError, ulid } from "../../src/index.js";
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

describe("DynamoDB items another tool wrote badly", () => {
  test("a read-model document that is not JSON: get and list are DOCUMENT_CORRUPT, quoting none of it", async () => {
    const readModels = new DynamoDbReadModelStore(table.options);
    const collection = `c${ulid()}`;
    await readModels.put(collection, "a", { marker: collection });
    const [item] = await itemsHolding("doc", collection);
    if (item === undefined) throw new Error("no document item");
    await rewrite(item, { doc: { S: "{secret" } });
    for (const read of [readModels.get(collection, "a"), readModels.list(collection)]) {
      const error = await failure(read);
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
      saga,
      key: "k",
      expectedVersion: 0,
      state: {},
      status: "running",
      step: 0,
      compensations: [],
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
    for (const status of ["42", "200.5", "600"]) {
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
