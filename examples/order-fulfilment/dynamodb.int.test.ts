/** The order-fulfilment demo with its saga instances on DynamoDB Local: the same outcome as in memory. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createDynamoDbClient, DynamoDbSagaStore } from "../../adapters/dynamodb/index.js";
import { ulid } from "../../src/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { runDemo } from "./demo.js";

let local: DynamoDbEndpoint;
const tableName = `fulfilment_${ulid()}`;

beforeAll(async () => {
  local = await ensureDynamoDb();
  await new DynamoDbSagaStore({ ...local, tableName }).ensureTable();
}, 120_000);
afterAll(async () => {
  await createDynamoDbClient(local)
    .send("DeleteTable", { TableName: tableName })
    .catch(() => undefined);
});

test("on DynamoDB the demo ships one order, compensates two, cancels one, each command once", async () => {
  const onDynamoDb = await runDemo(new DynamoDbSagaStore({ ...local, tableName }));
  const inMemory = await runDemo();
  expect(onDynamoDb.orders).toEqual(inMemory.orders);
  expect(onDynamoDb.orders.map((o) => o.status)).toEqual(["completed", "compensated", "compensated", "completed"]);
  expect(onDynamoDb.commands).toEqual(inMemory.commands);
  expect(onDynamoDb.fired.map((f) => [f.key, f.latenessMs, f.outcome])).toEqual([["o-3", 2000, "completed"]]);
  expect(onDynamoDb.stockLeft).toBe(3);
  expect([onDynamoDb.failures, onDynamoDb.needsAttention]).toEqual([[], 0]);
}, 60_000);
