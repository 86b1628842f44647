import { describe, expect, test } from "bun:test";
import { type SnapshotSerializer, ulid } from "../../src/index.js";
import { collect, registerContract, snapshotStoreContract } from "../../src/testing/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { checkRetentionAgainstModel, storedVersions } from "../../test/snapshots/retention-model.ts";
import type { FetchFunction } from "../aws/index.js";
import {
  DynamoDbEventStore,
  DynamoDbSnapshotStore,
  type DynamoDbSnapshotStoreOptions,
  MAX_ITEM_BYTES,
  SNAPSHOT_PARTITION_PREFIX,
} from "./index.js";
import { inspect } from "./local.fixture.test.ts";

/** The event store's table, which the snapshots share. */
const shared = useDynamoTable("snapshots", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);
/** A table of the snapshots' own, with other key names. */
const own = useDynamoTable("snapshots_own", ({ endpoint, tableName }) =>
  new DynamoDbSnapshotStore({ ...endpoint, tableName, partitionKey: "PK", sortKey: "SK" }).ensureTable(),
);

const store = (options: Partial<DynamoDbSnapshotStoreOptions> = {}) =>
  new DynamoDbSnapshotStore({ ...shared.options, ...options });

registerContract(
  snapshotStoreContract({
    name: "DynamoDbSnapshotStore contract (DynamoDB Local, in the event store's table)",
    create: (options) => new DynamoDbSnapshotStore({ ...options, ...shared.endpoint, tableName: shared.tableName }),
  }),
  { describe, test },
);

registerContract(
  snapshotStoreContract({
    name: "DynamoDbSnapshotStore contract (DynamoDB Local, a table of its own with other key names)",
    create: (options) =>
      new DynamoDbSnapshotStore({
        ...options,
        ...own.endpoint,
        tableName: own.tableName,
        partitionKey: "PK",
        sortKey: "SK",
      }),
  }),
  { describe, test },
);

/** The raw item, straight from DynamoDB. */
async function item(streamId: string, version: number) {
  const result = await shared.client.send<{ Item?: Record<string, Record<string, string>> }>("GetItem", {
    TableName: shared.tableName,
    Key: { pk: { S: SNAPSHOT_PARTITION_PREFIX + streamId }, sk: { N: String(version) } },
    ConsistentRead: true,
  });
  return result.Item;
}

/** A fetch that records the DynamoDB operations it passes on. */
function recording() {
  const operations: string[] = [];
  const fetch: FetchFunction = async (request) => {
    operations.push((await inspect(request)).operation);
    return globalThis.fetch(request);
  };
  return { fetch, operations };
}

const raw = (name = "raw"): SnapshotSerializer => ({
  name,
  serialize: (value) => value as Uint8Array,
  deserialize: (bytes) => bytes,
});

