import { beforeAll, describe, expect, test } from "bun:test";
import { isConcurrencyError, isStreamDeletedError, ulid } from "../../src/index.js";
import { collect, registerContract, streamDeletionContract } from "../../src/testing/index.js";
import { checkDeletionLookups } from "../../test/differential/deletion-lookups.ts";
import { probeDeletedStreams } from "../../test/tenancy/deletion-probes.ts";
import type { FetchFunction } from "../aws/index.js";
import { createDynamoDbClient, DynamoDbEventStore, dynamoDbStreamDeletion } from "./index.js";
import { useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/** A new table of the event store's layout (dropped at the end): its name. */
async function tableFor(globalFeed: boolean): Promise<string> {
  return (await local.store({ globalFeed })).layout.tableName;
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
            new DynamoDbEventStore({
              ...local.endpoint,
              ...options,
              tableName,
              globalFeed,
              gapTimeoutMs: 200,
              streamDeletion: dynamoDbStreamDeletion,
            }),
        }),
        { describe, test },
      );
    }

    test(
      "streamDeletionEvent names the last $stream-deleted while the stream is deleted, after generated histories (property)",
      () =>
        checkDeletionLookups({
          create: () =>
            new DynamoDbEventStore({
              ...local.endpoint,
              tableName,
              globalFeed,
              streamDeletion: dynamoDbStreamDeletion,
            }),
          numRuns: 25,
        }),
      120_000,
    );

    test("a raw Scan after a hard delete finds only key-only items, the stub of version 1 and the fence", async () => {
      const store = new DynamoDbEventStore({
        ...local.endpoint,
        tableName,
        globalFeed,
        streamDeletion: dynamoDbStreamDeletion,
      });
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
      const scan = await createDynamoDbClient(local.endpoint).send<{
        Items?: Record<string, { S?: string; N?: string }>[];
      }>("Scan", {
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: "pk = :s",
        ExpressionAttributeValues: { ":s": { S: streamId } },
      });
      const items = (scan.Items ?? []).sort((a, b) => Number(a.sk?.N) - Number(b.sk?.N));
      // Every slot stays taken (no append can re-create an event in it), none holds data.
      expect(items.map((item) => Number(item.sk?.N))).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
      // The stub keeps the state, and where in $streams the deletion's event is.
      expect(items[0]).toEqual({
        pk: { S: streamId },
        sk: { N: "1" },
        del: { S: "hard" },
        dv: { N: "60" },
        delev: { N: String(result.event?.version) },
      });
      for (const item of items.slice(1, 60)) expect(Object.keys(item).sort()).toEqual(["pk", "sk"]);
      expect(items[60]).toEqual({ pk: { S: streamId }, sk: { N: "61" }, del: { S: "hard" }, dv: { N: "60" } });
      await expect(
        store.appendToStream(streamId, [{ type: "Noted", data: {} }], { expectedVersion: "no-stream" }),
      ).rejects.toMatchObject({
        code: "STREAM_DELETED",
      });
    });

    test("without the streamDeletion option the store reports no capability and changes nothing", async () => {
      const plain = new DynamoDbEventStore({ ...local.endpoint, tableName, globalFeed });
      expect(plain.capabilities.streamDeletion).toBe(false);
      const streamId = `Plain-${ulid()}`;
      await plain.appendToStream(streamId, [{ type: "Noted", data: {} }]);
      const refused = await plain.deleteStream(streamId, { mode: "hard" }).catch((e) => e);
      expect(refused?.code).toBe("STREAM_DELETION_NOT_SUPPORTED");
      expect((await collect(plain.readStream(streamId))).length).toBe(1);
    });

    test("a store without the option reads past the key-only items another store's truncation and hard delete leave", async () => {
      const deleting = new DynamoDbEventStore({
        ...local.endpoint,
        tableName,
        globalFeed,
        streamDeletion: dynamoDbStreamDeletion,
      });
      const plain = new DynamoDbEventStore({ ...local.endpoint, tableName, globalFeed });
      const truncated = `Cut-${ulid()}`;
      await deleting.appendToStream(
        truncated,
        [1, 2, 3, 4, 5].map((i) => ({ type: "Noted", data: { i } })),
      );
      await deleting.truncateStream(truncated, { before: 4 });
      const versions = async (options?: Parameters<typeof plain.readStream>[1]) =>
        (await collect(plain.readStream(truncated, options))).map((event) => event.version);
      expect(await versions()).toEqual([4, 5]);
      expect(await versions({ fromVersion: 2 })).toEqual([4, 5]);
      expect(await versions({ direction: "backward" })).toEqual([5, 4]);
      expect(await versions({ direction: "backward", fromVersion: 4 })).toEqual([4]);
      const hard = `Hard-${ulid()}`;
      await deleting.appendToStream(
        hard,
        [1, 2, 3].map((i) => ({ type: "Noted", data: { i } })),
      );
      await deleting.deleteStream(hard, { mode: "hard" });
      expect(await collect(plain.readStream(hard))).toEqual([]);
      expect(await collect(plain.readStream(hard, { direction: "backward" }))).toEqual([]);
    });

    async function rawItems(streamId: string) {
      const scan = await createDynamoDbClient(local.endpoint).send<{
        Items?: Record<string, { S?: string; N?: string }>[];
      }>("Scan", {
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: "pk = :s",
        ExpressionAttributeValues: { ":s": { S: streamId } },
      });
      return (scan.Items ?? [])
        .map((item) => ({ version: Number(item.sk?.N), data: item.type !== undefined }))
        .sort((a, b) => a.version - b.version);
    }

    /**
     * Two one-event appends through the stale store (it knows version 2: its next one-event append is
     * the shortcut, a put into slot 3 without the version check), then a third through another store.
     */
    async function staleWriter(streamId: string) {
      // Without `streamDeletion`: its appends obey deletions all the same.
      const stale = new DynamoDbEventStore({ ...local.endpoint, tableName, globalFeed });
      for (let i = 1; i <= 2; i++) await stale.appendToStream(streamId, [{ type: "Noted", data: { i } }]);
      const other = new DynamoDbEventStore({
        ...local.endpoint,
        tableName,
        globalFeed,
        streamDeletion: dynamoDbStreamDeletion,
      });
      await other.appendToStream(streamId, [{ type: "Noted", data: { i: 3 } }], { expectedVersion: 2 });
      return { stale, other };
    }

    test("a stale writer's shortcut append after another store's truncation is a conflict and re-creates nothing", async () => {
      const streamId = `Stale-${ulid()}`;
      const { stale, other } = await staleWriter(streamId);
      await other.appendToStream(streamId, [{ type: "Noted", data: { i: 4 } }], { expectedVersion: 3 });
      await other.truncateStream(streamId, { before: 4 });
      // Slot 3 held a removed event: the stale store's shortcut put into it finds it taken.
      const refused = await stale
        .appendToStream(streamId, [{ type: "Noted", data: { i: 0 } }], { expectedVersion: 2 })
        .catch((e) => e);
      expect(isConcurrencyError(refused)).toBe(true);
      // Slots 1-3 are key-only (version 1 with the cut), 4 is the kept event: nothing written back.
      expect(await rawItems(streamId)).toEqual([
        { version: 1, data: false },
        { version: 2, data: false },
        { version: 3, data: false },
        { version: 4, data: true },
      ]);
      expect((await collect(other.readStream(streamId))).map((e) => e.data)).toEqual([{ i: 4 }]);
      // At its head, the stale store appends after the cut as any writer does.
      await stale.appendToStream(streamId, [{ type: "Noted", data: { i: 5 } }], { expectedVersion: 4 });
      expect((await collect(other.readStream(streamId))).map((e) => e.version)).toEqual([4, 5]);
    });

    for (const mode of ["hard", "soft"] as const) {
      test(`a stale writer's shortcut append after another store's ${mode} delete is refused with StreamDeletedError and re-creates nothing`, async () => {
        const streamId = `Stale-${ulid()}`;
        const { stale, other } = await staleWriter(streamId);
        await other.deleteStream(streamId, { mode });
        // At 2: the shortcut into slot 3; at 3: a put into the fence's slot; "any": the head read.
        for (const expectedVersion of [2, 3, "any"] as const) {
          const refused = await stale
            .appendToStream(streamId, [{ type: "Noted", data: { i: 0 } }], { expectedVersion })
            .catch((e) => e);
          expect(isStreamDeletedError(refused)).toBe(true);
        }
        const items = await rawItems(streamId);
        // Soft: the events and the fence at 4; hard: key-only items and the fence. No event at 4 or above.
        expect(items.map((item) => item.version)).toEqual([1, 2, 3, 4]);
        expect(items.map((item) => item.data)).toEqual(
          mode === "soft" ? [true, true, true, false] : [false, false, false, false],
        );
      });
    }
  });
}

describe("the tenant layer's probe of a deleted stream on DynamoDB", () => {
  test("a stream that shows no event (never was, soft- or hard-deleted long ago) is probed from its first item: at most one item of $streams read per probe, whatever the history", async () => {
    const tableName = await tableFor(true);
    let lifecycleItems = 0;
    // The items of the $streams partition that Queries return: what reading it back costs.
    const fetch: FetchFunction = async (request) => {
      const body = await request.clone().text();
      const response = await globalThis.fetch(request);
      if (body.includes('"$streams"') && (request.headers.get("x-amz-target") ?? "").endsWith(".Query")) {
        lifecycleItems += ((await response.clone().json()) as { Count?: number }).Count ?? 0;
      }
      return response;
    };
    const store = new DynamoDbEventStore({
      ...local.endpoint,
      tableName,
      fetch,
      streamDeletion: dynamoDbStreamDeletion,
    });
    // Ten probe calls, of which seven reach a deleted stream's record: one item each.
    expect(await probeDeletedStreams(store, 60, () => lifecycleItems)).toBeLessThanOrEqual(7);
  }, 120_000);
});
