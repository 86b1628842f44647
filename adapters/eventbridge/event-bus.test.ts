import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type EventEnvelope,
  InMemoryEventStore,
  isEventFlowsError,
  isPayloadTooLargeError,
  isValidationError,
  PayloadTooLargeError,
  type ServiceError,
  ValidationError,
} from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import {
  createSqsEventConsumer,
  type DeadLetter,
  deadLetterBody,
  EventBridgeErrorCode,
  EventBridgeEventBus,
  type EventBridgeEventBusOptions,
  type EventBridgePublishResult,
  entrySize,
  MAX_REQUEST_BYTES,
  MappingFailedError,
  PublishIncompleteError,
  type PutEventsRequestEntry,
} from "./index.js";

// No request may leave these tests: a fetch that records and refuses proves nothing was sent.
const sent: Request[] = [];
const refuse = async (request: Request): Promise<Response> => {
  sent.push(request);
  throw new Error("this test must not send anything");
};
const aws = {
  region: "us-east-1",
  endpoint: "http://127.0.0.1:9",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  fetch: refuse,
};
const bus = (options: EventBridgeEventBusOptions = {}) => new EventBridgeEventBus({ aws, ...options });

beforeEach(() => {
  sent.length = 0;
});

// The remote-bus contract runs against moto (remote-bus-contract.int.test.ts); here, what a
// remote bus cannot do.
describe("EventBridgeEventBus has no local subscribers", () => {
  test("it is a publisher only: no subscribe method to call, and the type says so", () => {
    const remote = bus();
    expect(remote.capabilities.localSubscribers).toBe(false);
    expect("subscribe" in remote).toBe(false);
    expect("subscribeToAll" in remote).toBe(false);
    // @ts-expect-error a remote bus has no subscribe: subscriptions are EventBridge rules
    expect(() => remote.subscribe({ all: true }, () => undefined)).toThrow(TypeError);
    // An event store takes it as its bus: only publish is needed.
    const store = new InMemoryEventStore({ bus: remote });
    expect(store).toBeInstanceOf(InMemoryEventStore);
    expect(sent).toHaveLength(0);
  });
});

