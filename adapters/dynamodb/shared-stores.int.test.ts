import { describe, expect, test } from "bun:test";
import { ErrorCode, PayloadTooLargeError, ulid, ValidationError } from "../../src/index.js";
import { dedupStoreContract, idempotencyStoreContract, registerContract } from "../../src/testing/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import {
  DEDUP_PARTITION_PREFIX,
  DynamoDbDedupStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  IDEMPOTENCY_PARTITION_PREFIX,
  MAX_ITEM_BYTES,
  TTL_ATTRIBUTE,
} from "./index.js";

/** The event store's table, which the stores share (with the dedup store's TTL). */
const shared = useDynamoTable("shared_stores", async ({ endpoint, tableName }) => {
  await new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable();
  await new DynamoDbDedupStore({ ...endpoint, tableName }).ensureTimeToLive();
});
/** A table of the stores' own, with other key names. */
const own = useDynamoTable("shared_stores_own", ({ endpoint, tableName }) =>
  new DynamoDbIdempotencyStore({ ...endpoint, tableName, partitionKey: "PK", sortKey: "SK" }).ensureTable(),
);

registerContract(
  dedupStoreContract({
    name: "DynamoDbDedupStore contract (DynamoDB Local, in the event store's table)",
    create: (settings) => new DynamoDbDedupStore({ ...shared.endpoint, ...settings, tableName: shared.tableName }),
  }),
  { describe, test },
);
registerContract(
  dedupStoreContract({
    name: "DynamoDbDedupStore contract (DynamoDB Local, a table of its own with other key names)",
    create: (settings) =>
      new DynamoDbDedupStore({
        ...own.endpoint,
        ...settings,
        tableName: own.tableName,
        partitionKey: "PK",
        sortKey: "SK",
      }),
  }),
  { describe, test },
);
registerContract(
  idempotencyStoreContract({
    name: "DynamoDbIdempotencyStore contract (DynamoDB Local, in the event store's table)",
    create: (settings) =>
      new DynamoDbIdempotencyStore({ ...shared.endpoint, ...settings, tableName: shared.tableName }),
  }),
  { describe, test },
);
registerContract(
  idempotencyStoreContract({
    name: "DynamoDbIdempotencyStore contract (DynamoDB Local, a table of its own with other key names)",
    create: (settings) =>
      new DynamoDbIdempotencyStore({
        ...own.endpoint,
        ...settings,
        tableName: own.tableName,
        partitionKey: "PK",
        sortKey: "SK",
      }),
  }),
  { describe, test },
);

