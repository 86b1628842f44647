/**
 * One deadline per append, against a loopback server that accepts connections and never answers:
 * the append's requests, retries and the settling of its unknown outcome all fit in the client's
 * `timeoutMs`. Bounds are stated in attempts made, not in measured time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ErrorCode, isServiceError } from "../../src/index.js";
import type { FetchFunction } from "../aws/index.js";
import { DynamoDbEventStore } from "./index.js";

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
