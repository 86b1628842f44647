/**
 * Reliability on DynamoDB Local: contention on one stream, and faults no emulator produces
 * (throttling, 5xx, dropped connections) injected by a wrapping fetch, a mock of the network only.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode, type EventEnvelope, isConcurrencyError, isServiceError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { POSITIONS_PER_COMMIT } from "./index.js";
import { inspect, seeded, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

function checkContiguous(events: readonly EventEnvelope[], expectedCount: number): void {
  expect(events.map((e) => e.version)).toEqual(Array.from({ length: expectedCount }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(expectedCount);
}

describe("DynamoDbEventStore under contention", () => {
  for (const globalFeed of [true, false]) {
    test(`16 concurrent writers on one stream (${globalFeed ? "with" : "without"} feed): every event exactly once, versions contiguous`, async () => {
      const store = await local.store({ globalFeed });
      const stream = `Hot-${ulid()}`;
      const start = globalFeed ? await store.getLastGlobalPosition() : 0;
      const writers = 16;
      const perWriter = 6;
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let n = 0; n < perWriter; n++) {
            const events = [
              { type: "Counted", data: { writer, n, part: 0 } },
              { type: "Counted", data: { writer, n, part: 1 } },
            ];
            if (n % 2 === 0) {
              // Half the appends let the store find the head ("any")...
              await store.appendToStream(stream, events, { expectedVersion: "any" });
              continue;
            }
            // ...half read the version and retry on conflict, as a command handler would.
            for (let attempt = 0; ; attempt++) {
              const version = await store.getStreamVersion(stream);
              try {
                await store.appendToStream(stream, events, { expectedVersion: version });
                break;
              } catch (error) {
                if (!isConcurrencyError(error) || attempt > 500) throw error;
              }
            }
          }
        }),
      );
      const read = await collect(store.readStream(stream));
      checkContiguous(read, writers * perWriter * 2);
      const keys = read.map((e) => JSON.stringify(e.data));
      expect(new Set(keys).size).toBe(writers * perWriter * 2);
      // Each append's two events stayed together.
      for (let i = 0; i < read.length; i += 2) {
        const [a, b] = [read[i]?.data, read[i + 1]?.data] as { writer: number; n: number; part: number }[];
        expect([a?.writer, a?.n, a?.part, b?.part]).toEqual([b?.writer, b?.n, 0, 1]);
      }
      if (globalFeed) {
        const feed = (await collect(store.readAll({ after: start }))).filter((e) => e.streamId === stream);
        expect(feed.map((e) => e.id)).toEqual(read.map((e) => e.id));
      }
    }, 120_000);
  }
});

/**
 * Fails 30% of calls at random (seeded): a throttling answer (HTTP 400 ThrottlingException), a
 * 500, a connection dropped before the request left, or dropped after DynamoDB handled it (the
 * answer is lost: the case the idempotency token exists for, also forced on the first transaction).
 */
function faultyFetch(seed: number, rate = 0.3) {
  const random = seeded(seed);
  const counts = { calls: 0, throttled: 0, failed500: 0, droppedBefore: 0, droppedAfter: 0, writesLost: 0 };
  const fetch: FetchFunction = async (request) => {
    counts.calls++;
    // The first transaction always loses its answer: how many transactions a run sends depends on
    // how its appends group, and the case the idempotency token exists for must be exercised.
    const first = counts.writesLost === 0 && (await inspect(request)).operation === "TransactWriteItems";
    if (!first && random() >= rate) return globalThis.fetch(request);
    const kind = first ? 3 : Math.floor(random() * 4);
    if (kind === 0) {
      counts.throttled++;
      return Response.json(
        {
          __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
          message: "Rate of requests exceeds the allowed throughput.",
        },
        { status: 400 },
      );
    }
    if (kind === 1) {
      counts.failed500++;
      return Response.json({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }, { status: 500 });
    }
    if (kind === 2) {
      counts.droppedBefore++;
      throw new TypeError("fetch failed: socket hang up (injected, request not sent)");
    }
    counts.droppedAfter++;
    const { operation } = await inspect(request);
    if (operation === "TransactWriteItems") counts.writesLost++;
    const response = await globalThis.fetch(request);
    await response.arrayBuffer();
    throw new TypeError("fetch failed: connection reset (injected, after the server answered)");
  };
  return { fetch, counts };
}