describe("DynamoDB dedup and idempotency stores", () => {
  test("items carry a DynamoDB TTL in epoch seconds, and the table's TTL is on over it", async () => {
    const id = ulid();
    const now = 1_700_000_000_500;
    await new DynamoDbDedupStore({ ...shared.options, now: () => now, ttlMs: 1000 }).add(id);
    const client = shared.client;
    const item = await client.send<{ Item?: Record<string, { N?: string }> }>("GetItem", {
      TableName: shared.tableName,
      Key: { pk: { S: DEDUP_PARTITION_PREFIX + id }, sk: { N: "0" } },
    });
    expect(item.Item?.[TTL_ATTRIBUTE]?.N).toBe("1700000002");
    const ttl = await client.send<{ TimeToLiveDescription?: { AttributeName?: string } }>("DescribeTimeToLive", {
      TableName: shared.tableName,
    });
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(TTL_ATTRIBUTE);
  });

  test("a claim whose PutItem was written but whose answer was lost is still this request's claim", async () => {
    let lose = 0;
    const store = new DynamoDbIdempotencyStore({
      ...shared.endpoint,
      tableName: shared.tableName,
      // The first PutItem reaches DynamoDB, then the connection drops before its answer: the client retries.
      fetch: async (request) => {
        const put = request.headers.get("x-amz-target")?.endsWith(".PutItem") === true;
        const response = await fetch(request);
        if (put && lose-- > 0) {
          await response.arrayBuffer();
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        }
        return response;
      },
    });
    const key = ulid();
    lose = 1;
    const claim = await store.claim(key, "fp");
    expect(claim).toEqual({ state: "claimed", token: expect.any(String) });
    // Another request still sees it in progress, and the claim completes.
    expect(await store.claim(key, "fp")).toEqual({ state: "in-progress", fingerprint: "fp" });
    lose = 1;
    await store.complete(
      key,
      "fp",
      { status: 201, body: "{}", contentType: "application/json" },
      (claim as { token: string }).token,
    );
    expect((await store.claim(key, "fp")).state).toBe("completed");
  });

  test("a response whose item would be over 400 KB is a PayloadTooLargeError before any request; the claim stays", async () => {
    const sent: string[] = [];
    const store = new DynamoDbIdempotencyStore({
      ...shared.endpoint,
      tableName: shared.tableName,
      fetch: (request) => {
        sent.push(request.headers.get("x-amz-target")?.split(".")[1] ?? "");
        return fetch(request);
      },
    });
    const key = ulid();
    const claim = (await store.claim(key, "fp")) as { token: string };
    // 140,000 "€" are 140,000 UTF-16 units but 420,000 UTF-8 bytes, which is what DynamoDB counts.
    for (const body of ["x".repeat(MAX_ITEM_BYTES), "€".repeat(140_000)]) {
      sent.length = 0;
      const error = await store
        .complete(key, "fp", { status: 200, body, contentType: "application/json" }, claim.token)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect(error).toMatchObject({ code: ErrorCode.PayloadTooLarge, limit: MAX_ITEM_BYTES });
      expect((error as PayloadTooLargeError).size).toBeGreaterThan(MAX_ITEM_BYTES);
      expect(sent).toEqual([]);
    }
    expect(await store.claim(key, "fp")).toEqual({ state: "in-progress", fingerprint: "fp" });
    // A response that fits, with room to spare for the key and the other attributes, is kept.
    const fits = "y".repeat(MAX_ITEM_BYTES - 1_000);
    await store.complete(key, "fp", { status: 200, body: fits, contentType: "application/json" }, claim.token);
    expect(await store.claim(key, "fp")).toMatchObject({ state: "completed", response: { body: fits } });
  });

  test("the event store's stream reads never see dedup or idempotency items", async () => {
    const events = new DynamoDbEventStore(shared.options);
    const id = `s-${ulid()}`;
    await new DynamoDbDedupStore(shared.options).add(id);
    // The only way a stream read could reach those items is a stream id equal to their partition:
    // such ids are refused before any request, for reads and appends alike.
    for (const partition of [DEDUP_PARTITION_PREFIX + id, `${IDEMPOTENCY_PARTITION_PREFIX}k-${id}`]) {
      await expect(events.getStreamVersion(partition)).rejects.toThrow(ValidationError);
      await expect(
        (async () => {
          for await (const _ of events.readStream(partition)) return;
        })(),
      ).rejects.toThrow(ValidationError);
      await expect(events.appendToStream(partition, [{ type: "Added", data: {} }])).rejects.toThrow(ValidationError);
    }
    const stream = `Cart-${ulid()}`;
    await events.appendToStream(stream, [{ type: "Added", data: {} }]);
    const read = [];
    for await (const event of events.readStream(stream)) read.push(event.type);
    expect(read).toEqual(["Added"]);
  });

  test("bad options are a ValidationError before any request", () => {
    expect(() => new DynamoDbDedupStore({ ...shared.options, ttlMs: 0 })).toThrow(ValidationError);
    // null meant the default 14 days here, never expire in memory: refused on every dedup store now.
    expect(() => new DynamoDbDedupStore({ ...shared.options, ttlMs: null as never })).toThrow(ValidationError);
    expect(() => new DynamoDbIdempotencyStore({ ...shared.options, inProgressTtlMs: -1 })).toThrow(ValidationError);
    expect(() => new DynamoDbIdempotencyStore({ ...shared.options, partitionKey: "fp" })).toThrow(ValidationError);
    expect(() => new DynamoDbDedupStore({ ...shared.endpoint, tableName: "x" })).toThrow(ValidationError);
    expect(() => new DynamoDbDedupStore(undefined as never)).toThrow(ValidationError);
  });
});
