/**
 * Batch calls that DynamoDB answers only in part: `BatchGetItem`'s `UnprocessedKeys` (throttling, or
 * a response over 16 MB) and `BatchWriteItem`'s `UnprocessedItems` (throttling). DynamoDB Local never
 * leaves anything unprocessed, so a fetch wrapper answers in part instead, on a real table.
 */
import { describe, expect, test } from "bun:test";
import { isServiceError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { createDynamoDbClient, dynamoDbStreamDeletion } from "./index.js";
import { inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

type Key = Record<string, unknown>;
const keyText = (key: Key) => JSON.stringify(key);

/**
 * A fetch whose BatchGetItem reads the first `processed(round)` keys of each request for real and
 * answers the rest as `UnprocessedKeys`, recording the keys of every request.
 */
function partialBatchGet(processed: (round: number) => number) {
  const requests: string[][] = [];
  const fetch: FetchFunction = async (request) => {
    const { operation, body } = await inspect(request);
    if (operation !== "BatchGetItem") return globalThis.fetch(request);
    const items = JSON.parse(body).RequestItems as Record<string, { Keys: Key[]; ConsistentRead: boolean }>;
    const [table, asked] = Object.entries(items)[0] as [string, { Keys: Key[]; ConsistentRead: boolean }];
    requests.push(asked.Keys.map(keyText));
    const take = Math.min(asked.Keys.length, processed(requests.length - 1));
    const direct = createDynamoDbClient(local.endpoint);
    const read =
      take === 0
        ? { Responses: { [table]: [] } }
        : await direct.send<{ Responses: Record<string, unknown[]> }>("BatchGetItem", {
            RequestItems: { [table]: { ...asked, Keys: asked.Keys.slice(0, take) } },
          });
    const rest = asked.Keys.slice(take);
    return Response.json({
      Responses: read.Responses,
      ...(rest.length > 0 ? { UnprocessedKeys: { [table]: { ...asked, Keys: rest } } } : {}),
    });
  };
  return { fetch, requests };
}

/**
 * A fetch whose BatchWriteItem applies the first `processed` requests of each call for real and answers
 * the rest as `UnprocessedItems`, recording how many requests each call carried.
 */
function partialBatchWrite(processed: number) {
  const sizes: number[] = [];
  const fetch: FetchFunction = async (request) => {
    const { operation, body } = await inspect(request);
    if (operation !== "BatchWriteItem") return globalThis.fetch(request);
    const [table, asked] = Object.entries(JSON.parse(body).RequestItems as Record<string, unknown[]>)[0] as [
      string,
      unknown[],
    ];
    sizes.push(asked.length);
    if (processed > 0) {
      await createDynamoDbClient(local.endpoint).send("BatchWriteItem", {
        RequestItems: { [table]: asked.slice(0, processed) },
      });
    }
    const rest = asked.slice(processed);
    return Response.json(rest.length > 0 ? { UnprocessedItems: { [table]: rest } } : {});
  };
  return { fetch, sizes };
}

describe("DynamoDB batch calls answered in part", () => {
  test("readAll re-requests exactly the UnprocessedKeys, with backoff while nothing is read, for as many rounds as they keep coming (mocked response: DynamoDB Local never throttles nor answers over 16 MB)", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const stream = `Order-${ulid()}`;
    const start = await writer.getLastGlobalPosition();
    await writer.appendToStream(
      stream,
      Array.from({ length: 12 }, (_, i) => ({ type: "Added", data: i })),
    );
    // Nothing read twice (throttled), then one key a round (as a response over 16 MB is cut): more
    // rounds than the client's attempts, each of them reading something.
    const partial = partialBatchGet((round) => (round < 2 ? 0 : 1));
    const reader = await local.store({ tableName, fetch: partial.fetch, retry: { baseDelayMs: 1, maxDelayMs: 4 } });
    const events = (await collect(reader.readAll({ after: start }))).filter((e) => e.streamId === stream);
    expect(events.map((e) => e.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // Each request after the first asks for what the one before left unprocessed, nothing else.
    for (let i = 1; i < partial.requests.length; i++) {
      const taken = i - 1 < 2 ? 0 : 1;
      expect(partial.requests[i]).toEqual((partial.requests[i - 1] ?? []).slice(taken));
    }
    expect(partial.requests.map((keys) => keys.length)).toEqual([
      12,
      12,
      ...Array.from({ length: 12 }, (_, i) => 12 - i),
    ]);
  });

  test("keys that stay unprocessed end the read in a retryable ServiceError saying it was throttled, not IncompleteCommit (mocked response: DynamoDB Local never throttles)", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const start = await writer.getLastGlobalPosition();
    await writer.appendToStream(`Order-${ulid()}`, [{ type: "Added", data: 1 }]);
    const partial = partialBatchGet(() => 0);
    const reader = await local.store({
      tableName,
      fetch: partial.fetch,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const error = await collect(reader.readAll({ after: start })).catch((e: unknown) => e);
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({
      service: "DynamoDB",
      operation: "BatchGetItem",
      serviceCode: "UnprocessedKeys",
      retryable: true,
    });
    expect((error as Error).message).toContain("throttled");
    // The client's attempts: one request and two more for what stayed unprocessed.
    expect(partial.requests).toHaveLength(3);
  });

  test("truncateStream sends UnprocessedItems again for as many rounds as each one removes something, more than the client's attempts (mocked response: DynamoDB Local never throttles)", async () => {
    const partial = partialBatchWrite(1);
    const store = await local.store({
      streamDeletion: dynamoDbStreamDeletion,
      fetch: partial.fetch,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const streamId = `Trimmed-${ulid()}`;
    await store.appendToStream(
      streamId,
      Array.from({ length: 27 }, (_, i) => ({ type: "Added", data: i })),
    );
    // Versions 2 to 26 in one batch (version 1 goes with the truncation's own write).
    const result = await store.truncateStream(streamId, { before: 27 });
    expect([result.changed, result.removed]).toEqual([true, 26]);
    expect(partial.sizes).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
    expect((await collect(store.readStream(streamId))).map((e) => e.version)).toEqual([27]);
  });

  test("items that stay unprocessed end truncateStream in a retryable ServiceError after the client's attempts, saying it was throttled (mocked response: DynamoDB Local never throttles)", async () => {
    const partial = partialBatchWrite(0);
    const store = await local.store({
      streamDeletion: dynamoDbStreamDeletion,
      fetch: partial.fetch,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const streamId = `Stuck-${ulid()}`;
    await store.appendToStream(streamId, [
      { type: "Added", data: 1 },
      { type: "Added", data: 2 },
      { type: "Added", data: 3 },
    ]);
    // Version 2 is left to the batch (version 1 goes with the truncation's own write).
    const error = await store.truncateStream(streamId, { before: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      service: "DynamoDB",
      operation: "BatchWriteItem",
      serviceCode: "UnprocessedItems",
      retryable: true,
    });
    expect((error as Error).message).toContain("throttled");
    expect(partial.sizes).toEqual([1, 1, 1]);
  });
});
