/**
 * DynamoDB Local refuses an item over 400 KB with a ValidationException ("Item size has exceeded the
 * maximum allowed size"); through the client, as through the stores, that is a PayloadTooLargeError,
 * the error the stores' own size checks throw, and nothing is written.
 */
import { describe, expect, test } from "bun:test";
import { isPayloadTooLargeError, type PayloadTooLargeError } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { MAX_ITEM_BYTES } from "./index.js";

/** A bare table keyed by `pk` alone: the requests below are raw DynamoDB calls, not a store's. */
const table = useDynamoTable("test_big", ({ client, tableName }) =>
  client.send("CreateTable", {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  }),
);

describe("an item DynamoDB refuses as over 400 KB", () => {
  test("PutItem, UpdateItem, BatchWriteItem and TransactWriteItems fail with PayloadTooLargeError; nothing is written", async () => {
    const { client, tableName: name } = table;
    const big = { S: "x".repeat(MAX_ITEM_BYTES + 1024) };
    const calls: [string, unknown][] = [
      ["PutItem", { TableName: name, Item: { pk: { S: "put" }, d: big } }],
      [
        "UpdateItem",
        {
          TableName: name,
          Key: { pk: { S: "update" } },
          UpdateExpression: "SET d = :d",
          ExpressionAttributeValues: { ":d": big },
        },
      ],
      ["BatchWriteItem", { RequestItems: { [name]: [{ PutRequest: { Item: { pk: { S: "batch" }, d: big } } }] } }],
      [
        "TransactWriteItems",
        {
          TransactItems: [
            { Put: { TableName: name, Item: { pk: { S: "small" }, d: { S: "x" } } } },
            { Put: { TableName: name, Item: { pk: { S: "transact" }, d: big } } },
          ],
        },
      ],
    ];
    for (const [operation, input] of calls) {
      const error = await client.send(operation, input).catch((e: unknown) => e);
      expect(isPayloadTooLargeError(error)).toBe(true);
      expect((error as PayloadTooLargeError).limit).toBe(MAX_ITEM_BYTES);
      expect((error as Error).message).toStartWith(`An item of DynamoDB ${operation} is over DynamoDB's limit`);
      expect((error as Error).message).not.toContain("Item size");
    }
    const { Items } = await client.send<{ Items: unknown[] }>("Scan", { TableName: name, ConsistentRead: true });
    expect(Items).toEqual([]);
  });
});
