/**
 * What the global feed guarantees (docs/adapters/dynamodb.md), each shown on DynamoDB Local with
 * appends held in flight by a gating fetch: an append takes its commit number in the transaction
 * that commits it, so nothing a reader passes can still commit; a number reserved by a writer of the
 * previous release (or by this one's fallback) is waited for, and voided once it stalls, its late
 * transaction then failing; every stream's events keep their version order in the feed; group
 * commits isolate one append's conflict; no way an append ends leaves a number readers wait for.
 */
import { describe, expect, test } from "bun:test";
import { type EventEnvelope, type ExpectedVersion, isConcurrencyError, prepareEvents, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { checkTwoWriters } from "../../test/differential/two-writers.ts";
import type { FetchFunction } from "../aws/index.js";
import { planAppend } from "./append-plan.js";
import { encodeEvents } from "./codec.js";
import { type DynamoDbEventStore, LOG_PARTITION, META_PARTITION } from "./index.js";
import { gate, inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

const transactionFor = (stream: string) => (operation: string, body: string) =>
  operation === "TransactWriteItems" && body.includes(JSON.stringify(stream));

const mine = (events: EventEnvelope[], ...streams: string[]) => events.filter((e) => streams.includes(e.streamId));

describe("DynamoDB global feed", () => {
  test("an append held in flight holds no number: a reader passes the appends that committed, and the held one commits after them", async () => {
    const writer = await local.store({ gapTimeoutMs: 30_000 });
    const { tableName } = writer.layout;
    const slow = `Slow-${ulid()}`;
    const fast = `Fast-${ulid()}`;
    const held = gate(transactionFor(slow));
    const slowWriter = await local.store({ tableName, fetch: held.fetch });
    // An hour's gap timeout, past the test's: the reader would wait that long on a gap (see below).
    const reader = await local.store({ tableName, gapTimeoutMs: 3_600_000 });
    const start = await reader.getLastGlobalPosition();

    const slowAppend = slowWriter.appendToStream(slow, [
      { type: "A", data: 1 },
      { type: "B", data: 2 },
    ]);
    await held.held; // its transaction (counter update, marker, events) is built, not sent
    await writer.appendToStream(fast, [{ type: "C", data: 3 }]);

    // Nothing is in flight in the table: the reader does not wait (the read ending at all shows it: no
    // clock is read).
    const firstPass = mine(await collect(reader.readAll({ after: start })), slow, fast);
    expect(firstPass.map((e) => e.data)).toEqual([3]);
    const passed = firstPass[0]?.globalPosition ?? 0;

    held.release();
    const late = await slowAppend;
    // Its first transaction expected the counter the fast append moved: it failed as a whole and
    // went again under the next number, after what the reader passed.
    expect(late.events[0]?.globalPosition).toBeGreaterThan(passed);
    expect(held.operations.filter((o) => o === "TransactWriteItems").length).toBe(2);
    expect(held.operations).not.toContain("UpdateItem");
    const events = mine(await collect(reader.readAll({ after: start })), slow, fast);
    expect(events.map((e) => e.data)).toEqual([3, 1, 2]);
    const positions = events.map((e) => e.globalPosition ?? 0);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(await gaps(writer)).toEqual([]);
  });

  test("mixed deployment: a reader waits for a number a previous release's writer reserved and has not committed", async () => {
    const writer = await local.store({ gapTimeoutMs: 30_000 });
    const reader = await local.store({ tableName: writer.layout.tableName, gapTimeoutMs: 30_000 });
    const old = `Old-${ulid()}`;
    const fast = `Fast-${ulid()}`;
    const start = await reader.getLastGlobalPosition();

    const legacy = await reserveLikeAPreviousRelease(writer);
    await writer.appendToStream(fast, [{ type: "C", data: 3 }]);

    let readerDone = false;
    const reading = collect(reader.readAll({ after: start })).then((events) => {
      readerDone = true;
      return events;
    });
    // The new writer's number follows the reserved one: the reader must wait for it.
    await Bun.sleep(300);
    expect(readerDone).toBe(false);
    await commitLikeAPreviousRelease(writer, legacy, old, [1, 2]);
    const events = mine(await reading, old, fast);
    expect(events.map((e) => e.data)).toEqual([1, 2, 3]);
    const positions = events.map((e) => e.globalPosition ?? 0);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  test("mixed deployment: a previous release's number that stalls is voided after the grace period; its late transaction fails", async () => {
    const writer = await local.store();
    const reader = await local.store({ tableName: writer.layout.tableName, gapTimeoutMs: 50 });
    const stalled = `Stalled-${ulid()}`;
    const fast = `Fast-${ulid()}`;
    const start = await reader.getLastGlobalPosition();

    const legacy = await reserveLikeAPreviousRelease(writer);
    await writer.appendToStream(fast, [{ type: "Fast", data: "fast" }]);
    // The reader gives up on the stalled number, voids it, and passes on.
    const firstPass = mine(await collect(reader.readAll({ after: start })), stalled, fast);
    expect(firstPass.map((e) => e.data)).toEqual(["fast"]);
    const passed = firstPass[0]?.globalPosition ?? 0;
    expect(await reader.getLastGlobalPosition()).toBeGreaterThanOrEqual(passed);

    // The stalled transaction arrives now: its marker put fails, nothing of it is written.
    const late = await commitLikeAPreviousRelease(writer, legacy, stalled, ["late"]).catch((error) => error);
    expect(late).toMatchObject({ serviceCode: "TransactionCanceledException" });
    expect(await writer.streamExists(stalled)).toBe(false);
    // A writer of this release appends there now, after what the reader passed.
    const now = await writer.appendToStream(stalled, [{ type: "Late", data: "late" }]);
    expect(now.events[0]?.globalPosition).toBeGreaterThan(passed);
    expect(mine(await collect(reader.readAll({ after: start })), stalled, fast).map((e) => e.data)).toEqual([
      "fast",
      "late",
    ]);
  });

  test("an append overtaken on its own stream commits after the overtaker, so the feed keeps the stream's version order", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const reader = await local.store({ tableName });
    for (const expectedVersion of ["any", 1] as const) {
      const stream = `Order-${ulid()}`;
      const held = gate(transactionFor(stream));
      const overtaken = await local.store({ tableName, fetch: held.fetch });
      const start = await reader.getLastGlobalPosition();
      // Builds its transaction (at version 0 for "any") on the counter it knows, then is held.
      const first = overtaken.appendToStream(stream, [{ type: "Overtaken", data: "second" }], { expectedVersion });
      await held.held;
      await writer.appendToStream(stream, [{ type: "Overtaker", data: "first" }], { expectedVersion: "no-stream" });
      held.release();
      const result = await first;
      expect(result.events[0]?.version).toBe(2);
      // A second transaction, on the counter's value the first one's cancellation returned.
      expect(held.operations.filter((o) => o === "TransactWriteItems").length).toBe(2);
      const feed = mine(await collect(reader.readAll({ after: start })), stream);
      expect(feed.map((e) => [e.version, e.data])).toEqual([
        [1, "first"],
        [2, "second"],
      ]);
      expect((feed[1]?.globalPosition ?? 0) > (feed[0]?.globalPosition ?? 0)).toBe(true);
    }
    expect(await gaps(writer)).toEqual([]);
  });

  test("a subscription in another store instance follows appends by polling, in order, each once", async () => {
    const writer = await local.store();
    const reader = await local.store({ tableName: writer.layout.tableName });
    const stream = `Followed-${ulid()}`;
    const seen: number[] = [];
    const subscription = reader.subscribeToAll({
      after: await reader.getLastGlobalPosition(),
      pollIntervalMs: 20,
      handler: (event) => {
        if (event.streamId === stream) seen.push(event.data as number);
      },
    });
    try {
      for (let n = 1; n <= 5; n++) await writer.appendToStream(stream, [{ type: "N", data: n }]);
      await writer.appendToStream(
        stream,
        [6, 7, 8].map((n) => ({ type: "N", data: n })),
      );
      for (let i = 0; i < 500 && seen.length < 8; i++) await Bun.sleep(10);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await subscription.stop();
    }
  });

  test("read-all pages through many commits and the positions a checkpoint can resume from", async () => {
    const store = await local.store();
    const streams = Array.from({ length: 6 }, (_, i) => `Many${i}-${ulid()}`);
    const start = await store.getLastGlobalPosition();
    for (let round = 0; round < 60; round++) {
      const stream = streams[round % streams.length] as string;
      await store.appendToStream(stream, [
        { type: "R", data: round * 2 },
        { type: "R", data: round * 2 + 1 },
      ]);
    }
    const all = await collect(store.readAll({ after: start }));
    expect(all.map((e) => e.data)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // Resume from every 7th checkpoint: the rest of the feed, nothing twice, nothing missed.
    for (let i = 0; i < all.length; i += 7) {
      const rest = await collect(store.readAll({ after: all[i]?.globalPosition ?? 0, maxCount: 1_000 }));
      expect(rest.map((e) => e.data)).toEqual(all.slice(i + 1).map((e) => e.data));
    }
    expect(await store.getLastGlobalPosition()).toBe(all[all.length - 1]?.globalPosition ?? -1);
  });

  test("two store instances (two processes) appending at once: every append commits once, the feed is complete and ordered", async () => {
    const first = await local.store();
    const { tableName } = first.layout;
    const counted = countingFetch();
    const second = await local.store({ tableName, fetch: counted.fetch });
    const start = await first.getLastGlobalPosition();
    const streams = Array.from({ length: 8 }, (_, i) => `Two${i}-${ulid()}`);
    const perStream = 6;
    // Each stream is written by both stores in turn, at exact versions; all streams at once.
    await Promise.all(
      streams.map(async (stream, s) => {
        for (let n = 0; n < perStream; n++) {
          const store = (s + n) % 2 === 0 ? first : second;
          await store.appendToStream(stream, [{ type: "N", data: { s, n } }], { expectedVersion: n });
        }
      }),
    );
    const feed = (await collect(first.readAll({ after: start }))).filter((e) => streams.includes(e.streamId));
    expect(feed.length).toBe(streams.length * perStream);
    expect(new Set(feed.map((e) => e.globalPosition)).size).toBe(feed.length);
    for (const stream of streams) {
      expect(feed.filter((e) => e.streamId === stream).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(await gaps(first)).toEqual([]);
    // Bounded: the second store's appends took at most two group transactions each before reserving
    // (an UpdateItem, then one more transaction).
    const appends = (streams.length * perStream) / 2;
    expect(counted.count("TransactWriteItems")).toBeLessThanOrEqual(appends * 3);
  });

  test("two store instances (two processes), generated concurrent appends to streams of their own and shared ones, expected versions that hold or not: the feed holds each committed event once, in order, and nothing refused; conflicts are ConcurrencyErrors only (property)", async () => {
    const first = await local.store();
    const second = await local.store({ tableName: first.layout.tableName });
    const { committed, conflicts } = await checkTwoWriters({ writers: [first, second], numRuns: 6 });
    expect(committed).toBeGreaterThan(0);
    expect(conflicts).toBeGreaterThan(0);
    expect(await gaps(first)).toEqual([]);
  }, 120_000);

  test("group commit: concurrent appends of one store share one transaction; one stream's conflict fails only that append", async () => {
    const healthy = await local.store();
    const { tableName } = healthy.layout;
    const streams = Array.from({ length: 5 }, (_, i) => `Group${i}-${ulid()}`);
    for (const stream of streams) await healthy.appendToStream(stream, [{ type: "First", data: 0 }]);
    const counted = countingFetch();
    const store = await local.store({ tableName, fetch: counted.fetch });
    await store.appendToStream(`Warm-${ulid()}`, [{ type: "Warm", data: 0 }]); // learns the counter
    const sent = counted.count("TransactWriteItems");
    const results = await Promise.allSettled(
      streams.map((stream, i) =>
        store.appendToStream(stream, [{ type: "Second", data: i }], { expectedVersion: i === 2 ? 0 : 1 }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(isConcurrencyError((results[2] as PromiseRejectedResult).reason)).toBe(true);
    // One transaction for all five, cancelled by stream 2's taken version; one more for the four others.
    expect(counted.count("TransactWriteItems") - sent).toBe(2);
    for (const [i, stream] of streams.entries()) {
      expect((await collect(healthy.readStream(stream))).map((e) => e.data)).toEqual(i === 2 ? [0] : [0, i]);
    }
    const positions = results.flatMap((r) =>
      r.status === "fulfilled" ? [r.value.events[0]?.globalPosition ?? 0] : [],
    );
    expect(new Set(positions).size).toBe(4);
    expect(await gaps(healthy)).toEqual([]);
  });

  test("group commit: of two appends to one stream at one version, the second is refused once the first commits, without a request", async () => {
    const healthy = await local.store();
    const stream = `Twice-${ulid()}`;
    await healthy.appendToStream(stream, [{ type: "First", data: 0 }]);
    const counted = countingFetch();
    const store = await local.store({ tableName: healthy.layout.tableName, fetch: counted.fetch });
    await store.appendToStream(`Warm-${ulid()}`, [{ type: "Warm", data: 0 }]); // learns the counter
    const sent = counted.count("TransactWriteItems");
    const [first, second] = await Promise.allSettled(
      ["a", "b"].map((data) => store.appendToStream(stream, [{ type: "Second", data }], { expectedVersion: 1 })),
    );
    expect(first?.status).toBe("fulfilled");
    expect(second?.status).toBe("rejected");
    expect(isConcurrencyError((second as PromiseRejectedResult).reason)).toBe(true);
    expect((second as PromiseRejectedResult).reason).toMatchObject({ actualVersion: 2 });
    // One stream per group: the second waited for the next group, and was answered before it went.
    expect(counted.count("TransactWriteItems") - sent).toBe(1);
    expect((await collect(healthy.readStream(stream))).map((e) => e.data)).toEqual([0, "a"]);
  });

  describe("an append leaves no number behind, whatever way it ends (mock fetch: injected refusals and lost answers)", () => {
    const refusal = () =>
      Response.json(
        { __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", message: "injected" },
        { status: 400 },
      );
    // A group transaction of one append to a stream at version 1: counter, marker, version check, event. A counter
    // that failed its condition returns a value that moves on each time, as another process's appends move it.
    let counter = 1_000_000;
    const cancelled =
      (...codes: string[]) =>
      () =>
        Response.json(
          {
            __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            message: "injected",
            CancellationReasons: codes.map((Code, i) =>
              i === 0 && Code === "ConditionalCheckFailed"
                ? { Code, Item: { next: { N: String(++counter) } } }
                : { Code },
            ),
          },
          { status: 400 },
        );
    type Answer = (request: Request) => Promise<Response> | Response;
    const lostAfter: Answer = async (request) => {
      await (await globalThis.fetch(request)).arrayBuffer();
      throw new TypeError("connection reset (injected, after the server answered)");
    };
    const lostBefore: Answer = () => {
      throw new TypeError("socket hang up (injected, request not sent)");
    };
    // Each case: how the append is called on a stream at version 1, which requests (by operation, in
    // order) the mock answers instead of DynamoDB Local, the outcome, and the reservation requests it sent.
    // The last, optional element: the client's attempts per call (1 unless given).
    const cases: [string, ExpectedVersion, [string, Answer][], "throws" | "conflict" | "commits", number, number?][] = [
      ["the head read fails", "any", [["Query", refusal]], "throws", 0],
      ["the transaction is refused", 1, [["TransactWriteItems", refusal]], "throws", 0],
      [
        "the previous-version check fails, then the head read fails",
        1,
        [
          ["TransactWriteItems", cancelled("None", "None", "ConditionalCheckFailed", "None")],
          ["Query", refusal],
        ],
        "throws",
        0,
      ],
      [
        "a version is taken",
        1,
        [["TransactWriteItems", cancelled("None", "None", "None", "ConditionalCheckFailed")]],
        "conflict",
        0,
      ],
      ["stream-exists on a new stream", "stream-exists", [], "conflict", 0],
      [
        "the previous-version check fails at an unchanged head: it goes again",
        1,
        [["TransactWriteItems", cancelled("None", "None", "ConditionalCheckFailed", "None")]],
        "commits",
        0,
      ],
      [
        "the counter moves under it twice: it reserves a number instead",
        1,
        [
          ["TransactWriteItems", cancelled("ConditionalCheckFailed", "None", "None", "None")],
          ["TransactWriteItems", cancelled("ConditionalCheckFailed", "None", "None", "None")],
        ],
        "commits",
        1,
      ],
      [
        "the answer is lost after it committed: settled as committed",
        1,
        [["TransactWriteItems", lostAfter]],
        "commits",
        0,
      ],
      ["the request is lost before it arrived: settled as void", 1, [["TransactWriteItems", lostBefore]], "throws", 0],
      [
        "the counter moves under it twice and its reservation's answer is lost: the client's retry takes no second number",
        1,
        [
          ["TransactWriteItems", cancelled("ConditionalCheckFailed", "None", "None", "None")],
          ["TransactWriteItems", cancelled("ConditionalCheckFailed", "None", "None", "None")],
          ["UpdateItem", lostAfter],
        ],
        "commits",
        2,
        2,
      ],
    ];
    for (const [name, expectedVersion, script, outcome, reservations, attempts = 1] of cases) {
      test(name, async () => {
        const healthy = await local.store();
        const stream = `Released-${ulid()}`;
        if (expectedVersion !== "stream-exists") await healthy.appendToStream(stream, [{ type: "First", data: 1 }]);
        const reserved: number[] = [];
        const pending = [...script];
        let scripting = false;
        const fetch: FetchFunction = async (request) => {
          const { operation, body } = await inspect(request);
          // A reservation request (the counter moved by ":n"), whoever answers it.
          if (operation === "UpdateItem" && body.includes('":n"')) reserved.push(reserved.length + 1);
          const [scripted, answer] = pending[0] ?? [];
          if (scripting && operation === scripted && answer !== undefined) {
            pending.shift();
            return answer(request);
          }
          return globalThis.fetch(request);
        };
        const retry = { maxAttempts: attempts, baseDelayMs: 1, maxDelayMs: 1 };
        const store = await local.store({ tableName: healthy.layout.tableName, fetch, retry });
        // A store that appended before knows the counter's value.
        await store.appendToStream(`Warm-${ulid()}`, [{ type: "Warm", data: 0 }]);
        scripting = true;
        const result = await store
          .appendToStream(stream, [{ type: "Second", data: 2 }], { expectedVersion })
          .then(() => "commits" as const)
          .catch((error) => (isConcurrencyError(error) ? ("conflict" as const) : ("throws" as const)));
        expect(result).toBe(outcome);
        expect(pending).toEqual([]);
        expect(reserved.length).toBe(reservations);
        const versions = (await collect(healthy.readStream(stream))).map((e) => e.version);
        expect(versions).toEqual(expectedVersion === "stream-exists" ? [] : outcome === "commits" ? [1, 2] : [1]);
        // Every number up to the counter holds a marker or a tombstone: readers wait for nothing.
        expect(await gaps(healthy)).toEqual([]);
      });
    }
  });
});

/** A fetch that counts the operations it sends. */
function countingFetch() {
  const operations: string[] = [];
  const fetch: FetchFunction = async (request) => {
    operations.push((await inspect(request)).operation);
    return globalThis.fetch(request);
  };
  return { fetch, count: (operation: string) => operations.filter((o) => o === operation).length };
}

/**
 * The numbers up to the commit counter that hold neither a marker nor a tombstone: what a reader
 * would wait for. Releases are sent without waiting, so look a few times.
 */
async function gaps(store: DynamoDbEventStore): Promise<number[]> {
  let missing: number[] = [];
  for (let look = 0; look < 50; look++) {
    const counter = await store.client.send<{ Item?: { next?: { N: string } } }>("GetItem", {
      TableName: store.layout.tableName,
      Key: { pk: { S: META_PARTITION }, sk: { N: "0" } },
      ConsistentRead: true,
    });
    const top = Number(counter.Item?.next?.N ?? 0);
    const { Items = [] } = await store.client.send<{ Items?: { sk: { N: string } }[] }>("Query", {
      TableName: store.layout.tableName,
      KeyConditionExpression: "pk = :log",
      ExpressionAttributeValues: { ":log": { S: LOG_PARTITION } },
      ConsistentRead: true,
    });
    const present = new Set(Items.map((item) => Number(item.sk.N)));
    missing = Array.from({ length: top }, (_, i) => i + 1).filter((n) => !present.has(n));
    if (missing.length === 0) return missing;
    await Bun.sleep(20);
  }
  return missing;
}

/** What a writer of the previous release did first: reserve a commit number (an increment). */
async function reserveLikeAPreviousRelease(store: DynamoDbEventStore): Promise<number> {
  const { Attributes } = await store.client.send<{ Attributes: { next: { N: string } } }>("UpdateItem", {
    TableName: store.layout.tableName,
    Key: { pk: { S: META_PARTITION }, sk: { N: "0" } },
    UpdateExpression: "ADD #next :n",
    ExpressionAttributeNames: { "#next": "next" },
    ExpressionAttributeValues: { ":n": { N: "1" } },
    ReturnValues: "UPDATED_NEW",
  });
  return Number(Attributes.next.N);
}

/** ...and then: its transaction (marker under that number, events) to a new stream. */
async function commitLikeAPreviousRelease(
  store: DynamoDbEventStore,
  commit: number,
  stream: string,
  data: unknown[],
): Promise<void> {
  const events = prepareEvents(
    data.map((d) => ({ type: "Old", data: d })),
    undefined,
  );
  const encoded = encodeEvents(store.layout, stream, events);
  const token = crypto.randomUUID();
  const plan = planAppend(store.layout, { streamId: stream, version: 0, commit, encoded, token, now: Date.now() });
  await store.client.send(plan.operation, plan.body);
}
