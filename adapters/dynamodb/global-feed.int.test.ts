/**
 * What the global feed guarantees (docs/adapters/dynamodb.md), each shown on DynamoDB Local with
 * appends held in flight by a gating fetch: readers never pass a commit number whose events could
 * still commit; a number whose append died is voided and its late transaction fails and retries
 * under a later number; every stream's events keep their version order in the feed.
 */
import { describe, expect, test } from "bun:test";
import { type EventEnvelope, type ExpectedVersion, isConcurrencyError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { type DynamoDbEventStore, LOG_PARTITION } from "./index.js";
import { gate, inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

const transactionFor = (stream: string) => (operation: string, body: string) =>
  operation === "TransactWriteItems" && body.includes(JSON.stringify(stream));

const mine = (events: EventEnvelope[], ...streams: string[]) => events.filter((e) => streams.includes(e.streamId));

describe("DynamoDB global feed", () => {
  test("a reader waits for an append in flight instead of passing its position", async () => {
    const writer = await local.store({ gapTimeoutMs: 30_000 });
    const { tableName } = writer.layout;
    const slow = `Slow-${ulid()}`;
    const fast = `Fast-${ulid()}`;
    const held = gate(transactionFor(slow));
    const slowWriter = await local.store({ tableName, fetch: held.fetch });
    const reader = await local.store({ tableName, gapTimeoutMs: 30_000 });
    const start = await reader.getLastGlobalPosition();

    const slowAppend = slowWriter.appendToStream(slow, [
      { type: "A", data: 1 },
      { type: "B", data: 2 },
    ]);
    await held.held; // its commit number is reserved, its transaction not sent
    await writer.appendToStream(fast, [{ type: "C", data: 3 }]);

    let readerDone = false;
    const reading = collect(reader.readAll({ after: start })).then((events) => {
      readerDone = true;
      return events;
    });
    // The fast append committed after a number still in flight: the reader must wait for it.
    await Bun.sleep(300);
    expect(readerDone).toBe(false);
    held.release();
    await slowAppend;
    const events = mine(await reading, slow, fast);
    expect(events.map((e) => e.data)).toEqual([1, 2, 3]);
    const positions = events.map((e) => e.globalPosition ?? 0);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  test("a number whose append stalls is voided after the grace period; the late append commits after what readers passed", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const stalled = `Stalled-${ulid()}`;
    const fast = `Fast-${ulid()}`;
    const held = gate(transactionFor(stalled));
    const stalledWriter = await local.store({ tableName, fetch: held.fetch });
    const reader = await local.store({ tableName, gapTimeoutMs: 50 });
    const start = await reader.getLastGlobalPosition();

    const stalledAppend = stalledWriter.appendToStream(stalled, [{ type: "Late", data: "late" }]);
    await held.held;
    await writer.appendToStream(fast, [{ type: "Fast", data: "fast" }]);

    // The reader gives up on the stalled number, voids it, and passes on.
    const firstPass = mine(await collect(reader.readAll({ after: start })), stalled, fast);
    expect(firstPass.map((e) => e.data)).toEqual(["fast"]);
    const passed = firstPass[0]?.globalPosition ?? 0;
    expect(await reader.getLastGlobalPosition()).toBeGreaterThanOrEqual(passed);

    // The stalled transaction arrives now: its marker put fails, it retries under a new number.
    held.release();
    const late = await stalledAppend;
    expect(late.events[0]?.globalPosition).toBeGreaterThan(passed);
    const secondPass = mine(await collect(reader.readAll({ after: passed })), stalled, fast);
    expect(secondPass.map((e) => e.data)).toEqual(["late"]);
    expect(mine(await collect(reader.readAll({ after: start })), stalled, fast).map((e) => e.data)).toEqual([
      "fast",
      "late",
    ]);
    expect((await collect(reader.readStream(stalled))).map((e) => e.version)).toEqual([1]);
  });

  test("an append overtaken on its own stream takes a later number, so the feed keeps the stream's version order", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const reader = await local.store({ tableName });
    for (const expectedVersion of ["any", 1] as const) {
      const stream = `Order-${ulid()}`;
      const held = gate(transactionFor(stream));
      const overtaken = await local.store({ tableName, fetch: held.fetch });
      const start = await reader.getLastGlobalPosition();
      // Reserves a number and builds its transaction (at version 0 for "any"), then is held.
      const first = overtaken.appendToStream(stream, [{ type: "Overtaken", data: "second" }], { expectedVersion });
      await held.held;
      await writer.appendToStream(stream, [{ type: "Overtaker", data: "first" }], { expectedVersion: "no-stream" });
      held.release();
      const result = await first;
      expect(result.events[0]?.version).toBe(2);
      // Its first number was given up and a second reserved (UpdateItem on the counter), and a
      // second transaction sent.
      expect(held.operations.filter((o) => o === "UpdateItem").length).toBe(2);
      expect(held.operations.filter((o) => o === "TransactWriteItems").length).toBe(2);
      const feed = mine(await collect(reader.readAll({ after: start })), stream);
      expect(feed.map((e) => [e.version, e.data])).toEqual([
        [1, "first"],
        [2, "second"],
      ]);
      expect((feed[1]?.globalPosition ?? 0) > (feed[0]?.globalPosition ?? 0)).toBe(true);
    }
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

  describe("an append gives back the commit number it reserved, whatever way it ends (mock fetch: injected refusals)", () => {
    const refusal = () =>
      Response.json(
        { __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", message: "injected" },
        { status: 400 },
      );
    const cancelled =
      (...codes: string[]) =>
      () =>
        Response.json(
          {
            __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            message: "injected",
            CancellationReasons: codes.map((Code) => ({ Code })),
          },
          { status: 400 },
        );
    // Each case: how the append is called on a stream at version 1, and which requests (by
    // operation, in order) are answered by the mock instead of DynamoDB Local.
    const cases: [string, ExpectedVersion, [string, () => Response][], "throws" | "conflict" | "commits"][] = [
      ["the head read fails", "any", [["Query", refusal]], "throws"],
      ["the transaction is refused", 1, [["TransactWriteItems", refusal]], "throws"],
      [
        "the previous-version check fails, then the head read fails",
        1,
        [
          ["TransactWriteItems", cancelled("None", "ConditionalCheckFailed", "None")],
          ["Query", refusal],
        ],
        "throws",
      ],
      [
        "a version is taken",
        1,
        [["TransactWriteItems", cancelled("None", "None", "ConditionalCheckFailed")]],
        "conflict",
      ],
      ["stream-exists on a new stream", "stream-exists", [], "conflict"],
      [
        "the previous-version check fails at an unchanged head: a fresh number",
        1,
        [["TransactWriteItems", cancelled("None", "ConditionalCheckFailed", "None")]],
        "commits",
      ],
    ];
    for (const [name, expectedVersion, script, outcome] of cases) {
      test(name, async () => {
        const healthy = await local.store();
        const stream = `Released-${ulid()}`;
        if (expectedVersion !== "stream-exists") await healthy.appendToStream(stream, [{ type: "First", data: 1 }]);
        const reserved: number[] = [];
        const pending = [...script];
        const fetch: FetchFunction = async (request) => {
          const { operation, body } = await inspect(request);
          const [scripted, answer] = pending[0] ?? [];
          if (operation === scripted && answer !== undefined) {
            pending.shift();
            return answer();
          }
          const response = await globalThis.fetch(request);
          if (operation === "UpdateItem" && body.includes("ADD #next")) {
            const counter = (await response.clone().json()) as { Attributes: { next: { N: string } } };
            reserved.push(Number(counter.Attributes.next.N));
          }
          return response;
        };
        const store = await local.store({ tableName: healthy.layout.tableName, fetch, retry: { maxAttempts: 1 } });
        const result = await store
          .appendToStream(stream, [{ type: "Second", data: 2 }], { expectedVersion })
          .then(() => "commits" as const)
          .catch((error) => (isConcurrencyError(error) ? ("conflict" as const) : ("throws" as const)));
        expect(result).toBe(outcome);
        expect(pending).toEqual([]);
        expect(reserved.length).toBe(outcome === "commits" ? 2 : 1);
        // Every number holds a marker or a tombstone without any reader voiding it: the append settled
        // its own (releases are sent without waiting, so look a few times).
        for (const commit of reserved) expect(await logEntry(healthy, commit)).not.toBe("missing");
        if (outcome === "commits") expect(await logEntry(healthy, reserved[1] as number)).toBe("marker");
      });
    }
  });
});

async function logEntry(store: DynamoDbEventStore, commit: number): Promise<"marker" | "tombstone" | "missing"> {
  for (let look = 0; look < 100; look++) {
    const { Item } = await store.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: store.layout.tableName,
      Key: { pk: { S: LOG_PARTITION }, sk: { N: String(commit) } },
      ConsistentRead: true,
    });
    if (Item !== undefined) return Item.void === undefined ? "marker" : "tombstone";
    await Bun.sleep(20);
  }
  return "missing";
}
