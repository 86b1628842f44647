/**
 * One deadline per call: attempts and the pauses between them fit in `timeoutMs`, against a
 * loopback server that accepts connections and never answers. Bounds are stated in attempts made,
 * not in measured time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, isValidationError } from "../../src/index.js";
import { AwsServiceError } from "./errors.js";
import { AwsJsonClient, type AwsJsonClientOptions, type FetchFunction } from "./json-client.js";
import { backoffDelay, retryDelay, retryPolicy } from "./retry.js";
import { dynamoDbService } from "./services.js";

let silent: { readonly port: number; stop(closeActive?: boolean): void } | undefined;
let connections = 0;
beforeAll(() => {
  // Accepts, reads and never writes a byte back: a server that never answers.
  silent = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        connections++;
      },
      data() {},
    },
  });
});
afterAll(() => {
  silent?.stop(true);
});

/** A client of the silent server, counting the attempts it makes. */
function silentClient(options: Partial<AwsJsonClientOptions>) {
  const counted = { attempts: 0 };
  const fetch: FetchFunction = (request) => {
    counted.attempts++;
    return globalThis.fetch(request);
  };
  const client = new AwsJsonClient(dynamoDbService, {
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${silent?.port}`,
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    fetch,
    ...options,
  });
  return { client, counted };
}

async function failure(promise: Promise<unknown>): Promise<AwsServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AwsServiceError);
  return error as AwsServiceError;
}

describe("the call deadline", () => {
  test("a server that never answers: attempts fit in the deadline, then a typed TimeoutError says so", async () => {
    const { client, counted } = silentClient({ timeoutMs: 300, attemptTimeoutMs: 100 });
    const before = connections;
    const error = await failure(client.send("GetItem", { TableName: "t" }));
    expect(error).toMatchObject({
      code: ErrorCode.Service,
      service: "DynamoDB",
      operation: "GetItem",
      serviceCode: "TimeoutError",
      retryable: true,
      gaveUp: "deadline",
    });
    expect(error.message).toContain("deadline passed");
    // The time named is the last attempt's (at most its 100 ms), and the message says so.
    expect(error.message).toMatch(/the last attempt had no response within \d+ ms \(the call's deadline passed/);
    // Every attempt but the last ran its full 100 ms, and none started after 300 ms: at most 3.
    expect(error.attempts).toBe(counted.attempts);
    expect(counted.attempts).toBeGreaterThanOrEqual(1);
    expect(counted.attempts).toBeLessThanOrEqual(3);
    expect(connections - before).toBeGreaterThanOrEqual(1);
  });

  test("an attempt timeout longer than the deadline is cut to it: one attempt, not ten seconds", async () => {
    const { client, counted } = silentClient({ timeoutMs: 150, attemptTimeoutMs: 10_000 });
    const error = await failure(client.send("GetItem", {}));
    expect(error).toMatchObject({ serviceCode: "TimeoutError", gaveUp: "deadline", attempts: 1 });
    expect(counted.attempts).toBe(1);
  });

  test("the caller's signal stops an attempt in flight, with its reason, without retrying", async () => {
    const { client, counted } = silentClient({ timeoutMs: 60_000, attemptTimeoutMs: 60_000 });
    const controller = new AbortController();
    const sent = client.send("GetItem", {}, { signal: controller.signal });
    while (counted.attempts === 0) await Bun.sleep(1);
    controller.abort(new Error("the caller gave up"));
    await expect(sent).rejects.toThrow("the caller gave up");
    expect(counted.attempts).toBe(1);
  });

  test("a shared deadline that has passed: nothing is sent", async () => {
    const { client, counted } = silentClient({});
    const error = await failure(client.send("GetItem", {}, { deadline: Date.now() - 1 }));
    expect(error).toMatchObject({ serviceCode: "TimeoutError", gaveUp: "deadline", attempts: 0 });
    expect(counted.attempts).toBe(0);
  });

  test("timeoutMs and attemptTimeoutMs must be positive integers", () => {
    for (const options of [{ timeoutMs: 0 }, { attemptTimeoutMs: -1 }, { timeoutMs: 1.5 }]) {
      let thrown: unknown;
      try {
        silentClient(options);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
    }
  });

  test("any deadline, attempt timeout and backoff: attempts never outnumber what the deadline holds", async () => {
    // A fetch that never answers but lets the attempt timer abort it, as a silent server does.
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 60 }),
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 0, max: 20 }),
        async (timeoutMs, attemptTimeoutMs, baseDelayMs) => {
          let attempts = 0;
          const fetch: FetchFunction = (request) => {
            attempts++;
            return new Promise((_, reject) => {
              request.signal.addEventListener("abort", () => reject(request.signal.reason));
            });
          };
          const client = new AwsJsonClient(dynamoDbService, {
            region: "eu-west-1",
            endpoint: "http://127.0.0.1:1",
            credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
            retry: { maxAttempts: 1_000, baseDelayMs, maxDelayMs: 50, budget: 1_000_000 },
            timeoutMs,
            attemptTimeoutMs,
            fetch,
          });
          const error = await failure(client.send("GetItem", {}));
          expect(error).toMatchObject({ serviceCode: "TimeoutError", gaveUp: "deadline" });
          expect(error.attempts).toBe(attempts);
          expect(attempts).toBeLessThanOrEqual(Math.ceil(timeoutMs / attemptTimeoutMs));
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("retryDelay", () => {
  test("a pause is planned only when an attempt can still start before the deadline", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: -100, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseDelayMs, maxDelayMs, retry, leftMs, r) => {
          const policy = retryPolicy({ baseDelayMs, maxDelayMs, random: () => r });
          const delay = retryDelay(policy, retry, leftMs);
          const planned = backoffDelay(policy, retry);
          if (planned < leftMs) expect(delay).toBe(planned);
          else expect(delay).toBeUndefined();
        },
      ),
    );
  });
});