describe("EventBridgeEventBus input checks (nothing is sent)", () => {
  test("a batch with invalid envelopes is refused whole, every problem listed", async () => {
    const good = testEnvelope("A", "S-1");
    const bad = [good, { ...good, id: 7, version: 0 }, { type: "B" }, null, { ...good, data: () => 1 }];
    const error = await bus()
      .publish(bad as unknown as EventEnvelope[])
      .catch((e) => e);
    expect(isValidationError(error)).toBe(true);
    const paths = (error as ValidationError).issues.map((issue) => issue.path.join("."));
    expect(paths).toContain("1.id");
    expect(paths).toContain("1.version");
    expect(paths).toContain("2.streamId");
    expect(paths).toContain("3");
    expect(paths).toContain("4.data");
    expect(sent).toHaveLength(0);
  });

  test("not an array is refused", async () => {
    await expect(bus().publish("events" as never)).rejects.toThrow(ValidationError);
  });

  test("a hole in a sparse array is refused like undefined, not a TypeError", async () => {
    const sparse: EventEnvelope[] = [];
    sparse[1] = testEnvelope("A", "S-1");
    const error = await bus()
      .publish(sparse)
      .catch((e) => e);
    expect(isValidationError(error)).toBe(true);
    expect((error as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["0"]);
    expect(sent).toHaveLength(0);
  });

  test("an event whose entry can never fit a request is a PayloadTooLargeError, before anything is sent", async () => {
    const small = testEnvelope("Small", "S-1");
    const huge = testEnvelope("Huge", "S-1", { blob: "x".repeat(MAX_REQUEST_BYTES) });
    const error = await bus()
      .publish([small, huge])
      .catch((e) => e);
    expect(isPayloadTooLargeError(error)).toBe(true);
    expect((error as PayloadTooLargeError).limit).toBe(MAX_REQUEST_BYTES);
    expect((error as PayloadTooLargeError).message).toContain(huge.id);
    expect(sent).toHaveLength(0);
  });

  test("maxRequestBytes lowers the limit, and entry size counts multi-byte characters as bytes", async () => {
    const event = testEnvelope("A", "S-1", { text: "€".repeat(400) });
    await expect(bus({ maxRequestBytes: 1_000 }).publish([event])).rejects.toThrow(PayloadTooLargeError);
    expect(sent).toHaveLength(0);
  });

  test("null options are the defaults; options that are no object are a ValidationError, not a TypeError", () => {
    // Without options nothing names a region or credentials (none in this test's environment): the
    // same ValidationError as with no options at all, not a TypeError.
    const none = (given: unknown) => {
      try {
        new EventBridgeEventBus(given as never);
        return undefined;
      } catch (error) {
        return error;
      }
    };
    expect(none(null)).toBeInstanceOf(ValidationError);
    expect(String(none(null))).toBe(String(none(undefined)));
    for (const bad of [42, "default"]) {
      expect(() => new EventBridgeEventBus(bad as never)).toThrow(ValidationError);
    }
  });

  test("a telemetry option that is no boolean is a ValidationError naming it, as every bus refuses it", () => {
    // docs/adapters/eventbridge.md: telemetry is "taken as every bus takes it"; InMemoryEventBus refuses these.
    for (const telemetry of [5, "no", null, {}]) {
      const error = (() => {
        try {
          return bus({ telemetry } as never);
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(isValidationError(error)).toBe(true);
      expect((error as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["telemetry"]);
    }
    expect(() => bus({ telemetry: false })).not.toThrow();
  });

  test("a client, or a dead-letter client, without send is a ValidationError naming it, not a failed publish", () => {
    // Before, the bus was made and every publish failed with a PublishIncompleteError quoting the TypeError.
    const issuesOf = (options: EventBridgeEventBusOptions) => {
      try {
        bus(options);
        return undefined;
      } catch (error) {
        expect(isValidationError(error)).toBe(true);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
    };
    for (const client of [{}, null, 5, { send: "x" }]) {
      expect(issuesOf({ client } as never)).toEqual(["client"]);
      const deadLetter = { queueUrl: "http://127.0.0.1:5000/000000000000/dlq", client };
      expect(issuesOf({ deadLetter } as never)).toEqual(["deadLetter.client"]);
    }
    expect(issuesOf({ client: { send: async () => ({}) } as never })).toBeUndefined();
  });

  test("entries at PutEventsRequestEntry's limits are sent (DetailType 128, Source 256, 100 resources of 2048)", async () => {
    // The request is made (and refused by this file's fetch): no ValidationError before it.
    const error = await bus({
      detailType: () => "D".repeat(128),
      source: "s".repeat(256),
      resources: () => Array.from({ length: 100 }, (_, i) => `arn:aws:s3:::${String(i).padStart(2035, "r")}`),
    })
      .publish([testEnvelope("A", "S-1")])
      .catch((e: unknown) => e);
    expect(isValidationError(error)).toBe(false);
    expect(sent.length).toBeGreaterThan(0);
  });

  test("entries EventBridge would refuse (Source or DetailType empty, no string or too long, Source aws.*, Detail no JSON object, Resources no array of strings, too many or too long) are one ValidationError, before anything is sent", async () => {
    const good = testEnvelope("A", "S-1");
    const cases: [EventBridgeEventBusOptions, string][] = [
      [{ detailType: () => "" }, "0.detailType"],
      [{ source: "" }, "0.source"],
      [{ source: (() => 42) as unknown as () => string }, "0.source"],
      [{ resources: () => ["arn:aws:s3:::ok", 7 as unknown as string] }, "0.resources.1"],
      // Returned, not thrown: a ValidationError like any other Resources that are no array (was a
      // MappingFailedError whose cause was the mapping's own TypeError reading null's length).
      [{ resources: () => null as unknown as string[] }, "0.resources"],
      [{ resources: () => "arn:aws:s3:::b" as unknown as string[] }, "0.resources"],
      // PutEventsRequestEntry's limits, and the Source prefix AWS keeps for itself.
      [{ detailType: () => "D".repeat(129) }, "0.detailType"],
      [{ source: "s".repeat(257) }, "0.source"],
      [{ source: "aws.orders" }, "0.source"],
      [{ resources: () => Array.from({ length: 101 }, (_, i) => `arn:aws:s3:::b${i}`) }, "0.resources"],
      [{ resources: () => [`arn:aws:s3:::${"r".repeat(2048)}`] }, "0.resources.0"],
    ];
    const mapped = (detail: string): EventBridgeEventBusOptions => ({
      mapping: {
        toEntry: () => ({ source: "com.example", detailType: "A", detail }),
        fromEvent: () => good,
      },
    });
    // A Detail that is no JSON object would also have made the dead letter's body throw a SyntaxError.
    for (const detail of ["not json", "[1]", "7", "null"]) cases.push([mapped(detail), "0.detail"]);
    // A Time that is no Date threw a TypeError out of publish; an invalid Date was sent as null.
    for (const time of ["2024-01-01T00:00:00Z", 1_700_000_000, new Date(Number.NaN)]) {
      cases.push([
        {
          mapping: {
            toEntry: () => ({ source: "com.example", detailType: "A", detail: "{}", time: time as Date }),
            fromEvent: () => good,
          },
        },
        "0.time",
      ]);
    }
    for (const [options, path] of cases) {
      const error = await bus(options)
        .publish([good])
        .catch((e) => e);
      expect(isValidationError(error)).toBe(true);
      expect((error as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual([path]);
    }
    expect(sent).toHaveLength(0);
  });

  test("a mapping function that throws (source, detailType, resources, a custom toEntry) is a MappingFailedError naming the event, the thrown value its cause, before anything is sent", async () => {
    const good = testEnvelope("A", "S-1");
    const secret = new Error("postgres://app:hunter2@db/internal");
    const throwing = () => {
      throw secret;
    };
    const cases: EventBridgeEventBusOptions[] = [
      { source: throwing },
      { detailType: throwing },
      { resources: throwing },
      { mapping: { toEntry: throwing, fromEvent: () => good } },
      {
        detailType: () => {
          throw "a string";
        },
      },
    ];
    for (const options of cases) {
      const error = await bus(options)
        .publish([testEnvelope("A", "S-0"), good])
        .catch((e) => e);
      expect(error).toBeInstanceOf(MappingFailedError);
      expect(isEventFlowsError(error)).toBe(true);
      expect(error).toMatchObject({ code: EventBridgeErrorCode.MappingFailed, step: "toEntry" });
      expect((error as Error).message).not.toContain("hunter2");
      expect((error as Error).message).toContain("A");
      expect([secret, "a string"].includes((error as Error).cause as Error)).toBe(true);
    }
    // A typed error of the mapping's own is passed on as it is.
    const refusal = new ValidationError("not this one", [{ path: [], message: "no" }]);
    const refusing = bus({
      source: () => {
        throw refusal;
      },
    });
    expect(await refusing.publish([good]).catch((e) => e)).toBe(refusal);
    expect(sent).toHaveLength(0);
  });

  test("publishing nothing sends nothing", async () => {
    expect(await bus().publish([])).toEqual({ delivered: 0, failures: [], published: [], deadLettered: [] });
    expect(sent).toHaveLength(0);
  });
});

describe("EventBridgeEventBus configuration", () => {
  const saved: Record<string, string | undefined> = {};
  // The test command points AWS_ENDPOINT_URL_* at the emulators: these tests need a bare environment.
  const names = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EVENTS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
  ];
  beforeEach(() => {
    for (const name of names) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  test("missing credentials and region are a ValidationError from the constructor, naming the variables", () => {
    try {
      new EventBridgeEventBus({ aws: { endpoint: "http://127.0.0.1:9" } });
      throw new Error("unreachable");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const text = (error as ValidationError).issues.map((i) => i.message).join("\n");
      expect(text).toContain("AWS_REGION");
      expect(text).toContain("AWS_ACCESS_KEY_ID");
    }
  });

  test("credentials and region come from the environment (what Lambda sets)", () => {
    process.env.AWS_REGION = "eu-west-1";
    process.env.AWS_ACCESS_KEY_ID = "AKID";
    process.env.AWS_SECRET_ACCESS_KEY = "secret";
    const fromEnv = new EventBridgeEventBus({ eventBusName: "orders" });
    expect(fromEnv.client.region).toBe("eu-west-1");
    expect(fromEnv.client.endpoint).toBe("https://events.eu-west-1.amazonaws.com");
  });

  test("eventBusName is checked as EventBridge checks it (a name, or an event-bus ARN; 1 to 1600 characters), before any request", () => {
    const accepted = [
      "default",
      "orders",
      "orders.v2_eu-west/1",
      "aws.partner/example.com/123456789012/source",
      "arn:aws:events:eu-west-1:123456789012:event-bus/orders",
      "arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/orders",
      "arn:aws-cn:events:cn-north-1:123456789012:event-bus/default",
      "n".repeat(1600),
    ];
    for (const eventBusName of accepted) expect(bus({ eventBusName }).eventBusName).toBe(eventBusName);
    const refused = [
      "",
      "orders bus",
      "orders\n",
      "orders:prod",
      "bus#1",
      "ordres€",
      "n".repeat(1601),
      "arn:aws:events:eu-west-1:12345:event-bus/orders",
      "arn:aws:sqs:eu-west-1:123456789012:event-bus/orders",
      "arn:aws:events:eu-west-1:123456789012:rule/orders",
      "arn:aws:events:eu-west-1:123456789012:event-bus/",
      42,
    ];
    for (const eventBusName of refused) {
      let thrown: unknown;
      try {
        bus({ eventBusName } as unknown as EventBridgeEventBusOptions);
      } catch (error) {
        thrown = error;
      }
      expect({ eventBusName, refused: isValidationError(thrown) }).toEqual({ eventBusName, refused: true });
      expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["eventBusName"]);
    }
    expect(sent).toHaveLength(0);
  });

  test("bad options are refused", () => {
    expect(() => bus({ eventBusName: "" })).toThrow(ValidationError);
    expect(() => bus({ maxRequestBytes: MAX_REQUEST_BYTES + 1 })).toThrow(ValidationError);
    expect(() => bus({ deadLetter: { queueUrl: "not a url" } })).toThrow(ValidationError);
    expect(() => bus({ entryRetry: { maxAttempts: 0 } })).toThrow(ValidationError);
    // From JavaScript, options of the wrong kind: each failed later, at publish, with a bare TypeError
    // (a retryableEntryCodes array only once an entry had failed, after the others were sent).
    const wrong: [Record<string, unknown>, string][] = [
      [{ source: 5 }, "source"],
      [{ detailType: "OrderPlaced" }, "detailType"],
      [{ resources: ["arn:aws:s3:::b"] }, "resources"],
      [{ mapping: {} }, "mapping"],
      [{ retryableEntryCodes: ["InternalFailure"] }, "retryableEntryCodes"],
      [{ onError: "log" }, "onError"],
      [{ deadLetter: { queueUrl: "http://127.0.0.1:9/1/q", maxMessageBytes: 0 } }, "deadLetter.maxMessageBytes"],
      [
        { deadLetter: { queueUrl: "http://127.0.0.1:9/1/q", maxMessageBytes: Number.NaN } },
        "deadLetter.maxMessageBytes",
      ],
      // Over SQS's largest message (and SendMessageBatch request), 1 MiB: letters were batched up to it, and a batch
      // over 1 MiB was refused whole (BatchRequestTooLong, as moto answers too), every letter in it lost.
      [
        { deadLetter: { queueUrl: "http://127.0.0.1:9/1/q", maxMessageBytes: 1024 * 1024 + 1 } },
        "deadLetter.maxMessageBytes",
      ],
      // Named where they were given: these were named retry.…, the path of the AWS client's `aws.retry`.
      [{ entryRetry: { maxAttempts: 0 } }, "entryRetry.maxAttempts"],
      [{ entryRetry: { baseDelayMs: -1 } }, "entryRetry.baseDelayMs"],
      [{ entryRetry: { maxDelayMs: Number.NaN } }, "entryRetry.maxDelayMs"],
      [{ entryRetry: { random: "jitter" } }, "entryRetry.random"],
      // Not an object: no key was read, and every default kept without a word.
      [{ entryRetry: 5000 }, "entryRetry"],
      [{ entryRetry: "fast" }, "entryRetry"],
      [{ entryRetry: true }, "entryRetry"],
      [{ entryRetry: [] }, "entryRetry"],
      // Past setTimeout's limit: the wait for a throttled entry failed the publish with "Invalid sleep
      // arguments" after the other entries were sent, and the entry was neither retried nor dead-lettered.
      [{ entryRetry: { baseDelayMs: 2_147_483_648 } }, "entryRetry.baseDelayMs"],
      [{ entryRetry: { maxDelayMs: 3e9 } }, "entryRetry.maxDelayMs"],
    ];
    for (const [options, path] of wrong) {
      let thrown: unknown;
      try {
        bus(options as EventBridgeEventBusOptions);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual([path]);
    }
  });

  test("a bad entryRetry is one more issue of the bus's options, beside the others", () => {
    let thrown: unknown;
    try {
      bus({ eventBusName: "bus#1", entryRetry: { maxAttempts: 1.5 } });
    } catch (error) {
      thrown = error;
    }
    expect(isValidationError(thrown)).toBe(true);
    expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual([
      "eventBusName",
      "entryRetry.maxAttempts",
    ]);
  });

  test("a dead-letter queue URL with a user or password in it is refused without echoing it", () => {
    for (const queueUrl of [
      "https://user:pw-secret@sqs.eu-west-1.amazonaws.com/1/dlq",
      "http://pw-secret@127.0.0.1:9/q",
    ]) {
      let thrown: unknown;
      try {
        bus({ deadLetter: { queueUrl } });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as ValidationError).issues).toEqual([
        {
          path: ["deadLetter", "queueUrl"],
          message: "deadLetter must be a function or { queueUrl } with an http(s) URL without a user or password",
        },
      ]);
      expect(JSON.stringify(thrown) + String(thrown) + (thrown as Error).stack).not.toContain("pw-secret");
    }
    expect(sent).toHaveLength(0);
  });
});

/** A SendMessageBatch entry as the SQS test doubles below read it. */
interface SqsEntry {
  readonly Id: string;
  readonly MessageBody: string;
  readonly MessageAttributes: Record<string, { DataType: string; StringValue: string }>;
}

/** A `fetch` where PutEvents fails every entry for good and `sqs` answers each SendMessageBatch. */
function deadLetterDouble(sqs: (entries: SqsEntry[]) => Response): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = (await request.json()) as { Entries: Record<string, unknown>[] };
    if (request.headers.get("x-amz-target") === "AWSEvents.PutEvents") {
      const failed = body.Entries.map(() => ({ ErrorCode: "AccessDeniedException", ErrorMessage: "denied" }));
      return Response.json({ FailedEntryCount: failed.length, Entries: failed });
    }
    return sqs(body.Entries as unknown as SqsEntry[]);
  };
}

const sqsAccepted = (entries: readonly SqsEntry[]) =>
  Response.json({ Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] });

describe("dead letters within SQS's size limit (a test double: moto does not count message attributes)", () => {
  test("a SendMessageBatch is sized with its message attributes, as SQS counts them, so letters that fit are all kept", async () => {
    // PutEvents fails every entry for good; the SQS double refuses a batch whose bodies and message
    // attributes (name, type and value of each) come to more than the queue's maximum, as SQS does.
    const limit = { bytes: 0 };
    const batches: number[] = [];
    const double = deadLetterDouble((entries) => {
      const bytes = (text: string) => new TextEncoder().encode(text).length;
      const total = entries.reduce(
        (sum, entry) =>
          sum +
          bytes(entry.MessageBody) +
          Object.entries(entry.MessageAttributes).reduce(
            (n, [name, value]) => n + bytes(name) + bytes(value.DataType) + bytes(value.StringValue),
            0,
          ),
        0,
      );
      if (total > limit.bytes) {
        return Response.json(
          {
            __type: "com.amazonaws.sqs#BatchRequestTooLong",
            message: "Batch requests cannot be longer than the limit",
          },
          { status: 400 },
        );
      }
      batches.push(entries.length);
      return sqsAccepted(entries);
    });
    const events = Array.from({ length: 10 }, () => testEnvelope("OrderPlaced", "Order-1", { note: "x".repeat(600) }));
    // Measure the ten letters' bodies through a handler, then give the queue room for them but not
    // for their attributes too.
    const letters: DeadLetter[] = [];
    await new EventBridgeEventBus({
      aws: { ...aws, fetch: double },
      deadLetter: (l) => void letters.push(...l),
    }).publish(events);
    const bodies = letters.map((letter) => deadLetterBody(letter, "default", "us-east-1").length);
    limit.bytes = bodies.reduce((a, b) => a + b, 0) + 100;
    const result = await new EventBridgeEventBus({
      aws: { ...aws, fetch: double },
      deadLetter: { queueUrl: "http://127.0.0.1:9/000000000000/dlq", maxMessageBytes: limit.bytes },
    }).publish(events);
    expect(result.deadLettered).toHaveLength(10);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(10);
    expect(batches.length).toBeGreaterThan(1);
  });
});

describe("dead letters in characters SQS takes (a test double: moto takes any)", () => {
  test("U+FFFE and U+FFFF, which SQS refuses in a message, in an event's data and type: the letter is kept and reads back whole", async () => {
    // SQS takes #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF in a body
    // and in attribute values, and refuses the request otherwise; EventBridge takes these in Detail.
    const refused = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
    const kept: string[] = [];
    const double = deadLetterDouble((entries) => {
      const texts = entries.flatMap((e) => [
        e.MessageBody,
        ...Object.values(e.MessageAttributes).map((a) => a.StringValue),
      ]);
      if (texts.some((text) => refused.test(text))) {
        return Response.json(
          { __type: "com.amazonaws.sqs#InvalidMessageContents", message: "Invalid characters found." },
          { status: 400 },
        );
      }
      kept.push(...entries.map((e) => e.MessageBody));
      return sqsAccepted(entries);
    });
    const events = [
      testEnvelope("Order\uFFFFPlaced", "Order-1", { note: "a\uFFFEb\uFFFFc", ok: "é😀" }),
      testEnvelope("OrderPlaced", "Order-2", { "key\uFFFF": 1 }),
    ];
    const result = await new EventBridgeEventBus({
      aws: { ...aws, fetch: double },
      deadLetter: { queueUrl: "http://127.0.0.1:9/000000000000/dlq" },
    }).publish(events);
    expect(result.deadLettered).toHaveLength(2);
    const consumer = createSqsEventConsumer({ handlers: () => undefined });
    expect(kept.map((body) => consumer.decode(body))).toEqual(events);
  });
});

describe("dead letters SQS does not confirm (a test double: SQS lists every entry)", () => {
  test("a letter SendMessageBatch lists neither as Successful nor as Failed is not counted kept: publish throws, naming its event", async () => {
    // PutEvents' own answer is read the same way: an entry with no result is a failure, not a success.
    const double = deadLetterDouble((entries) =>
      Response.json({ Successful: entries.slice(1).map((entry) => ({ Id: entry.Id })), Failed: [] }),
    );
    const events = [testEnvelope("OrderPlaced", "Order-1"), testEnvelope("OrderPlaced", "Order-2")];
    const error = await new EventBridgeEventBus({
      aws: { ...aws, fetch: double },
      deadLetter: { queueUrl: "http://127.0.0.1:9/000000000000/dlq" },
    })
      .publish(events)
      .catch((e) => e);
    expect(error).toBeInstanceOf(PublishIncompleteError);
    const incomplete = error as PublishIncompleteError;
    expect(incomplete.undelivered.map(({ letter }) => letter.event.id)).toEqual([events[0]?.id]);
    expect(incomplete.undelivered.map(({ error }) => (error as ServiceError).serviceCode)).toEqual([
      "MissingResultEntry",
    ]);
    expect(incomplete.result.deadLettered.map((letter) => letter.event.id)).toEqual([events[1]?.id]);
  });
});

describe("what a failed entry's message carries (a test double answers PutEvents)", () => {
  test("credentials in an entry's ErrorMessage are masked in the dead letter, the handler failure and PublishIncompleteError", async () => {
    const secret = "hunter2-Qx9secret";
    const answer = async (request: Request): Promise<Response> => {
      const { Entries } = (await request.json()) as { Entries: unknown[] };
      return Response.json({
        FailedEntryCount: Entries.length,
        Entries: Entries.map(() => ({
          ErrorCode: "AccessDeniedException",
          ErrorMessage: `denied by a proxy for postgres://app:${secret}@db/app (password=${secret})`,
        })),
      });
    };
    const error = await new EventBridgeEventBus({ aws: { ...aws, fetch: answer } })
      .publish([testEnvelope("A", "S-1")])
      .catch((e) => e);
    expect(error).toBeInstanceOf(PublishIncompleteError);
    const incomplete = error as PublishIncompleteError;
    expect(incomplete.message).toContain("denied by a proxy");
    for (const shown of [
      incomplete.message,
      incomplete.undelivered.map(({ letter }) => letter.errorMessage).join(" "),
      incomplete.result.failures.map((failure) => (failure.error as Error).message).join(" "),
    ]) {
      expect(shown).not.toContain(secret);
    }
  });
});

describe("how retryable a failed publish says it is (a test double answers PutEvents)", () => {
  test("a network outage, or an entry code the bus retries, that outlasts the retries is retryable; a refusal for good is not", async () => {
    const down = async (): Promise<Response> => {
      throw Object.assign(new Error("connect ECONNREFUSED 10.0.0.7:443"), { code: "ECONNREFUSED" });
    };
    const failing =
      (code: string) =>
      async (request: Request): Promise<Response> => {
        const { Entries } = (await request.json()) as { Entries: unknown[] };
        return Response.json({
          FailedEntryCount: Entries.length,
          Entries: Entries.map(() => ({ ErrorCode: code, ErrorMessage: "failed" })),
        });
      };
    const cases: [EventBridgeEventBusOptions, boolean][] = [
      [{ aws: { ...aws, fetch: down, retry: { maxAttempts: 2, baseDelayMs: 0 } } }, true],
      [{ aws: { ...aws, fetch: failing("ThrottlingException") } }, true],
      [{ aws: { ...aws, fetch: failing("AccessDeniedException") } }, false],
      // A code the bus was told to retry is retryable in its errors too.
      [
        { aws: { ...aws, fetch: failing("ConcurrencyLimit") }, retryableEntryCodes: new Set(["ConcurrencyLimit"]) },
        true,
      ],
    ];
    for (const [options, retryable] of cases) {
      const error = await new EventBridgeEventBus({ ...options, entryRetry: { maxAttempts: 2, baseDelayMs: 0 } })
        .publish([testEnvelope("A", "S-1")])
        .catch((e) => e);
      expect(error).toBeInstanceOf(PublishIncompleteError);
      expect((error as PublishIncompleteError).retryable).toBe(retryable);
      expect((error as PublishIncompleteError).result.failures.map((f) => (f.error as ServiceError).retryable)).toEqual(
        [retryable],
      );
    }
  });
});

describe("publish under failures (a test double answers PutEvents and SendMessageBatch; moto fails no entry)", () => {
  test("property: requests keep EventBridge's limits and the publish order, and every event is published, dead-lettered or named undelivered, once", async () => {
    const plans = fc.array(
      fc.constantFrom(
        undefined,
        undefined,
        "InternalFailure",
        "ThrottlingException",
        "AccessDeniedException",
        "Missing",
      ),
      { minLength: 1, maxLength: 6 },
    );
    const specs = fc.array(fc.record({ pad: fc.nat(3_000), plan: plans }), { maxLength: 35 });
    await fc.assert(
      fc.asyncProperty(
        specs,
        fc.integer({ min: 3_500, max: 20_000 }),
        fc.constantFrom("none", "queue", "refusing"),
        async (spec, maxRequestBytes, deadLetter) => {
          const events = spec.map(({ pad }) => testEnvelope("A", "S-1", { pad: "x".repeat(pad) }));
          const plan = new Map(events.map((event, i) => [event.id, spec[i]?.plan ?? []]));
          const attempts = new Map<string, number>();
          const firstSent: string[] = [];
          const accepted: string[] = [];
          const double = async (request: Request): Promise<Response> => {
            const body = (await request.json()) as { Entries: PutEventsRequestEntry[] };
            if (request.headers.get("x-amz-target") !== "AWSEvents.PutEvents") {
              if (deadLetter === "refusing")
                return Response.json({ __type: "AccessDenied", message: "no" }, { status: 403 });
              const ids = (body.Entries as unknown as { Id: string }[]).map(({ Id }) => ({ Id }));
              return Response.json({ Successful: ids, Failed: [] });
            }
            expect(body.Entries.length).toBeLessThanOrEqual(10);
            const sizes = body.Entries.map((e) =>
              entrySize({ source: e.Source, detailType: e.DetailType, detail: e.Detail, time: new Date() }),
            );
            expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(maxRequestBytes);
            const results = body.Entries.map((entry) => {
              const id = (JSON.parse(entry.Detail) as EventEnvelope).id;
              const attempt = (attempts.get(id) ?? 0) + 1;
              attempts.set(id, attempt);
              if (attempt === 1) firstSent.push(id);
              const steps = plan.get(id) ?? [];
              return { id, code: steps[Math.min(attempt, steps.length) - 1] };
            });
            // "Missing": the response ends before this entry (EventBridge answered for fewer).
            const end = results.findIndex((r) => r.code === "Missing");
            const answered = end < 0 ? results : results.slice(0, end);
            const entries = answered.map(({ id, code }) => {
              if (code !== undefined) return { ErrorCode: code, ErrorMessage: "failed" };
              accepted.push(id);
              return { EventId: `ev-${id}` };
            });
            return Response.json({
              FailedEntryCount: entries.filter((e) => "ErrorCode" in e).length,
              Entries: entries,
            });
          };
          const bus = new EventBridgeEventBus({
            aws: { ...aws, fetch: double },
            maxRequestBytes,
            entryRetry: { baseDelayMs: 0, maxDelayMs: 0 },
            ...(deadLetter === "none" ? {} : { deadLetter: { queueUrl: "http://127.0.0.1:9/000000000000/dlq" } }),
          });
          let result: EventBridgePublishResult;
          let undelivered: string[] = [];
          try {
            result = await bus.publish(events);
          } catch (error) {
            if (isPayloadTooLargeError(error)) {
              expect(firstSent).toEqual([]);
              return;
            }
            expect(error).toBeInstanceOf(PublishIncompleteError);
            result = (error as PublishIncompleteError).result;
            undelivered = (error as PublishIncompleteError).undelivered.map(({ letter }) => letter.event.id);
          }
          expect(firstSent).toEqual(events.map((e) => e.id));
          const published = result.published.map((p) => p.event.id);
          expect(published.toSorted()).toEqual(accepted.toSorted());
          const dead = result.deadLettered.map((l) => l.event.id);
          expect([...published, ...dead, ...undelivered].toSorted()).toEqual(events.map((e) => e.id).toSorted());
          expect(result.delivered).toBe(published.length);
          expect(result.failures).toHaveLength(dead.length + undelivered.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
