/**
 * Reading Castore items that have no JSON reading, through a fake client that answers as DynamoDB
 * would (no table needed): the error names the aggregate's stream, the version and which attribute,
 * never the stored contents, map keys included.
 */
import { expect, test } from "bun:test";
import { isEventCorruptError } from "../../src/index.js";
import type { AwsJsonClient } from "../aws/index.js";
import { castoreDynamoDbSource } from "./index.js";

const at = "2024-01-01T00:00:00.000Z";

function sourceOf(attributes: Record<string, unknown>) {
  const client = {
    async send(_operation: string, input: { IndexName?: string }) {
      const key = { aggregateId: { S: "CARTS#c1" } };
      return input.IndexName !== undefined
        ? { Items: [{ ...key, timestamp: { S: at } }] }
        : { Items: [{ ...key, version: { N: "1" }, type: { S: "ItemAdded" }, timestamp: { S: at }, ...attributes }] };
    },
  } as unknown as AwsJsonClient;
  return castoreDynamoDbSource(client, { tableName: "castore", eventStoreId: "CARTS" });
}

async function failure(attributes: Record<string, unknown>): Promise<unknown> {
  try {
    for await (const _ of sourceOf(attributes).batches(0, 10));
  } catch (error) {
    return error;
  }
  return undefined;
}

test("a payload or metadata with no JSON reading: which attribute and how deep, never a map key", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { payload: { M: { "secret-jane@example.com": { B: "AAEC" } } } },
      "its payload: a value nested 1 level deep is binary",
    ],
    [
      { metadata: { M: { "secret-acct": { L: [{ N: "123456789012345678901234567890" }] } } } },
      "its metadata: a value nested 2 levels deep is beyond ±(2^53 - 1)",
    ],
  ];
  for (const [attributes, reason] of cases) {
    const error = await failure(attributes);
    expect(isEventCorruptError(error)).toBe(true);
    expect(error).toMatchObject({ streamId: "CARTS-c1", version: 1 });
    expect((error as Error).message).toContain(reason);
    expect((error as Error).message).not.toContain("secret-");
  }
});
