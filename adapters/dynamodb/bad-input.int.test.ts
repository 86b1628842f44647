/**
 * Bad input against DynamoDB Local: every case gets a typed error, and nothing is written (checked
 * with a second, healthy store on the same table).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  ErrorCode,
  isPayloadTooLargeError,
  isServiceError,
  isValidationError,
  type NewEvent,
  ulid,
} from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { DynamoDbEventStore, isEventCorruptError, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES } from "./index.js";
import { useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/** The x-count whose event our guard sizes at exactly `bytes`, found from the guard's own report. */
async function dataLengthFor(store: DynamoDbEventStore, stream: string, bytes: number): Promise<number> {
  const probe = 2 * bytes;
  const error = await store.appendToStream(stream, [{ type: "Big", data: "x".repeat(probe) }]).catch((e) => e);
  expect(isPayloadTooLargeError(error)).toBe(true);
  return probe - ((error as { size: number }).size - bytes);
}

describe("DynamoDbEventStore bad input", () => {
  test("an event over 400 KB is refused with PayloadTooLargeError before any request; one at the limit is stored", async () => {
    const store = await local.store();
    let requests = 0;
    const counting = await local.store({
      tableName: store.layout.tableName,
      fetch: (request) => {
        requests++;
        return fetch(request);
      },
    });
    const stream = `Big-${ulid()}`;
    const atLimit = await dataLengthFor(counting, stream, MAX_ITEM_BYTES);
    const error = await counting
      .appendToStream(stream, [
        { type: "Small", data: 1 },
        { type: "Big", data: "x".repeat(atLimit + 1) },
      ])
      .catch((e) => e);
    expect(error).toMatchObject({ code: ErrorCode.PayloadTooLarge, size: MAX_ITEM_BYTES + 1, limit: MAX_ITEM_BYTES });
    expect(error.message).toContain(`Event 1 ("Big") for stream "${stream}"`);
    expect(error.message).not.toContain("xxxx");
    expect(requests).toBe(0);
    expect(await store.streamExists(stream)).toBe(false);
    // Our size is an upper bound of DynamoDB's: at the limit, DynamoDB takes it.
    await counting.appendToStream(stream, [{ type: "Big", data: "x".repeat(atLimit) }]);
    const [read] = await collect(store.readStream(stream));
    expect(read?.data).toBe("x".repeat(atLimit));
  });

  test("with key attribute names beyond ASCII, our size is still an upper bound: DynamoDB takes an event at the limit", async () => {
    // 80 characters of 3 UTF-8 bytes each: 240 bytes of name, which DynamoDB counts in bytes.
    const store = await local.store({ partitionKey: "键".repeat(80), sortKey: "版".repeat(80) });
    const stream = `Wide-${ulid()}`;
    const atLimit = await dataLengthFor(store, stream, MAX_ITEM_BYTES);
    await store.appendToStream(stream, [{ type: "Big", data: "x".repeat(atLimit) }]);
    const [read] = await collect(store.readStream(stream));
    expect(read?.data).toBe("x".repeat(atLimit));
  });

  test("an append over DynamoDB's 4 MB transaction limit is refused whole", async () => {
    const store = await local.store();
    const stream = `Huge-${ulid()}`;
    const events: NewEvent[] = Array.from({ length: 12 }, (_, i) => ({
      type: "Chunk",
      data: { i, text: "x".repeat(380_000) },
    }));
    const error = await store.appendToStream(stream, events).catch((e) => e);
    expect(error).toMatchObject({ code: ErrorCode.PayloadTooLarge, limit: MAX_TRANSACTION_BYTES });
    expect(await store.streamExists(stream)).toBe(false);
  });

  test("more events than one transaction holds are refused with a ValidationError, nothing written", async () => {
    for (const globalFeed of [true, false]) {
      const store = await local.store({ globalFeed });
      const max = store.capabilities.maxEventsPerAppend ?? 0;
      expect(max).toBe(globalFeed ? 98 : 99);
      const stream = `Many-${ulid()}`;
      for (const count of [max + 1, 100, 101, 500]) {
        const events = Array.from({ length: count }, (_, i) => ({ type: "E", data: i }));
        await expect(store.appendToStream(stream, events)).rejects.toMatchObject({ code: ErrorCode.Validation });
      }
      expect(await store.streamExists(stream)).toBe(false);
      // The limit itself is one transaction.
      const full = await store.appendToStream(
        stream,
        Array.from({ length: max }, (_, i) => ({ type: "E", data: i })),
      );
      expect(full.nextExpectedVersion).toBe(max);
      await store.appendToStream(
        stream,
        Array.from({ length: max }, (_, i) => ({ type: "E", data: i })),
        { expectedVersion: max },
      );
      expect(await store.getStreamVersion(stream)).toBe(2 * max);
    }
  });

  test("invalid table and key names are refused when the store is made, before any request", () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ tableName: "" }, "tableName"],
      [{ tableName: "ab" }, "tableName"],
      [{ tableName: "has space" }, "tableName"],
      [{ tableName: "ünïcode" }, "tableName"],
      [{ tableName: "x".repeat(256) }, "tableName"],
      [{ tableName: 42 }, "tableName"],
      [{ tableName: "fine", partitionKey: "" }, "partitionKey"],
      [{ tableName: "fine", sortKey: "k".repeat(256) }, "sortKey"],
      [{ tableName: "fine", partitionKey: "id" }, "partitionKey"],
      [{ tableName: "fine", partitionKey: "k", sortKey: "k" }, "sortKey"],
      [{ tableName: "fine", gapTimeoutMs: -1 }, "gapTimeoutMs"],
    ];
    for (const [options, path] of bad) {
      let thrown: unknown;
      try {
        new DynamoDbEventStore({ ...local.endpoint, ...(options as { tableName: string }) });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as { issues: { path: string[] }[] }).issues.map((i) => i.path.join("."))).toContain(path);
    }
  });

  describe("credentials", () => {
    const names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
    let saved: (string | undefined)[] = [];
    beforeEach(() => {
      saved = names.map((name) => process.env[name]);
      for (const name of names) delete process.env[name];
    });
    afterEach(() => {
      names.forEach((name, i) => {
        const value = saved[i];
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      });
    });

    test("missing credentials are a ValidationError when the store is made", () => {
      const { endpoint, region } = local.endpoint;
      let thrown: unknown;
      try {
        new DynamoDbEventStore({ tableName: "fine", endpoint, region, env: {} });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect(String(thrown)).toContain("AWS_ACCESS_KEY_ID");
    });

    test("credentials DynamoDB rejects give a ServiceError that is not retried; nothing is written", async () => {
      const store = await local.store();
      let requests = 0;
      const wrong = new DynamoDbEventStore({
        ...local.endpoint,
        tableName: store.layout.tableName,
        // DynamoDB Local accepts any alphanumeric key id and refuses others, as AWS refuses unknown ones.
        credentials: { accessKeyId: "not-a-key!", secretAccessKey: "x" },
        fetch: (request) => {
          requests++;
          return fetch(request);
        },
      });
      const stream = `Creds-${ulid()}`;
      const error = await wrong
        .appendToStream(stream, [{ type: "A", data: 1 }], { expectedVersion: "no-stream" })
        .catch((e) => e);
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({
        serviceCode: "UnrecognizedClientException",
        retryable: false,
        status: 400,
        attempts: 1,
      });
      expect(error.message).not.toContain("not-a-key");
      expect(requests).toBe(1);
      expect(await store.streamExists(stream)).toBe(false);
    });
  });

  test("a table that does not exist is a ServiceError naming the cause", async () => {
    const store = new DynamoDbEventStore({ ...local.endpoint, tableName: `missing_${ulid()}` });
    await expect(store.appendToStream(`S-${ulid()}`, [{ type: "A", data: 1 }])).rejects.toMatchObject({
      code: ErrorCode.Service,
      serviceCode: "ResourceNotFoundException",
      retryable: false,
    });
    await expect(collect(store.readStream("S-1"))).rejects.toMatchObject({ serviceCode: "ResourceNotFoundException" });
  });

  test("ensureTable refuses a table whose keys are not the event store's", async () => {
    const store = await local.store();
    const otherKeys = new DynamoDbEventStore({
      ...local.endpoint,
      tableName: store.layout.tableName,
      partitionKey: "streamId",
      sortKey: "version",
    });
    await expect(otherKeys.ensureTable()).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(await store.ensureTable()).toBe("exists");
  });

  test("readAll on a store without the feed is a ValidationError", async () => {
    const store = await local.store({ globalFeed: false });
    const refusal = {
      code: ErrorCode.Validation,
      message: expect.stringMatching(/^This DynamoDB event store keeps no global feed: globalFeed: /),
      issues: [{ path: ["globalFeed"], message: expect.stringContaining("globalFeed: false") }],
    };
    await expect(collect(store.readAll())).rejects.toMatchObject(refusal);
    await expect(store.readFeedBatch(0, 10)).rejects.toMatchObject(refusal);
    await expect(store.getLastGlobalPosition()).rejects.toMatchObject(refusal);
    await expect(store.getHeadPosition()).rejects.toMatchObject(refusal);
    expect(() => store.subscribeToAll({ handler: () => undefined })).toThrow();
  });

  test("items another tool wrote: native values are read as JSON; non-JSON text is an EventCorruptError naming stream and version", async () => {
    const store = await local.store({ globalFeed: false });
    const stream = `Foreign-${ulid()}`;
    const put = (version: number, data: unknown) =>
      store.client.send("PutItem", {
        TableName: store.layout.tableName,
        Item: {
          pk: { S: stream },
          sk: { N: String(version) },
          id: { S: ulid() },
          type: { S: "Imported" },
          ts: { N: "1767323045000" },
          data,
        },
      });
    await put(1, { M: { total: { N: "42" }, lines: { L: [{ S: "a" }, { NULL: true }] } } });
    await put(2, { S: "plain text, not JSON" });
    const first = await collect(store.readStream(stream, { maxCount: 1 }));
    expect(first.map((e) => [e.version, e.data, e.timestamp])).toEqual([
      [1, { total: 42, lines: ["a", null] }, "2026-01-02T03:04:05.000Z"],
    ]);
    const error = await collect(store.readStream(stream)).catch((e) => e);
    expect(isEventCorruptError(error)).toBe(true);
    expect(error).toMatchObject({ streamId: stream, version: 2 });
    expect(String(error.message)).not.toContain("plain text");
    expect(error.cause).toBeUndefined();
  });
});
