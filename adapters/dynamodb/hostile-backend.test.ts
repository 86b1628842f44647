/**
 * The stores against a DynamoDB that answers with the wrong shape (a proxy's or a broken endpoint's answer, which
 * DynamoDB Local never gives): a fake server on loopback, random port, stopped in one `finally`. What the
 * store reads must fail as a typed, retryable service error, never a TypeError or a silently empty read, and
 * nothing may be written on the strength of it.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { withFakeServer } from "../../test/fake-server.ts";
import { everythingShown } from "../../test/leaks.ts";
import {
  castoreDynamoDbSource,
  createDynamoDbClient,
  DynamoDbEventStore,
  DynamoDbReadModelStore,
  DynamoDbSagaStore,
  DynamoDbSnapshotStore,
} from "./index.js";

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
  await withFakeServer(
    async (request) => {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      operations.push(operation);
      await request.text();
      // Only the reads are answered wrong: a write answered `{}` would succeed.
      return Response.json(operation === "Query" ? answer : {});
    },
    async (server) => {
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
    },
  );
});

test("fake server: a Query answer whose LastEvaluatedKey is the key the query started from (a replayed answer) ends the read as a retryable MalformedResponse, not a query without end", async () => {
  let queries = 0;
  await withFakeServer(
    async (request) => {
      await request.text();
      // The fake's own bound: a reader that never stops would query it forever.
      if (++queries > 50) return Response.json({ __type: "InternalServerError", message: "enough" }, { status: 500 });
      return Response.json({ Items: [], LastEvaluatedKey: { pk: { S: "Order-1" }, v: { N: "7" } } });
    },
    async (server) => {
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
    },
  );
});

test("fake server: Query and Scan answers whose LastEvaluatedKeys cycle (A, B, A, ...) end every paged read as a retryable MalformedResponse, not a read without end; DynamoDB Local never answers so", async () => {
  const A = { pk: { S: "A" }, v: { N: "1" } };
  const B = { pk: { S: "B" }, v: { N: "2" } };
  let pages = 0;
  await withFakeServer(
    async (request) => {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      const input = (await request.json()) as { ExclusiveStartKey?: { pk: { S: string } } };
      if (operation !== "Query" && operation !== "Scan") return Response.json({});
      // The fake's own bound: a reader that never stops would page through it forever.
      if (++pages > 60) return Response.json({ __type: "InternalServerError", message: "enough" }, { status: 500 });
      // Each answer names a page, never the one asked for: only a read's memory of its pages can see the cycle.
      const next = input.ExclusiveStartKey?.pk.S === "A" ? B : A;
      return Response.json({ Items: [], LastEvaluatedKey: next });
    },
    async (server) => {
      const options = {
        tableName: "hostile_answers",
        region: "eu-west-1",
        endpoint: `http://127.0.0.1:${server.port}`,
        credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      };
      const drain = async (events: AsyncIterable<unknown>) => {
        for await (const _ of events) {
          // Nothing is expected: the read fails.
        }
      };
      const sagas = new DynamoDbSagaStore(options);
      const reads: [string, () => Promise<unknown>][] = [
        ["readStream", () => drain(fakeStore(server.port).readStream("Order-1"))],
        ["saga load", () => sagas.load("Checkout", "order-1")],
        ["saga list", () => sagas.list()],
        ["saga failures", () => sagas.failures()],
        ["saga failures of one saga", () => sagas.failures({ saga: "Checkout" })],
        ["claimDueTimeouts", () => sagas.claimDueTimeouts({ now: 1, owner: "o", leaseMs: 1_000, limit: 5 })],
        ["snapshot delete", () => new DynamoDbSnapshotStore(options).delete("Order-1")],
        ["read model list", () => new DynamoDbReadModelStore(options).list("orders")],
        ["purgeRetiredGenerations", () => new DynamoDbReadModelStore(options).purgeRetiredGenerations()],
        [
          "castore import",
          () => {
            const { tableName, ...clientOptions } = options;
            const source = castoreDynamoDbSource(createDynamoDbClient(clientOptions), { tableName, eventStoreId: "P" });
            return drain(source.batches(0, 10));
          },
        ],
      ];
      for (const [read, run] of reads) {
        pages = 0;
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect({ read, error }).toMatchObject({ read, error: { serviceCode: "MalformedResponse", retryable: true } });
        expect((error as Error).message).toContain("a cycle");
        // A, B, then A again (and its one retry): caught at the first repeat.
        expect({ read, pages }).toEqual({ read, pages: 4 });
      }
    },
  );
});
