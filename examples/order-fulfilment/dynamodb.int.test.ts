/** The order-fulfilment demo with its saga instances on DynamoDB Local: the same outcome as in memory. */
import { expect, test } from "bun:test";
import { DynamoDbSagaStore } from "../../adapters/dynamodb/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { runDemo } from "./demo.js";

const table = useDynamoTable("fulfilment", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName }).ensureTable(),
);

test("on DynamoDB the demo ships one order, compensates two, cancels one, each command once", async () => {
  const onDynamoDb = await runDemo(new DynamoDbSagaStore(table.options));
  const inMemory = await runDemo();
  expect(onDynamoDb.orders).toEqual(inMemory.orders);
  expect(onDynamoDb.orders.map((o) => o.status)).toEqual(["completed", "compensated", "compensated", "completed"]);
  expect(onDynamoDb.commands).toEqual(inMemory.commands);
  expect(onDynamoDb.fired.map((f) => [f.key, f.latenessMs, f.outcome])).toEqual([["o-3", 2000, "completed"]]);
  expect(onDynamoDb.stockLeft).toBe(3);
  expect([onDynamoDb.failures, onDynamoDb.needsAttention]).toEqual([[], 0]);
}, 60_000);
