/**
 * Hard deletes and truncations that remove events in several BatchWriteItem requests, against
 * DynamoDB Local: a call that stops midway leaves a stream readers already treat as deleted, and a
 * repeat finishes it. DynamoDB Local neither throttles nor fails a batch, so both are mocks of the
 * answer (named so): the requests before and after are real.
 */
import { describe, expect, test } from "bun:test";
import { isStreamDeletedError, STREAM_LIFECYCLE_STREAM, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { createDynamoDbClient, dynamoDbStreamDeletion } from "./index.js";
import { inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/** A fetch that answers the `n`th BatchWriteItem requests itself (`answer`), passing the rest through. */
function batchWrites(answer: (call: number, body: string) => Response | undefined): FetchFunction {
  let call = 0;
  return async (request) => {
    const { operation, body } = await inspect(request);
    if (operation === "BatchWriteItem") {
      const mocked = answer(++call, body);
      if (mocked !== undefined) return mocked;
    }
    return globalThis.fetch(request);
  };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/x-amz-json-1.0" } });

async function streamItems(tableName: string, streamId: string) {
  const scan = await createDynamoDbClient(local.endpoint).send<{
    Items?: Record<string, { S?: string; N?: string }>[];
  }>("Scan", {
    TableName: tableName,
    ConsistentRead: true,
    FilterExpression: "pk = :s",
    ExpressionAttributeValues: { ":s": { S: streamId } },
  });
  return (scan.Items ?? []).map((item) => Number(item.sk?.N)).sort((a, b) => a - b);
}

/** The versions whose item still holds an event (removed ones stay as key-only items). */
async function eventItems(tableName: string, streamId: string) {
  const scan = await createDynamoDbClient(local.endpoint).send<{
    Items?: Record<string, { S?: string; N?: string }>[];
  }>("Scan", {
    TableName: tableName,
    ConsistentRead: true,
    FilterExpression: "pk = :s AND attribute_exists(#type)",
    ExpressionAttributeNames: { "#type": "type" },
    ExpressionAttributeValues: { ":s": { S: streamId } },
  });
  return (scan.Items ?? []).map((item) => Number(item.sk?.N)).sort((a, b) => a - b);
}

async function fill(
  store: { appendToStream: (id: string, events: { type: string; data: unknown }[]) => Promise<unknown> },
  streamId: string,
  events: number,
) {
  for (let done = 0; done < events; done += 30) {
    await store.appendToStream(
      streamId,
      Array.from({ length: Math.min(30, events - done) }, (_, n) => ({ type: "Noted", data: { n: done + n } })),
    );
  }
}

describe("DynamoDB stream deletion across several batches", () => {
  test("mock of a failed second BatchWriteItem: the half-deleted stream reads as deleted, the feed moves on, a repeat finishes", async () => {
    const healthy = await local.store({ gapTimeoutMs: 200, streamDeletion: dynamoDbStreamDeletion });
    const { tableName } = healthy.layout;
    const crashing = await local.store({
      tableName,
      streamDeletion: dynamoDbStreamDeletion,
      gapTimeoutMs: 200,
      fetch: batchWrites((call) =>
        call === 2
          ? json(400, { __type: "com.amazon.coral.validate#ValidationException", message: "mocked crash" })
          : undefined,
      ),
    });
    const streamId = `Erased-${ulid()}`;
    const other = `Kept-${ulid()}`;
    await fill(healthy, streamId, 60);
    await healthy.appendToStream(other, [{ type: "Kept", data: 1 }]);

    await expect(crashing.deleteStream(streamId, { mode: "hard" })).rejects.toThrow();
    // Midway: the first batch is emptied, the rest still stored, and every reader treats it as deleted.
    const left = await eventItems(tableName, streamId);
    expect(left.length).toBeGreaterThan(2);
    expect(left.length).toBeLessThan(60);
    expect(await collect(healthy.readStream(streamId))).toEqual([]);
    expect(await healthy.getStreamVersion(streamId)).toBe(0);
    const refused = await healthy.appendToStream(streamId, [{ type: "Noted", data: {} }]).catch((e) => e);
    expect(isStreamDeletedError(refused)).toBe(true);
    // Its $stream-deleted event is not recorded yet: an empty append is refused from the mark all the same.
    const empty = await healthy.appendToStream(streamId, [], { expectedVersion: "no-stream" }).catch((e) => e);
    expect([isStreamDeletedError(empty), empty?.mode]).toEqual([true, "hard"]);
    await healthy.appendToStream(other, [{ type: "Kept", data: 2 }]);
    const midway = await collect(healthy.readAll());
    expect(midway.filter((e) => e.streamId === streamId)).toEqual([]);
    expect(midway.filter((e) => e.streamId === other).map((e) => e.data)).toEqual([1, 2]);

    const finished = await healthy.deleteStream(streamId, { mode: "hard" });
    expect([finished.changed, finished.removed, finished.version]).toEqual([true, 60, 60]);
    // Every slot stays taken (1-60 key-only or the stub, 61 the fence), none holds an event.
    expect(await streamItems(tableName, streamId)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    expect(await eventItems(tableName, streamId)).toEqual([]);
    const again = await healthy.deleteStream(streamId, { mode: "hard" });
    expect(again.changed).toBe(false);
    const recorded = (await collect(healthy.readStream(STREAM_LIFECYCLE_STREAM))).filter(
      (e) => (e.data as { streamId: string }).streamId === streamId,
    );
    expect(recorded.map((e) => e.type)).toEqual(["$stream-deleted"]);
    const after = await collect(healthy.readAll());
    expect(after.filter((e) => e.streamId === streamId)).toEqual([]);
    expect(after.filter((e) => e.streamId === other).length).toBe(2);
  }, 60_000);

  test("mock of throttling: items BatchWriteItem leaves unprocessed are sent again until removed", async () => {
    const store = await local.store({
      streamDeletion: dynamoDbStreamDeletion,
      fetch: batchWrites((call, body) => {
        if (call > 3) return undefined;
        // DynamoDB answers a throttled batch with 200 and the requests it did not apply.
        const { RequestItems } = JSON.parse(body) as { RequestItems: Record<string, unknown[]> };
        return json(200, { UnprocessedItems: RequestItems });
      }),
    });
    const streamId = `Trimmed-${ulid()}`;
    await fill(store, streamId, 40);
    const result = await store.truncateStream(streamId, { before: 35 });
    expect([result.changed, result.removed]).toEqual([true, 34]);
    expect(await streamItems(store.layout.tableName, streamId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await eventItems(store.layout.tableName, streamId)).toEqual([35, 36, 37, 38, 39, 40]);
    expect((await collect(store.readStream(streamId))).map((e) => e.version)).toEqual([35, 36, 37, 38, 39, 40]);
    expect((await collect(store.readStream(streamId, { direction: "backward" }))).map((e) => e.version)).toEqual([
      40, 39, 38, 37, 36, 35,
    ]);
    // From the start with a limit: the first page holds only key-only items below the cut, then the
    // read queries again from the cut (two queries, not one per page of key-only items).
    let queries = 0;
    const counted = await local.store({
      tableName: store.layout.tableName,
      streamDeletion: dynamoDbStreamDeletion,
      fetch: async (request) => {
        if ((await inspect(request)).operation === "Query") queries++;
        return globalThis.fetch(request);
      },
    });
    expect((await collect(counted.readStream(streamId, { maxCount: 2 }))).map((e) => e.version)).toEqual([35, 36]);
    expect(queries).toBe(2);
    // From a version below the cut (the state read beside the page) and from the cut on.
    expect((await collect(store.readStream(streamId, { fromVersion: 5, maxCount: 2 }))).map((e) => e.version)).toEqual([
      35, 36,
    ]);
    expect((await collect(store.readStream(streamId, { fromVersion: 39 }))).map((e) => e.version)).toEqual([39, 40]);
    expect(
      (await collect(store.readStream(streamId, { direction: "backward", fromVersion: 36 }))).map((e) => e.version),
    ).toEqual([36, 35]);
    const feed = (await collect(store.readAll())).filter((e) => e.streamId === streamId);
    expect(feed.map((e) => e.version)).toEqual([35, 36, 37, 38, 39, 40]);
  }, 60_000);
});
