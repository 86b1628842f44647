/**
 * One deadline per append, against a loopback server that accepts connections and never answers:
 * the append's requests, retries and the settling of its unknown outcome all fit in the client's
 * `timeoutMs`. Bounds are stated in attempts made, not in measured time. The "mock:" tests answer
 * as DynamoDB would through a fake transport (DynamoDB Local cannot be made slow at one chosen
 * request) and check what the store asks of its client: every request carries the append's deadline,
 * and none is made, nor any pause begun, once it has passed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ErrorCode, isConcurrencyError, isServiceError } from "../../src/index.js";
import { AwsJsonClient, dynamoDbService, type FetchFunction, type SendOptions } from "../aws/index.js";
import { DynamoDbEventStore, type DynamoDbEventStoreOptions, dynamoDbStreamDeletion } from "./index.js";

let silent: { readonly port: number; stop(closeActive?: boolean): void } | undefined;
beforeAll(() => {
  silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});
afterAll(() => {
  silent?.stop(true);
});

describe("the append deadline", () => {
  for (const globalFeed of [false, true]) {
    test(`an append to a server that never answers fails within timeoutMs with a typed TimeoutError (${globalFeed ? "with" : "without"} feed)`, async () => {
      const operations: string[] = [];
      const fetch: FetchFunction = (request) => {
        operations.push(request.headers.get("x-amz-target")?.split(".")[1] ?? "");
        return globalThis.fetch(request);
      };
      const timeoutMs = 400;
      const attemptTimeoutMs = 100;
      const store = new DynamoDbEventStore({
        tableName: "never_answers",
        region: "eu-west-1",
        endpoint: `http://127.0.0.1:${silent?.port}`,
        credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
        globalFeed,
        timeoutMs,
        attemptTimeoutMs,
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
        fetch,
      });
      const error = await store
        .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "no-stream" })
        .catch((e: unknown) => e);
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "TimeoutError", gaveUp: "deadline" });
      // Attempts run one after another, each but the last of a phase (writing, settling) for its
      // full 100 ms: within 400 ms that is at most 4 + 1. With the default settings an append used to
      // make 8 attempts of 10 s, and as many again to settle.
      expect(operations.length).toBeGreaterThanOrEqual(1);
      expect(operations.length).toBeLessThanOrEqual(Math.ceil(timeoutMs / attemptTimeoutMs) + 1);
      if (!globalFeed) {
        // The write timed out with its outcome unknown, and the read-back that settles it was tried.
        expect(operations[0]).toBe("PutItem");
      }
    });
  }
});

/** A DynamoDB error answer, as the service sends it. */
function refusal(code: string, extra: Record<string, unknown> = {}, status = 400): Response {
  return new Response(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${code}`, message: code, ...extra }), {
    status,
  });
}

interface Call {
  readonly operation: string;
  readonly deadline: number | undefined;
  /** The deadline had passed when the store made the call. */
  readonly late: boolean;
}

/**
 * A store over a fake DynamoDB (`answer` per operation), through a client that records each call's
 * deadline. `hold` may delay a call's outcome (not its request) before the store sees it.
 */
function mockStore(
  options: Partial<DynamoDbEventStoreOptions>,
  answer: (operation: string, body: Record<string, unknown>) => Response | Promise<Response>,
  hold?: (call: Call) => Promise<void> | undefined,
) {
  const calls: Call[] = [];
  const real = new AwsJsonClient(dynamoDbService, {
    region: "eu-west-1",
    endpoint: "http://127.0.0.1:1",
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    timeoutMs: 400,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    fetch: async (request) => {
      const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
      return answer(operation, JSON.parse(await request.text()));
    },
  });
  const client = {
    timeoutMs: real.timeoutMs,
    async send(operation: string, input: unknown, send: SendOptions = {}) {
      const call = {
        operation,
        deadline: send.deadline,
        late: send.deadline !== undefined && Date.now() > send.deadline,
      };
      calls.push(call);
      try {
        return await real.send(operation, input, send);
      } finally {
        await hold?.(call);
      }
    },
  } as unknown as AwsJsonClient;
  const store = new DynamoDbEventStore({ tableName: "mocked", client, globalFeed: false, ...options });
  return { store, calls };
}

/** Waits until just after `deadline`. */
async function past(deadline: number | undefined): Promise<void> {
  if (deadline !== undefined) await Bun.sleep(Math.max(0, deadline - Date.now()) + 2);
}

/**
 * Every call carries a deadline of the append's, counted from when it began: three quarters of its timeoutMs
 * (400) for the writes, all of it to settle. Bracketed by clock reads taken before the append and after it,
 * so a slow machine widens the bracket rather than failing the check: it bounds a computed value, not how
 * fast the append ran (a bound of start + 450 did).
 */
function expectAppendDeadline(calls: readonly { deadline?: number }[], start: number, end: number): void {
  for (const call of calls) {
    expect(call.deadline).toBeNumber();
    expect(call.deadline as number).toBeGreaterThanOrEqual(start + 300);
    expect(call.deadline as number).toBeLessThanOrEqual(end + 400);
  }
}

describe("every wait and request of an append is bounded by its deadline", () => {
  test("mock: the head read that reports a conflict's actual version carries the append's deadline", async () => {
    const start = Date.now();
    const { store, calls } = mockStore({}, (operation) =>
      operation === "Query"
        ? Response.json({ Items: [{ pk: { S: "Order-1" }, sk: { N: "5" } }] })
        : refusal("ConditionalCheckFailedException"),
    );
    const error = await store
      .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "no-stream" })
      .catch((e: unknown) => e);
    expect(isConcurrencyError(error)).toBe(true);
    expect(error).toMatchObject({ actualVersion: 5 });
    expect(calls.map((c) => c.operation)).toEqual(["PutItem", "Query"]);
    expectAppendDeadline(calls, start, Date.now());
  });

  test("mock: the deletion state's GetItem of the read-back that settles an unknown outcome carries the append's deadline", async () => {
    const start = Date.now();
    const { store, calls } = mockStore({ streamDeletion: dynamoDbStreamDeletion }, (operation) =>
      operation === "Query"
        ? Response.json({ Items: [] })
        : operation === "GetItem"
          ? Response.json({})
          : refusal("InternalServerError", {}, 500),
    );
    const error = await store
      .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: 2 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "InternalServerError" });
    expect(calls.map((c) => c.operation).sort()).toEqual(["GetItem", "Query", "TransactWriteItems"]);
    expectAppendDeadline(calls, start, Date.now());
  });

  test("mock: a round that ends past the deadline is not followed by a pause and another round", async () => {
    // The put is refused (another writer got in) only once the append's write deadline has passed.
    const { store, calls } = mockStore(
      {},
      (operation) =>
        operation === "Query" ? Response.json({ Items: [] }) : refusal("ConditionalCheckFailedException"),
      (call) => (call.operation === "PutItem" ? past(call.deadline) : undefined),
    );
    const error = await store
      .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "any" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCode.Service,
      serviceCode: "TimeoutError",
      retryable: true,
      gaveUp: "deadline",
    });
    expect(calls.map((c) => c.operation)).toEqual(["Query", "PutItem"]);
    expect(calls.filter((c) => c.late)).toEqual([]);
  });

  test("mock: a round that ends within the deadline pauses and goes again after the new head", async () => {
    let puts = 0;
    const { store, calls } = mockStore({}, (operation) => {
      if (operation === "Query")
        return Response.json({ Items: puts === 0 ? [] : [{ pk: { S: "Order-1" }, sk: { N: "1" } }] });
      return puts++ === 0 ? refusal("ConditionalCheckFailedException") : Response.json({});
    });
    const result = await store.appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "any" });
    expect(result.nextExpectedVersion).toBe(2);
    expect(calls.map((c) => c.operation)).toEqual(["Query", "PutItem", "Query", "PutItem"]);
    expect(calls.filter((c) => c.late)).toEqual([]);
  });

  test("mock: a read-back that meets a hole past the deadline does not pause and read again", async () => {
    // The append's answer is lost; the read-back finds version 4 where 3 should be, once its deadline has passed.
    const { store, calls } = mockStore(
      {},
      (operation) =>
        operation === "Query"
          ? Response.json({ Items: [{ pk: { S: "Order-1" }, sk: { N: "4" }, id: { S: "x" }, type: { S: "T" } }] })
          : refusal("InternalServerError", {}, 500),
      (call) => (call.operation === "Query" ? past(call.deadline) : undefined),
    );
    const error = await store
      .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: 2 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "InternalServerError" });
    expect(calls.map((c) => c.operation)).toEqual(["TransactWriteItems", "Query"]);
    expect(calls.filter((c) => c.late)).toEqual([]);
  });

  test("mock: an append waits for a shared commit-number reservation only until its deadline, and gives a late number back", async () => {
    // Group commits keep meeting a moved counter (another process appending), so the append reserves a
    // number; the reservation's answer comes only after the append's deadline.
    let released = false;
    let release = () => {};
    const reservation = new Promise<void>((resolve) => {
      release = () => {
        released = true;
        resolve();
      };
    });
    // The counter each cancellation returns moves on (7, 8), as another process's appends move it.
    let counter = 6;
    const { store, calls } = mockStore(
      { globalFeed: true },
      (operation) => {
        if (operation === "TransactWriteItems") {
          const moved = { Code: "ConditionalCheckFailed", Item: { next: { N: String(++counter) } } };
          return refusal("TransactionCanceledException", { CancellationReasons: [moved, { Code: "None" }] });
        }
        if (operation === "UpdateItem") return Response.json({ Attributes: { next: { N: "9" } } });
        return Response.json({});
      },
      (call) => (call.operation === "UpdateItem" ? reservation : undefined),
    );
    const timer = setTimeout(release, 2_000);
    try {
      const error = await store
        .appendToStream("Order-1", [{ type: "Placed", data: {} }], { expectedVersion: "no-stream" })
        .catch((e: unknown) => e);
      expect(released).toBe(false);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "TimeoutError", gaveUp: "deadline" });
      expect(calls.map((c) => c.operation)).toEqual(["TransactWriteItems", "TransactWriteItems", "UpdateItem"]);
    } finally {
      clearTimeout(timer);
      release();
    }
    // The number that came too late is tombstoned (a conditional put under the log partition).
    for (let i = 0; i < 100 && !calls.some((c) => c.operation === "PutItem"); i++) await Bun.sleep(5);
    expect(calls.map((c) => c.operation)).toContain("PutItem");
  });
});
