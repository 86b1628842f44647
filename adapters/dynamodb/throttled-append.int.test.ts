/**
 * Appends whose transaction DynamoDB cancels for reasons another attempt may not meet (throttling, a
 * conflict with another transaction): a retryable ServiceError once the client's attempts are spent,
 * never a ConcurrencyError, and nothing written. DynamoDB Local never throttles, and cancels for a
 * conflict only under a race a test cannot hold, so a fetch wrapper answers for it, on a real table.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isConcurrencyError, isServiceError, ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import type { FetchFunction } from "../aws/index.js";
import { inspect, useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

/**
 * Cancels every TransactWriteItems with `codes` as its reasons, one per action (repeated or cut to fit,
 * keeping one that is not "None": DynamoDB never cancels a transaction without a reason).
 */
function cancelling(codes: readonly string[]): { fetch: FetchFunction; cancelled: () => number } {
  let cancelled = 0;
  const fetch: FetchFunction = async (request) => {
    const { operation, body } = await inspect(request);
    if (operation !== "TransactWriteItems") return globalThis.fetch(request);
    cancelled++;
    const actions = (JSON.parse(body).TransactItems as unknown[]).length;
    const reasons = Array.from({ length: actions }, (_, i) => ({ Code: codes[i % codes.length] as string }));
    const cause = codes.findIndex((code) => code !== "None");
    if (reasons.every((r) => r.Code === "None")) reasons[cause % actions] = { Code: codes[cause] as string };
    return Response.json(
      { __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException", CancellationReasons: reasons },
      { status: 400 },
    );
  };
  return { fetch, cancelled: () => cancelled };
}

describe("DynamoDB appends whose transaction is cancelled by throttling or conflicts", () => {
  test("property: a retryable ServiceError after the client's attempts, no ConcurrencyError, nothing written, whatever the expected version and however many appends go together (mocked response: DynamoDB Local never throttles a transaction)", async () => {
    const writer = await local.store();
    const { tableName } = writer.layout;
    const reason = fc.constantFrom("None", "ThrottlingError", "TransactionConflict");
    await fc.assert(
      fc.asyncProperty(
        fc.array(reason, { minLength: 1, maxLength: 5 }).filter((codes) => codes.some((c) => c !== "None")),
        fc.constantFrom("any" as const, "stream-exists" as const, 1),
        fc.integer({ min: 1, max: 3 }),
        async (codes, expectedVersion, together) => {
          const streams = Array.from({ length: together }, () => `Order-${ulid()}`);
          for (const stream of streams) await writer.appendToStream(stream, [{ type: "Opened", data: 0 }]);
          const gate = cancelling(codes);
          const throttled = await local.store({
            tableName,
            fetch: gate.fetch,
            retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
          });
          const outcomes = await Promise.allSettled(
            streams.map((stream) =>
              throttled.appendToStream(stream, [{ type: "Added", data: 1 }], { expectedVersion }),
            ),
          );
          expect(gate.cancelled()).toBeGreaterThan(0);
          for (const outcome of outcomes) {
            expect(outcome.status).toBe("rejected");
            const error = (outcome as PromiseRejectedResult).reason;
            expect(isConcurrencyError(error)).toBe(false);
            expect(isServiceError(error)).toBe(true);
            expect(error).toMatchObject({ serviceCode: "TransactionCanceledException", retryable: true });
          }
          for (const stream of streams) {
            expect((await collect(writer.readStream(stream))).map((e) => e.type)).toEqual(["Opened"]);
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});
