/**
 * What one append sends to DynamoDB (Local), request by request: with the feed, one transaction
 * (the counter moves inside it); without it, one conditional PutItem for a single event where the
 * store knows the previous version exists, else a transaction that checks it.
 */
import { describe, expect, test } from "bun:test";
import { isConcurrencyError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/** A fetch that records the operation of every request. */
function recording() {
  const operations: string[] = [];
  const fetch: FetchFunction = async (request) => {
    operations.push((await inspect(request)).operation);
    return globalThis.fetch(request);
  };
  return {
    fetch,
    /** The operations sent since the last call. */
    take(): string[] {
      return operations.splice(0);
    },
  };
}

describe("requests per append", () => {
  test("with the feed: one TransactWriteItems per append, at an exact version, to a new stream or with any", async () => {
    const requests = recording();
    const store = await local.store({ fetch: requests.fetch });
    const stream = `One-${ulid()}`;
    await store.appendToStream(`Warm-${ulid()}`, [{ type: "Warm", data: 0 }]);
    requests.take();
    await store.appendToStream(stream, [{ type: "A", data: 1 }], { expectedVersion: "no-stream" });
    expect(requests.take()).toEqual(["TransactWriteItems"]);
    for (let version = 1; version <= 3; version++) {
      await store.appendToStream(stream, [{ type: "A", data: 1 }], { expectedVersion: version });
      expect(requests.take()).toEqual(["TransactWriteItems"]);
    }
    await store.appendToStream(stream, [{ type: "B", data: 2 }]);
    // "any" needs the version: a head read, then the transaction.
    expect(requests.take()).toEqual(["Query", "TransactWriteItems"]);
    const feed = (await collect(store.readAll())).filter((e) => e.streamId === stream);
    expect(feed.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
  });

  test("without the feed: a one-event append after a version the store has seen is one conditional PutItem", async () => {
    const requests = recording();
    const store = await local.store({ fetch: requests.fetch, globalFeed: false });
    const stream = `Put-${ulid()}`;
    requests.take(); // the table's creation
    await store.appendToStream(stream, [{ type: "A", data: 1 }], { expectedVersion: "no-stream" });
    expect(requests.take()).toEqual(["PutItem"]);
    await store.appendToStream(stream, [{ type: "A", data: 2 }], { expectedVersion: 1 });
    expect(requests.take()).toEqual(["PutItem"]);
    // Several events stay one transaction.
    await store.appendToStream(stream, [
      { type: "A", data: 3 },
      { type: "A", data: 4 },
    ]);
    expect(requests.take()).toEqual(["Query", "TransactWriteItems"]);
    // A version already taken is a conflict, as with the transaction.
    const conflict = await store
      .appendToStream(stream, [{ type: "A", data: 0 }], { expectedVersion: 3 })
      .catch((error) => error);
    expect(isConcurrencyError(conflict)).toBe(true);
    expect(conflict).toMatchObject({ actualVersion: 4 });
    requests.take();
    expect((await collect(store.readStream(stream))).map((e) => e.data)).toEqual([1, 2, 3, 4]);
  });

  test("without the feed: at a version this store has not seen, the append checks it exists (a stream behind is a conflict, never a gap)", async () => {
    const writer = await local.store({ globalFeed: false });
    const requests = recording();
    const other = await local.store({ tableName: writer.layout.tableName, fetch: requests.fetch, globalFeed: false });
    const stream = `Behind-${ulid()}`;
    await writer.appendToStream(stream, [{ type: "A", data: 1 }]);
    // The stream is at 1; an append claiming 3 must fail, not write version 4.
    const error = await other.appendToStream(stream, [{ type: "A", data: 4 }], { expectedVersion: 3 }).catch((e) => e);
    expect(isConcurrencyError(error)).toBe(true);
    expect(requests.take()[0]).toBe("TransactWriteItems");
    // Once this store has read the stream, the next append is a PutItem.
    await collect(other.readStream(stream));
    requests.take();
    await other.appendToStream(stream, [{ type: "A", data: 2 }], { expectedVersion: 1 });
    expect(requests.take()).toEqual(["PutItem"]);
    expect((await collect(writer.readStream(stream))).map((e) => e.version)).toEqual([1, 2]);
  });
});
