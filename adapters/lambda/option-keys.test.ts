import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { CommandBus } from "../../src/index.js";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import { createHttpApiHandler, createSagaTimerHandler, createSqsHandler } from "./index.js";

// Every option object of the Lambda adapter refuses a key it does not take, naming its path, when the
// handler is made: before, createSqsHandler dropped a misspelt `onErorr`, and a failed batch went to the
// default log line rather than the hook given. (createHttpApiHandler's are the HTTP dispatcher's, checked there.)

const consumer = { consume: async () => ({ batchItemFailures: [] }) };
const runtime = { tick: async () => ({ fired: 0 }) } as never;
const commands = { bus: new CommandBus(), schemas: { Open: v.object({}) } };

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
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
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    expect(await refusedPaths(() => createSqsHandler(consumer, { onErorr: () => undefined } as never))).toEqual([
      "onErorr",
    ]);
    expect(await refusedPaths(() => createHttpApiHandler({ commands, basePth: "/api" } as never))).toEqual(["basePth"]);
    // null is still no options.
    expect(typeof createSqsHandler(consumer, null)).toBe("function");
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders, { skipProto: true });
  });
});
