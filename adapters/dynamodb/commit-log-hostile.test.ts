/**
 * The global feed's commit log against a DynamoDB whose log answers do not move forward: a fake server on
 * loopback (DynamoDB Local never answers a query from commit N with an older commit, nor says a marker exists
 * that a consistent query then leaves out). The log pages by commit number, not by LastEvaluatedKey, so the
 * AWS client's page checks cannot see such answers: the log must refuse them itself, as a retryable
 * MalformedResponse, instead of reading (and yielding the same commits) without end. The group commit likewise
 * refuses a cancellation whose counter "failed" while holding the value it expected, instead of trying again on it.
 */
import { expect, test } from "bun:test";
import { withFakeServer } from "../../test/fake-server.ts";
import { markerItem, tombstoneItem } from "./commit-log.js";
import { DynamoDbEventStore } from "./index.js";
import { LOG_PARTITION, tableLayout } from "./layout.js";

const layout = tableLayout({ tableName: "hostile_log" });
/** The committed marker of number `commit`: one event of Order-1. */
const marker = (commit: number) =>
  (markerItem(layout, commit, "Order-1", commit, 1, "token", Date.now()) as { Put: { Item: unknown } }).Put.Item;
const tombstone = (commit: number) => (tombstoneItem(layout, commit, Date.now()) as { Item: unknown }).Item;

/** The fake's own bound: a reader that never stops would query it forever. */
const QUERY_BOUND = 40;

/** The event store on the fake server at `port`: one attempt per call, so each answer is seen once. */
const fakeStore = (port: number | undefined, extra: { gapTimeoutMs?: number } = {}) =>
  new DynamoDbEventStore({
    tableName: layout.tableName,
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
    retry: { maxAttempts: 1 },
    ...extra,
  });

type Answer = (operation: string, input: Record<string, unknown>) => unknown;

/** Runs each read against a fake server answering `answer`; returns each read's error and its query count. */
async function readsAgainst(answer: Answer): Promise<{ read: string; error: unknown; queries: number }[]> {
  const outcomes: { read: string; error: unknown; queries: number }[] = [];
  let queries = 0;
  await withFakeServer(
    async (request) => {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      const input = (await request.json()) as Record<string, unknown>;
      if (operation === "Query" && ++queries > QUERY_BOUND) {
        return Response.json({ __type: "InternalServerError", message: "enough" }, { status: 500 });
      }
      const answered = answer(operation, input);
      return answered instanceof Response ? answered : Response.json(answered);
    },
    async (server) => {
      const store = fakeStore(server.port, { gapTimeoutMs: 0 });
      const reads: [string, () => Promise<unknown>][] = [
        [
          "readAll",
          async () => {
            for await (const _ of store.readAll({ maxCount: 1_000 })) {
              // Nothing is expected: the read fails.
            }
          },
        ],
        ["getLastGlobalPosition", () => store.getLastGlobalPosition()],
      ];
      for (const [read, run] of reads) {
        queries = 0;
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        outcomes.push({ read, error, queries });
      }
    },
  );
  return outcomes;
}

const isLogQuery = (input: Record<string, unknown>) =>
  JSON.stringify(input.ExpressionAttributeValues ?? {}).includes(JSON.stringify(LOG_PARTITION));

test("fake server: a log query from commit N answered with an older commit (and a next page) fails the feed reads as a retryable MalformedResponse, not a read without end; DynamoDB Local never answers so", async () => {
  for (const older of [marker(1), tombstone(1)]) {
    const outcomes = await readsAgainst((operation, input) => {
      if (operation === "Query" && isLogQuery(input)) {
        return { Items: [older], LastEvaluatedKey: { pk: { S: LOG_PARTITION }, sk: { N: "1" } } };
      }
      return operation === "BatchGetItem" ? { Responses: {} } : {};
    });
    for (const { read, error, queries } of outcomes) {
      expect({ read, error }).toMatchObject({ read, error: { serviceCode: "MalformedResponse", retryable: true } });
      // The first page (commit 1), then the page that went back to it.
      expect({ read, queries }).toEqual({ read, queries: 2 });
    }
  }
});

test("fake server: a log whose missing number cannot be voided (its marker exists) yet is left out of a consistent query from it fails the feed reads as a retryable MalformedResponse, not a restart without end; DynamoDB Local never answers so", async () => {
  const outcomes = await readsAgainst((operation, input) => {
    // The log starts at commit 2; commit 1, the gap, cannot be voided (its marker "exists"), but no query returns it.
    if (operation === "Query" && isLogQuery(input)) return { Items: [marker(2)] };
    if (operation === "PutItem") {
      const refused = { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "no" };
      return Response.json(refused, { status: 400 });
    }
    return {};
  });
  for (const { read, error, queries } of outcomes) {
    expect({ read, error }).toMatchObject({ read, error: { serviceCode: "MalformedResponse", retryable: true } });
    // The query that showed the gap, then the one that should have started with the marker found in it.
    expect({ read, queries }).toEqual({ read, queries: 2 });
  }
});

test("fake server: a group commit cancelled for a counter that holds the very value it expected fails the append as a retryable MalformedResponse, not 200 rounds ending in a ConcurrencyError; DynamoDB Local never answers so", async () => {
  const operations: string[] = [];
  await withFakeServer(
    async (request) => {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      const input = (await request.json()) as { TransactItems?: unknown[] };
      operations.push(operation);
      if (operation === "TransactWriteItems") {
        // The counter's condition failed, says the answer, and the counter holds 5: the second transaction
        // expects 5, and is told the same again.
        const reasons = (input.TransactItems ?? []).map((_, i) =>
          i === 0 ? { Code: "ConditionalCheckFailed", Item: { next: { N: "5" } } } : { Code: "None" },
        );
        const cancelled = {
          __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
          message: "Transaction cancelled",
          CancellationReasons: reasons,
        };
        return Response.json(cancelled, { status: 400 });
      }
      if (operation === "UpdateItem") return Response.json({ Attributes: { next: { N: "5" } } });
      return Response.json(operation === "Query" ? { Items: [] } : {});
    },
    async (server) => {
      const store = fakeStore(server.port);
      const error = await store
        .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "any" })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ serviceCode: "MalformedResponse", retryable: true });
      // The first transaction learns the counter (5, from 0); the second, on 5, is told 5 again.
      expect(operations.filter((o) => o === "TransactWriteItems")).toHaveLength(2);
    },
  );
});
