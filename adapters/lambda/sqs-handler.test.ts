import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  type EventEnvelope,
  InMemoryEventBus,
  isValidationError,
  jsonLogger,
  setLogger,
  ValidationError,
} from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { createSqsEventConsumer, envelopeDetail } from "../eventbridge/index.js";
import documented from "./fixtures/sqs-event.json";
import { createSqsHandler, type SqsEvent } from "./index.js";

/** The body EventBridge puts in an SQS message for a rule target, carrying an envelope. */
function eventBridgeBody(envelope: EventEnvelope): string {
  return JSON.stringify({
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": envelope.type,
    source: "eventflows",
    account: "123456789012",
    time: "2024-01-01T00:00:00Z",
    region: "us-east-2",
    resources: [],
    detail: envelopeDetail(envelope),
  });
}

/** AWS's documented SQS event, with the given bodies (one record per body). */
function sqsEvent(bodies: readonly string[]): SqsEvent {
  const template = (documented as unknown as SqsEvent).Records[0];
  return {
    Records: bodies.map((body, i) => ({ ...structuredClone(template), messageId: `message-${i}`, body })),
  } as unknown as SqsEvent;
}

describe("createSqsHandler", () => {
  test("AWS's documented example event: bodies that are not EventBridge events fail, typed, without crashing", async () => {
    const failures: unknown[] = [];
    const consumer = createSqsEventConsumer({
      handlers: () => undefined,
      onFailure: (failure) => failures.push(failure.error),
    });
    const response = await createSqsHandler(consumer)(documented as unknown as SqsEvent);
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: "059f36b4-87a3-44ab-83d2-661975830a7d" },
        { itemIdentifier: "2e1424d4-f796-459a-8184-9c92662be6da" },
      ],
    });
    expect(failures).toHaveLength(2);
    expect(failures.every(isValidationError)).toBe(true);
  });

  test("only the records whose handler threw are reported; the others reach the bus intact", async () => {
    const bus = new InMemoryEventBus({ onError: () => undefined });
    const received: EventEnvelope[] = [];
    bus.subscribeToAll((event) => {
      if ((event.data as { fail?: boolean }).fail) throw new Error("handler failed");
      received.push(event);
    });
    const events = [
      testEnvelope("OrderPlaced", "Order-1", { n: 1 }),
      testEnvelope("OrderPlaced", "Order-2", { n: 2, fail: true }),
      testEnvelope("OrderShipped", "Order-1", { n: 3 }),
    ];
    const handler = createSqsHandler(createSqsEventConsumer({ handlers: bus, onFailure: () => undefined }));
    const response = await handler(sqsEvent(events.map(eventBridgeBody)));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "message-1" }] });
    expect(received).toEqual([events[0], events[2]] as EventEnvelope[]);
  });

  test("property (fast-check): batchItemFailures is exactly the records that failed (undecodable, or a handler threw), in order, whatever mix of redeliveries, garbage and failures a batch holds, standard and FIFO", async () => {
    const pool = Array.from({ length: 4 }, (_, i) => testEnvelope("OrderPlaced", `Order-${i}`, { n: i }));
    const record = fc.oneof(
      { weight: 4, arbitrary: fc.record({ event: fc.nat(3), fail: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constantFrom("", "{", "null", "[]", '{"detail":{}}', "\u0000") },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 10 }), fc.boolean(), async (batch, fifo) => {
        // A delivery that fails says so in its body's data, so one event can fail once and pass on redelivery.
        const bodies = batch.map((each) =>
          typeof each === "string"
            ? each
            : eventBridgeBody({ ...(pool[each.event] as EventEnvelope), data: { fail: each.fail } }),
        );
        const handled: string[] = [];
        const consumer = createSqsEventConsumer({
          handlers: (event) => {
            if ((event.data as { fail: boolean }).fail) throw new Error("handler failed");
            handled.push(event.id);
          },
          fifo,
          onFailure: () => undefined,
        });
        const response = await createSqsHandler(consumer)(sqsEvent(bodies));
        // The model: a delivery of an event handled before in the batch is a duplicate (acknowledged);
        // garbage and a throwing handler fail; in FIFO order everything after a failure fails too.
        const done = new Set<string>();
        const failed: string[] = [];
        for (const [i, each] of batch.entries()) {
          const id = `message-${i}`;
          if (fifo && failed.length > 0) failed.push(id);
          else if (typeof each === "string") failed.push(id);
          else if (done.has((pool[each.event] as EventEnvelope).id)) continue;
          else if (each.fail) failed.push(id);
          else done.add((pool[each.event] as EventEnvelope).id);
        }
        expect(response.batchItemFailures).toEqual(failed.map((itemIdentifier) => ({ itemIdentifier })));
        expect(handled).toEqual([...done]);
      }),
      { numRuns: 300, seed: 39 },
    );
  });

  test("a consumer that throws for the whole batch gets every record reported, nothing acknowledged", async () => {
    const errors: unknown[] = [];
    const handler = createSqsHandler(
      {
        consume: async () => {
          throw new Error("dedup table unreachable");
        },
      },
      { onError: (error) => errors.push(error) },
    );
    const response = await handler(sqsEvent(["a", "b"]));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(["message-0", "message-1"]);
    expect(errors).toHaveLength(1);
  });

  test("null options are no options: a failing batch is still reported whole; an onError that is no function is refused", async () => {
    const handler = createSqsHandler(
      {
        consume: async () => {
          throw new Error("dedup table unreachable");
        },
      },
      null,
    );
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    try {
      const response = await handler(sqsEvent(["a", "b"]));
      expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(["message-0", "message-1"]);
    } finally {
      setLogger(undefined);
    }
    // The default onError: a line on the library's logger.
    expect(lines.join("\n")).toContain("dedup table unreachable");
    const consumer = createSqsEventConsumer({ handlers: () => undefined });
    for (const onError of [5, "log", null]) {
      expect(() => createSqsHandler(consumer, { onError } as never)).toThrow(ValidationError);
    }
    // Options that are no object (from JavaScript) are refused too, naming them, not taken as none.
    for (const options of ["log", 5, true, [() => undefined]]) {
      expect(() => createSqsHandler(consumer, options as never)).toThrow(
        "Invalid SQS handler: options: must be an object",
      );
    }
  });

  test("something that is not an SQS event is refused with a ValidationError", async () => {
    const handler = createSqsHandler(createSqsEventConsumer({ handlers: () => undefined }));
    await expect(handler({} as never)).rejects.toThrow(ValidationError);
    await expect(handler({ Records: [{ body: "x" }] } as never)).rejects.toThrow(/messageId/);
    expect(() => createSqsHandler({} as never)).toThrow(ValidationError);
    // An onError that is no function was only found when the batch failed, and the error then went unreported.
    expect(() =>
      createSqsHandler(createSqsEventConsumer({ handlers: () => undefined }), { onError: "log" as never }),
    ).toThrow(ValidationError);
    // A hole is a record without a messageId, refused alike, not a TypeError later.
    const sparse: unknown[] = [];
    sparse[1] = { messageId: "m-1", body: "x" };
    const error = await handler({ Records: sparse } as never).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["Records.0"]);
  });
});
