import { describe, expect, test } from "bun:test";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import {
  createSqsEventConsumer,
  EventBridgeEventBus,
  envelopeMapping,
  receiveAndConsume,
  SqsEventConsumer,
} from "./index.js";

// Every option object of the EventBridge adapter refuses a key it does not take, naming its path, before
// any request: before, a misspelt key was dropped and its default taken without a word (`eventBusNmae`
// published to the default bus, `waitTimeSecond` polled short, `dedupe` left the in-memory dedup store
// in place of the one given, and `region` at the top level rather than in `aws` was never read).

/** Answers every request with an empty result: a receive finds no message. */
const fetch = () => Promise.resolve(new Response("{}", { headers: { "content-type": "application/x-amz-json-1.0" } }));
const aws = { region: "eu-west-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, fetch };
const queueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/events";
const consumer = createSqsEventConsumer({ handlers: {} });
const BUS = [
  "onError",
  "telemetry",
  "source",
  "detailType",
  "resources",
  "eventBusName",
  "mapping",
  "client",
  "aws",
  "maxRequestBytes",
  "entryRetry",
  "retryableEntryCodes",
  "deadLetter",
];
const CONSUMER = ["handlers", "mapping", "dedup", "fifo", "onFailure", "eventRegistry", "telemetry"];

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  EventBridgeEventBus: { keys: BUS, build: (extra) => new EventBridgeEventBus({ aws, ...extra }) },
  "EventBridgeEventBus entryRetry": {
    keys: ["maxAttempts", "baseDelayMs", "maxDelayMs", "random"],
    at: "entryRetry.",
    build: (extra) => new EventBridgeEventBus({ aws, entryRetry: { maxAttempts: 2, ...extra } }),
  },
  "EventBridgeEventBus deadLetter": {
    keys: ["queueUrl", "client", "aws", "maxMessageBytes"],
    at: "deadLetter.",
    build: (extra) => new EventBridgeEventBus({ aws, deadLetter: { queueUrl, ...extra } }),
  },
  envelopeMapping: { keys: ["source", "detailType", "resources"], build: (extra) => envelopeMapping({ ...extra }) },
  SqsEventConsumer: { keys: CONSUMER, build: (extra) => new SqsEventConsumer({ handlers: {}, ...extra }) },
  createSqsEventConsumer: { keys: CONSUMER, build: (extra) => createSqsEventConsumer({ handlers: {}, ...extra }) },
  receiveAndConsume: {
    keys: [
      "queueUrl",
      "consumer",
      "client",
      "aws",
      "maxMessages",
      "waitTimeSeconds",
      "visibilityTimeoutSeconds",
      "releaseFailed",
      "signal",
    ],
    build: (extra) => receiveAndConsume({ queueUrl, consumer, aws, ...extra }),
  },
};

describe("the EventBridge adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [() => new EventBridgeEventBus({ aws, eventBusNmae: "orders" } as never), ["eventBusNmae"]],
      [() => new EventBridgeEventBus({ region: "eu-west-1", aws } as never), ["region"]],
      [() => new EventBridgeEventBus({ aws, entryRetry: { maxAttempt: 1 } } as never), ["entryRetry.maxAttempt"]],
      [() => receiveAndConsume({ queueUrl, consumer, aws, waitTimeSecond: 20 } as never), ["waitTimeSecond"]],
      [() => createSqsEventConsumer({ handlers: {}, dedupe: false } as never), ["dedupe"]],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders, { skipProto: true });
  });

  test("a dead-letter handler is a function, not an options object: it is taken as it is", () => {
    expect(new EventBridgeEventBus({ aws, deadLetter: () => undefined })).toBeInstanceOf(EventBridgeEventBus);
  });
});
