import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ulid } from "../../src/index.js";
import { registerContract, streamDeletionContract } from "../../src/testing/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { createDynamoDbClient, DynamoDbEventStore } from "./index.js";

let local: DynamoDbEndpoint;
const tables: string[] = [];

beforeAll(async () => {
  local = await ensureDynamoDb();
}, 120_000);

afterAll(async () => {
  const client = createDynamoDbClient(local);
  for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
});

async function tableFor(globalFeed: boolean): Promise<string> {
  const tableName = `deletion_${ulid()}`;
  tables.push(tableName);
  await new DynamoDbEventStore({ ...local, tableName, globalFeed }).ensureTable();
  return tableName;
}

for (const globalFeed of [true, false]) {
  const label = globalFeed ? "with the global feed" : "without the global feed";
  let tableName = "";
  describe(`DynamoDbEventStore stream deletion ${label}`, () => {
    beforeAll(async () => {
      tableName = await tableFor(globalFeed);
    }, 60_000);
    if (globalFeed) {
      registerContract(
        streamDeletionContract({
          name: `DynamoDbEventStore stream deletion contract (DynamoDB Local, ${label})`,
          create: (options) =>
            new DynamoDbEventStore({ ...local, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
        }),
        { describe, test },
      );
    }

    test("a raw Scan after a hard delete finds no item of the stream but its tombstone", async () => {
      const store = new DynamoDbEventStore({ ...local, tableName, globalFeed });
      const streamId = `Erased-${ulid()}`;
      for (let i = 0; i < 3; i++) {
        await store.appendToStream(
          streamId,
          Array.from({ length: 20 }, (_, n) => ({ type: "Noted", data: { n: i * 20 + n } })),
        );
      }
      await store.truncateStream(streamId, { before: 10 });
      await store.deleteStream(streamId, { mode: "soft" });
      const result = await store.deleteStream(streamId, { mode: "hard" });
      expect(result.removed).toBe(51);
      const scan = await createDynamoDbClient(local).send<{ Items?: Record<string, { S?: string; N?: string }>[] }>(
        "Scan",
        {
          TableName: tableName,
          ConsistentRead: true,
          FilterExpression: "pk = :s",
          ExpressionAttributeValues: { ":s": { S: streamId } },
        },
      );
      const items = scan.Items ?? [];
      expect(items.map((item) => [item.sk?.N, item.del?.S, item.type])).toEqual([["1", "hard", undefined]]);
      await expect(
        store.appendToStream(streamId, [{ type: "Noted", data: {} }], { expectedVersion: "no-stream" }),
      ).rejects.toMatchObject({
        code: "STREAM_DELETED",
      });
    });
  });
}