describe("DynamoDbSnapshotStore", () => {
  test("shares the event store's table without touching its streams or its global feed", async () => {
    const events = new DynamoDbEventStore({ ...shared.options, gapTimeoutMs: 200 });
    const stream = `Order-${ulid()}`;
    const before = await events.getLastGlobalPosition();
    await events.appendToStream(stream, [
      { type: "Placed", data: { n: 1 } },
      { type: "Paid", data: { n: 2 } },
    ]);
    const snapshots = store({ client: events.client, keepLast: 5 });
    for (const version of [1, 2]) await snapshots.save({ streamId: stream, version, state: { version } });
    await events.appendToStream(stream, [{ type: "Shipped", data: { n: 3 } }], { expectedVersion: 2 });
    expect(await events.getStreamVersion(stream)).toBe(3);
    expect((await collect(events.readStream(stream))).map((e) => e.type)).toEqual(["Placed", "Paid", "Shipped"]);
    expect((await collect(events.readStream(stream, { direction: "backward" }))).map((e) => e.version)).toEqual([
      3, 2, 1,
    ]);
    const feed = await collect(events.readAll({ after: before }));
    expect(feed.filter((e) => e.streamId === stream).map((e) => e.version)).toEqual([1, 2, 3]);
    expect(feed.every((e) => !e.streamId.startsWith(SNAPSHOT_PARTITION_PREFIX))).toBe(true);
    expect(await storedVersions(snapshots, stream)).toEqual([2, 1]);
  });

  test("payloads are gzip-compressed Binary attributes by default; compression: false turns it off", async () => {
    const id = `Compressed-${ulid()}`;
    const state = { lines: Array.from({ length: 200 }, (_, i) => ({ sku: `SKU-${i}`, qty: i })) };
    const saved = await store().save({ streamId: id, version: 1, state });
    expect(saved.encoding).toBe("json+gzip");
    const stored = await item(id, 1);
    expect(stored?.enc?.S).toBe("json+gzip");
    const bytes = Uint8Array.from(atob(stored?.data?.B ?? ""), (c) => c.charCodeAt(0));
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(bytes.byteLength).toBe(saved.storedBytes);
    expect(stored?.ts?.S).toBe((await store().load(id))?.createdAt as string);
    expect((await store({ compression: false }).save({ streamId: id, version: 2, state })).encoding).toBe("json");
  });

  test("the payload limit leaves room for the widest other attributes: a payload at it is stored", async () => {
    const s = store({ serializer: raw("r".repeat(64)), compression: false });
    const limit = s.capabilities.maxPayloadBytes as number;
    expect(limit).toBeLessThan(MAX_ITEM_BYTES);
    expect(limit).toBeGreaterThan(MAX_ITEM_BYTES - 2048);
    // The longest stream id at 3 UTF-8 bytes a character.
    const id = `${"€".repeat(480)}-${ulid()}`;
    const payload = crypto.getRandomValues(new Uint8Array(limit).subarray(0, 65_536));
    const full = new Uint8Array(limit);
    for (let i = 0; i < limit; i += payload.length) full.set(payload.subarray(0, limit - i), i);
    await s.save({ streamId: id, version: 2_000_000_000_000, state: full });
    expect((await s.load<Uint8Array>(id))?.state).toEqual(full);
  });

  test("a payload over the limit is a PayloadTooLargeError before any request; nothing is written", async () => {
    const { fetch, operations } = recording();
    const s = store({ serializer: raw(), compression: false, fetch });
    const limit = s.capabilities.maxPayloadBytes as number;
    const id = `Large-${ulid()}`;
    const error = await s.save({ streamId: id, version: 1, state: new Uint8Array(limit + 1) }).catch((e) => e);
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", size: limit + 1, limit });
    expect(operations).toEqual([]);
    expect(await item(id, 1)).toBeUndefined();
    // With compression (the default), the limit applies to the compressed bytes.
    const zipped = await store().save({ streamId: id, version: 1, state: { zeros: new Uint8Array(limit * 2) } });
    expect(zipped.storedBytes).toBeLessThan(limit);
  });

  test("retention agrees with the in-memory store on random save sequences (property)", async () => {
    await checkRetentionAgainstModel((options) => store(options), 15);
  }, 120_000);

  test("pruning and delete go in batches of 25", async () => {
    const { fetch, operations } = recording();
    const id = `Many-${ulid()}`;
    const all = store({ keepLast: Number.POSITIVE_INFINITY });
    await Promise.all(Array.from({ length: 30 }, (_, i) => all.save({ streamId: id, version: i + 1, state: { i } })));
    const result = await store({ keepLast: 1, fetch }).save({ streamId: id, version: 31, state: {} });
    expect(result.pruned).toBe(30);
    expect(operations.filter((op) => op === "BatchWriteItem")).toHaveLength(2);
    expect(await storedVersions(all, id)).toEqual([31]);
    await Promise.all(Array.from({ length: 27 }, (_, i) => all.save({ streamId: id, version: i + 1, state: { i } })));
    expect(await all.delete(id)).toBe(28);
    expect(await all.load(id)).toBeUndefined();
  });

  test("unprocessed deletes (injected: DynamoDB Local never leaves any) are sent again until done", async () => {
    const direct = shared.client;
    let injected = 0;
    // Processes only the first delete of each batch, and reports the rest unprocessed, twice.
    const fetch: FetchFunction = async (request) => {
      const { operation, body } = await inspect(request);
      if (operation !== "BatchWriteItem" || injected >= 2) return globalThis.fetch(request);
      injected++;
      const requests = JSON.parse(body).RequestItems[shared.tableName] as unknown[];
      await direct.send("BatchWriteItem", { RequestItems: { [shared.tableName]: requests.slice(0, 1) } });
      const rest = requests.slice(1);
      return Response.json(rest.length === 0 ? {} : { UnprocessedItems: { [shared.tableName]: rest } });
    };
    const id = `Unprocessed-${ulid()}`;
    const all = store({ keepLast: Number.POSITIVE_INFINITY });
    for (let version = 1; version <= 5; version++) await all.save({ streamId: id, version, state: {} });
    const result = await store({ keepLast: 1, fetch, retry: { baseDelayMs: 1 } }).save({
      streamId: id,
      version: 6,
      state: {},
    });
    expect(injected).toBe(2);
    expect(result.pruned).toBe(5);
    expect(await storedVersions(all, id)).toEqual([6]);
  });

  test("deletes that stay unprocessed (injected) end in a retryable ServiceError", async () => {
    const fetch: FetchFunction = async (request) => {
      const { operation, body } = await inspect(request);
      if (operation !== "BatchWriteItem") return globalThis.fetch(request);
      return Response.json({ UnprocessedItems: JSON.parse(body).RequestItems });
    };
    const id = `Stuck-${ulid()}`;
    await store({ keepLast: 5 }).save({ streamId: id, version: 1, state: {} });
    const error = await store({ keepLast: 1, fetch, retry: { maxAttempts: 3, baseDelayMs: 1 } })
      .save({ streamId: id, version: 2, state: {} })
      .catch((e) => e);
    expect(error).toMatchObject({
      code: "SERVICE_ERROR",
      service: "DynamoDB",
      operation: "BatchWriteItem",
      serviceCode: "UnprocessedItems",
      retryable: true,
    });
  });

  test("corrupt stored items fail to load with SnapshotCorruptError naming stream and version", async () => {
    const client = shared.client;
    const cases: [string, Record<string, unknown>][] = [
      ["not gzip", { enc: { S: "json+gzip" }, data: { B: btoa('{"n":1}') } }],
      ["not JSON", { enc: { S: "json" }, data: { B: btoa("{not json") } }],
      ["unknown encoding", { enc: { S: "yaml" }, data: { B: btoa("n: 1") } }],
      ["payload as a string", { enc: { S: "json" }, data: { S: '{"n":1}' } }],
      ["no encoding", { data: { B: btoa('{"n":1}') } }],
    ];
    for (const [label, attributes] of cases) {
      const id = `Corrupt-${ulid()}`;
      await client.send("PutItem", {
        TableName: shared.tableName,
        Item: {
          pk: { S: SNAPSHOT_PARTITION_PREFIX + id },
          sk: { N: "7" },
          sv: { N: "1" },
          ts: { S: new Date().toISOString() },
          ...attributes,
        },
      });
      const error = await store()
        .load(id)
        .catch((e) => e);
      expect({ label, error }).toMatchObject({ label, error: { code: "SNAPSHOT_CORRUPT", streamId: id, version: 7 } });
    }
  });

  test("a missing table is a ServiceError naming DynamoDB's code", async () => {
    const s = store({ tableName: `missing_${ulid()}`, retry: { maxAttempts: 1 } });
    await expect(s.save({ streamId: `S-${ulid()}`, version: 1, state: {} })).rejects.toMatchObject({
      code: "SERVICE_ERROR",
      serviceCode: "ResourceNotFoundException",
    });
  });

  test("bad options are refused", () => {
    const bad: unknown[] = [
      undefined,
      null,
      { ...shared.endpoint },
      { ...shared.endpoint, tableName: "x" },
      { ...shared.endpoint, tableName: "bad name!" },
      { ...shared.options, partitionKey: "sv" },
      { ...shared.options, sortKey: "enc" },
      { ...shared.options, partitionKey: "data" },
      { ...shared.options, keepLast: 0 },
      { ...shared.options, compression: { format: "zstd" } },
      { ...shared.options, retry: { maxAttempts: 0 } },
      {
        tableName: shared.tableName,
        region: "us-east-1",
        endpoint: "not a url",
        credentials: shared.endpoint.credentials,
      },
    ];
    for (const options of bad) {
      expect(() => new DynamoDbSnapshotStore(options as DynamoDbSnapshotStoreOptions)).toThrow(/^Invalid /);
    }
  });
});
