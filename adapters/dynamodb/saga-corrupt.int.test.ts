import { describe, expect, test } from "bun:test";
import { type SagaCommit, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { DynamoDbEventStore, DynamoDbSagaStore } from "./index.js";
import { S } from "./saga-items.js";

const shared = useDynamoTable("sagas_corrupt", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

const base = (saga: string): SagaCommit => ({
  saga,
  key: "k",
  expectedVersion: 0,
  state: { n: 1 },
  status: "running",
  step: 0,
  compensations: [],
});

/** Rewrites one attribute of every item of the saga's instance, as another tool might have. */
async function overwrite(saga: string, attribute: string, value: Record<string, unknown>): Promise<void> {
  const scan = await shared.client.send<{ Items?: Record<string, unknown>[] }>("Scan", {
    TableName: shared.tableName,
    ConsistentRead: true,
    FilterExpression: "#sg = :saga AND #sk = :zero",
    ExpressionAttributeNames: { "#sg": S.saga, "#sk": "sk" },
    ExpressionAttributeValues: { ":saga": { S: saga }, ":zero": { N: "0" } },
  });
  const [item] = scan.Items ?? [];
  if (item === undefined) throw new Error("no instance item");
  await shared.client.send("PutItem", { TableName: shared.tableName, Item: { ...item, [attribute]: value } });
}

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
      const store = new DynamoDbSagaStore(shared.options);
      const saga = `Saga-${ulid()}`;
      await store.commit(base(saga));
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
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    await store.commit(base(saga));
    await overwrite(saga, S.state, { S: "{" });
    await expect(store.list({ saga })).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });

  test("an outbox entry that is not JSON: load is SAGA_CORRUPT", async () => {
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e1", compensation: false };
    await store.commit({ ...base(saga), outbox: [entry] });
    const scan = await shared.client.send<{ Items?: Record<string, unknown>[] }>("Scan", {
      TableName: shared.tableName,
      ConsistentRead: true,
      FilterExpression: "attribute_exists(#entry) AND contains(#entry, :id)",
      ExpressionAttributeNames: { "#entry": S.entry },
      ExpressionAttributeValues: { ":id": { S: entry.id } },
    });
    const [item] = scan.Items ?? [];
    if (item === undefined) throw new Error("no outbox item");
    await shared.client.send("PutItem", { TableName: shared.tableName, Item: { ...item, [S.entry]: { S: "{" } } });
    await expect(store.load(saga, "k")).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });

  test("a commit that reads the pending timeouts of a corrupt instance is refused with SAGA_CORRUPT, nothing written", async () => {
    const saga = `Saga-${ulid()}`;
    await new DynamoDbSagaStore(shared.options).commit(base(saga));
    await overwrite(saga, S.timeouts, { S: "[1]" });
    // A fresh store has no cached timeouts: a commit that cancels one reads them from the item.
    const store = new DynamoDbSagaStore(shared.options);
    await expect(
      store.commit({ ...base(saga), expectedVersion: 1, state: { n: 2 }, cancel: ["reminder"] }),
    ).rejects.toMatchObject({
      serviceCode: "SAGA_CORRUPT",
    });
    const scan = await shared.client.send<{ Items?: Record<string, unknown>[] }>("Scan", {
      TableName: shared.tableName,
      ConsistentRead: true,
      FilterExpression: "#sg = :saga",
      ExpressionAttributeNames: { "#sg": S.saga },
      ExpressionAttributeValues: { ":saga": { S: saga } },
    });
    expect(scan.Items?.map((item) => item[S.version])).toEqual([{ N: "1" }]);
  });

  test("a stored failure that is not an object: failures() is SAGA_CORRUPT", async () => {
    const store = new DynamoDbSagaStore(shared.options);
    const saga = `Saga-${ulid()}`;
    await store.recordFailure({
      saga,
      key: "k",
      eventId: "e1",
      eventType: "Happened",
      error: "Error: boom",
      at: new Date(0).toISOString(),
    });
    const scan = await shared.client.send<{ Items?: Record<string, unknown>[] }>("Scan", {
      TableName: shared.tableName,
      ConsistentRead: true,
      FilterExpression: "attribute_exists(#f) AND contains(#f, :saga)",
      ExpressionAttributeNames: { "#f": S.failure },
      ExpressionAttributeValues: { ":saga": { S: saga } },
    });
    const [item] = scan.Items ?? [];
    if (item === undefined) throw new Error("no failure item");
    await shared.client.send("PutItem", { TableName: shared.tableName, Item: { ...item, [S.failure]: { S: "nope" } } });
    await expect(store.failures({ saga })).rejects.toMatchObject({ serviceCode: "SAGA_CORRUPT" });
  });
});
