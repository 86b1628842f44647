/**
 * The stores against a DynamoDB that answers with the wrong shape (a proxy's or a broken endpoint's answer, which
 * DynamoDB Local never gives): a fake server on loopback, random port, stopped in one `finally`. What the
 * store reads must fail as a typed, retryable service error, never a TypeError or a silently empty read, and
 * nothing may be written on the strength of it.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { DynamoDbEventStore } from "./index.js";

/** The event store sent to the fake server on `port`: made-up credentials, quick retries. */
function fakeStore(port: number | undefined): DynamoDbEventStore {
  return new DynamoDbEventStore({
    tableName: "hostile_answers",
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
  });
}

test("fake server: a Query answer of the wrong shape fails a read and an append as a retryable MalformedResponse, nothing written", async () => {
  let answer: unknown;
  const operations: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      operations.push(operation);
      await request.text();
      // Only the reads are answered wrong: a write answered `{}` would succeed.
      return Response.json(operation === "Query" ? answer : {});
    },
  });
  try {
    const store = fakeStore(server.port);
    // Items that is no list (a TypeError, or a string read as an empty stream), an item that is null, a
    // LastEvaluatedKey that is no key (the read queried with it again and again, without end).
    for (const body of [
      { Items: 5 },
      { Items: "BODYMARKER" },
      { Items: [null] },
      { Items: [], LastEvaluatedKey: "K" },
    ]) {
      answer = body;
      operations.length = 0;
      const read = async () => {
        for await (const _ of store.readStream("Order-1")) {
          // Nothing is expected: the read fails.
        }
      };
      const error = await read().catch((e: unknown) => e);
      expect({ body, error }).toMatchObject({ error: { serviceCode: "MalformedResponse", retryable: true } });
      expect(isServiceError(error)).toBe(true);
      expect(everythingShown(error)).not.toContain("BODYMARKER");
      expect(operations.length).toBeLessThanOrEqual(2);

      operations.length = 0;
      const appended = await store.appendToStream("Order-1", [{ type: "Placed", data: {} }]).catch((e: unknown) => e);
      expect({ body, appended }).toMatchObject({ appended: { serviceCode: "MalformedResponse", retryable: true } });
      // Without an expected version the append reads the stream's head first; that failed: nothing was written.
      expect(operations.filter((o) => o !== "Query")).toEqual([]);
    }
  } finally {
    server.stop(true);
  }
});

test("fake server: a Query answer whose LastEvaluatedKey is the key the query started from (a replayed answer) ends the read as a retryable MalformedResponse, not a query without end", async () => {
  let queries = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.text();
      // The fake's own bound: a reader that never stops would query it forever.
      if (++queries > 50) return Response.json({ __type: "InternalServerError", message: "enough" }, { status: 500 });
      return Response.json({ Items: [], LastEvaluatedKey: { pk: { S: "Order-1" }, v: { N: "7" } } });
    },
  });
  try {
    const store = fakeStore(server.port);
    const read = async () => {
      for await (const _ of store.readStream("Order-1")) {
        // Nothing is expected: the read fails.
      }
    };
    const error = await read().catch((e: unknown) => e);
    expect(error).toMatchObject({ serviceCode: "MalformedResponse", retryable: true, attempts: 2 });
    expect((error as Error).message).toContain("LastEvaluatedKey");
    // The first page, then the page that repeats its start and its one retry.
    expect(queries).toBe(3);
  } finally {
    server.stop(true);
  }
});