describe("DynamoDbEventStore with injected faults (mock fetch: throttling, 5xx, dropped connections on 30% of calls)", () => {
  for (const globalFeed of [true, false]) {
    test(`every append completes exactly once and reads complete (${globalFeed ? "with" : "without"} feed)`, async () => {
      const healthy = await local.store({ globalFeed });
      const { tableName } = healthy.layout;
      const faults = faultyFetch(globalFeed ? 13 : 11);
      const store = await local.store({
        tableName,
        globalFeed,
        fetch: faults.fetch,
        gapTimeoutMs: 100,
        retry: { maxAttempts: 30, baseDelayMs: 1, maxDelayMs: 20, budget: 1_000_000 },
      });
      const start = globalFeed ? await healthy.getLastGlobalPosition() : 0;
      const streams = Array.from({ length: 6 }, (_, i) => `Faulty${i}-${ulid()}`);
      const appendsPerStream = 8;
      // Exact expected versions: an append that committed but reported failure (or committed twice)
      // would break the next one with a ConcurrencyError.
      await Promise.all(
        streams.map(async (stream, s) => {
          let version = 0;
          for (let n = 0; n < appendsPerStream; n++) {
            const size = 1 + ((s + n) % 3);
            const result = await store.appendToStream(
              stream,
              Array.from({ length: size }, (_, i) => ({ type: "Faulty", data: { s, n, i } })),
              { expectedVersion: version },
            );
            expect(result.nextExpectedVersion).toBe(version + size);
            version = result.nextExpectedVersion;
          }
        }),
      );
      // Some appends committed and lost their answer: their retries had to be recognised.
      expect(faults.counts.writesLost).toBeGreaterThan(0);
      expect(faults.counts.throttled + faults.counts.failed500 + faults.counts.droppedBefore).toBeGreaterThan(0);
      let total = 0;
      for (const [s, stream] of streams.entries()) {
        // Read through the faulty fetch, and check against a healthy reader.
        const read = await collect(store.readStream(stream));
        const expected = Array.from({ length: appendsPerStream }, (_, n) => 1 + ((s + n) % 3)).reduce((a, b) => a + b);
        checkContiguous(read, expected);
        expect((await collect(healthy.readStream(stream))).map((e) => e.id)).toEqual(read.map((e) => e.id));
        expect((await collect(store.readStream(stream, { direction: "backward" }))).length).toBe(expected);
        total += expected;
      }
      if (globalFeed) {
        const feed = (await collect(store.readAll({ after: start }))).filter((e) => streams.includes(e.streamId));
        expect(feed.length).toBe(total);
        expect(new Set(feed.map((e) => e.id)).size).toBe(total);
        for (const stream of streams) {
          const versions = feed.filter((e) => e.streamId === stream).map((e) => e.version);
          expect(versions).toEqual(versions.map((_, i) => i + 1));
        }
      }
    }, 180_000);
  }

  test("the retry budget stops a hopeless loop with a typed error; nothing is written", async () => {
    const healthy = await local.store();
    let calls = 0;
    const down: FetchFunction = async () => {
      calls++;
      return Response.json({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }, { status: 500 });
    };
    const store = await local.store({
      tableName: healthy.layout.tableName,
      fetch: down,
      retry: { maxAttempts: 1_000, baseDelayMs: 1, maxDelayMs: 2, budget: 50 },
    });
    const stream = `Hopeless-${ulid()}`;
    // "no-stream": no head read, so the append's transaction is the only request in flight.
    const error = await store
      .appendToStream(stream, [{ type: "Never", data: 1 }], { expectedVersion: "no-stream" })
      .catch((e) => e);
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCode.Service, service: "DynamoDB", retryable: true, gaveUp: "budget" });
    // 50 tokens pay for 10 retries of a 5xx: 11 calls, not 1,000; then one attempt at settling the
    // unknown outcome (the counter fence), not retried either.
    expect(calls).toBe(12);
    // The spent budget keeps failing calls from retrying at all.
    await expect(collect(store.readStream(stream))).rejects.toMatchObject({ attempts: 1, gaveUp: "budget" });
    expect(calls).toBe(13);
    expect(await healthy.streamExists(stream)).toBe(false);
  });

  test("a dropped answer to the fallback's counter increment: the client's retry takes no second number, so readers wait for no gap", async () => {
    const healthy = await local.store();
    const { tableName } = healthy.layout;
    // Two injected counter conflicts send the append to the reservation path (increment, then
    // transaction); the increment's first answer is lost after DynamoDB applied it.
    let conflicts = 0;
    let dropped = 0;
    const conflictThenDrop: FetchFunction = async (request) => {
      const { operation } = await inspect(request);
      if (operation === "TransactWriteItems" && conflicts < 2) {
        conflicts++;
        return Response.json(
          {
            __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            // The counter moved on (1, then 2), as another process's appends move it.
            CancellationReasons: [
              { Code: "ConditionalCheckFailed", Item: { next: { N: String(conflicts) } } },
              { Code: "None" },
            ],
          },
          { status: 400 },
        );
      }
      const response = await globalThis.fetch(request);
      if (operation === "UpdateItem" && dropped === 0) {
        dropped++;
        await response.arrayBuffer();
        throw new TypeError("connection reset (injected, after the server answered)");
      }
      return response;
    };
    const store = await local.store({ tableName, fetch: conflictThenDrop, retry: { baseDelayMs: 1 } });
    const reader = await local.store({ tableName, gapTimeoutMs: 50 });
    const start = await reader.getLastGlobalPosition();
    const stream = `Gap-${ulid()}`;
    const first = await store.appendToStream(stream, [{ type: "A", data: 1 }]);
    await store.appendToStream(stream, [{ type: "B", data: 2 }]);
    expect([conflicts, dropped]).toEqual([2, 1]);
    const feed = (await collect(reader.readAll({ after: start }))).filter((e) => e.streamId === stream);
    expect(feed.map((e) => e.data)).toEqual([1, 2]);
    // The retried increment found its own token on the counter and took the number the lost attempt
    // had taken: the very next commit number, no gap before it (a second increment left one).
    const commitOf = (position: number) => Math.floor(position / POSITIONS_PER_COMMIT);
    expect(commitOf(first.events[0]?.globalPosition ?? 0)).toBe(commitOf(start) + 1);
  });
});
