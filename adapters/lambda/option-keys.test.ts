import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { CommandBus, isValidationError, type ValidationError } from "../../src/index.js";
import { createHttpApiHandler, createSagaTimerHandler, createSqsHandler } from "./index.js";

// Every option object of the Lambda adapter refuses a key it does not take, naming its path, when the
// handler is made: before, createSqsHandler dropped a misspelt `onErorr`, and a failed batch went to the
// default log line rather than the hook given. (createHttpApiHandler's are the HTTP dispatcher's, checked there.)

/** The paths of the ValidationError `build` throws; fails the test on any other outcome. */
function refusedPaths(build: () => unknown): string[] {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(isValidationError(caught)).toBe(true);
  return (caught as ValidationError).issues.map((issue) => issue.path.join("."));
}

const consumer = { consume: async () => ({ batchItemFailures: [] }) };
const runtime = { tick: async () => ({ fired: 0 }) } as never;
const commands = { bus: new CommandBus(), schemas: { Open: v.object({}) } };

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, { keys: readonly string[]; build: (extra: object) => unknown }> = {
  createSqsHandler: { keys: ["onError"], build: (extra) => createSqsHandler(consumer, { ...extra }) },
  createSagaTimerHandler: { keys: ["onTick"], build: (extra) => createSagaTimerHandler(runtime, { ...extra }) },
  createHttpApiHandler: {
    keys: [
      "basePath",
      "metadata",
      "onError",
      "commands",
      "queries",
      "auth",
      "idempotency",
      "bodyLimit",
      "jsonDepthLimit",
      "correlationHeader",
      "trustClientCorrelation",
      "health",
      "document",
      "metrics",
      "tenancy",
      "telemetry",
    ],
    build: (extra) => createHttpApiHandler({ commands, ...extra }),
  },
};

describe("the Lambda adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", () => {
    expect(refusedPaths(() => createSqsHandler(consumer, { onErorr: () => undefined } as never))).toEqual(["onErorr"]);
    expect(refusedPaths(() => createHttpApiHandler({ commands, basePth: "/api" } as never))).toEqual(["basePth"]);
    // null is still no options.
    expect(typeof createSqsHandler(consumer, null)).toBe("function");
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", () => {
    for (const { keys, build } of Object.values(builders)) {
      // The valid options build: what follows fails on the unknown key alone.
      build({});
      fc.assert(
        fc.property(
          fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !keys.includes(key) && key !== "__proto__"),
          (key) => {
            expect(refusedPaths(() => build({ [key]: 1 }))).toEqual([key]);
          },
        ),
        { numRuns: 25 },
      );
    }
  });
});
