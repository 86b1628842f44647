import { describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  configureMetrics,
  type EventEnvelope,
  eventRegistry,
  InMemoryEventBus,
  isEventFlowsError,
  isValidationError,
  MetricName,
  ValidationError,
} from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import {
  createSqsEventConsumer,
  EventBridgeErrorCode,
  envelopeDetail,
  HandlersFailedError,
  InMemoryDedupStore,
  MappingFailedError,
  type MessageFailure,
  OrderBlockedError,
  type SqsMessage,
} from "./index.js";

let counter = 0;
function message(envelope: EventEnvelope): SqsMessage {
  counter++;
  return {
    messageId: `m-${counter}`,
    body: JSON.stringify({
      version: "0",
      id: crypto.randomUUID(),
      "detail-type": envelope.type,
      source: "eventflows",
      account: "123456789012",
      time: "2024-01-01T00:00:00Z",
      region: "us-east-1",
      resources: [],
      detail: envelopeDetail(envelope),
    }),
  };
}

const quiet = { onFailure: () => undefined };

describe("SqsEventConsumer", () => {
  test("hands decoded envelopes to handlers by type and counts the ones no handler takes", async () => {
    const placed: EventEnvelope[] = [];
    const consumer = createSqsEventConsumer({ handlers: { Placed: (e) => void placed.push(e) }, ...quiet });
    const a = testEnvelope("Placed", "Order-1", { sku: "A" });
    const b = testEnvelope("Cancelled", "Order-1");
    const result = await consumer.consume([message(a), message(b)]);
    expect(placed).toEqual([a]);
    expect(result).toMatchObject({ handled: 1, unhandled: 1, duplicates: 0, batchItemFailures: [] });
  });

  test("a type whose list of handlers is empty is unhandled, as a type with no entry is", async () => {
    // It counted as handled (and `ok` in the metrics) though nothing ran.
    const consumer = createSqsEventConsumer({ handlers: { Placed: [] }, ...quiet });
    const result = await consumer.consume([message(testEnvelope("Placed", "Order-1"))]);
    expect(result).toMatchObject({ handled: 0, unhandled: 1, batchItemFailures: [] });
  });

  test("an event delivered twice, in one batch or across batches, is handled once", async () => {
    const seen: string[] = [];
    const consumer = createSqsEventConsumer({ handlers: (e) => void seen.push(e.id), ...quiet });
    const a = testEnvelope("A", "S-1");
    const b = testEnvelope("B", "S-1");
    const first = await consumer.consume([message(a), message(a), message(b)]);
    const second = await consumer.consume([message(b)]);
    expect(seen).toEqual([a.id, b.id]);
    expect(first).toMatchObject({ handled: 2, duplicates: 1 });
    expect(second).toMatchObject({ handled: 0, duplicates: 1 });
  });

  test("an event id is a ULID, whose case does not count: the same id in lower or mixed case is a duplicate, in one batch or across batches, through any dedup store", async () => {
    const seen: string[] = [];
    const dedup = new InMemoryDedupStore();
    const consumer = createSqsEventConsumer({ handlers: (e) => void seen.push(e.id), dedup, ...quiet });
    const a = testEnvelope("A", "S-1");
    const lower = { ...a, id: a.id.toLowerCase() };
    const mixed = { ...a, id: [...a.id].map((c, i) => (i % 2 === 0 ? c.toLowerCase() : c)).join("") };
    expect(lower.id).not.toBe(a.id);
    const first = await consumer.consume([message(lower), message(a)]);
    const second = await consumer.consume([message(mixed)]);
    expect(seen).toEqual([lower.id]);
    expect(first).toMatchObject({ handled: 1, duplicates: 1 });
    expect(second).toMatchObject({ handled: 0, duplicates: 1 });
    // Remembered in the canonical (upper case) form, as the stores write ids.
    expect(await dedup.has(a.id)).toBe(true);
  });

  test("an event whose handler failed is not remembered, so its redelivery is handled", async () => {
    let fail = true;
    const seen: string[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (e) => {
        if (fail) throw new Error("first attempt fails");
        seen.push(e.id);
      },
      ...quiet,
    });
    const a = testEnvelope("A", "S-1");
    const first = await consumer.consume([message(a)]);
    expect(first.batchItemFailures).toHaveLength(1);
    fail = false;
    const second = await consumer.consume([message(a)]);
    expect(second).toMatchObject({ handled: 1, batchItemFailures: [] });
    expect(seen).toEqual([a.id]);
  });

  test("only the messages whose handlers threw are reported, with the event and every error", async () => {
    const failures: MessageFailure[] = [];
    const consumer = createSqsEventConsumer({
      handlers: {
        A: [
          (e) => {
            if ((e.data as { bad?: boolean }).bad) throw new Error("one");
          },
          (e) => {
            if ((e.data as { bad?: boolean }).bad) throw new Error("two");
          },
        ],
      },
      onFailure: (failure) => failures.push(failure),
    });
    const messages = [
      message(testEnvelope("A", "S-1")),
      message(testEnvelope("A", "S-2", { bad: true })),
      message(testEnvelope("A", "S-3")),
    ];
    const result = await consumer.consume(messages);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: messages[1]?.messageId as string }]);
    expect(result.handled).toBe(2);
    const error = failures[0]?.error as HandlersFailedError;
    expect(error).toBeInstanceOf(HandlersFailedError);
    expect(error.errors.map((e) => (e as Error).message)).toEqual(["one", "two"]);
    expect(failures[0]?.event?.streamId).toBe("S-2");
  });

  test("an EventBus target: a failing subscriber fails the message", async () => {
    const bus = new InMemoryEventBus({ onError: () => undefined });
    bus.subscribeToType("A", () => {
      throw new Error("no");
    });
    const consumer = createSqsEventConsumer({ handlers: bus, ...quiet });
    const result = await consumer.consume([message(testEnvelope("A", "S-1")), message(testEnvelope("B", "S-1"))]);
    expect(result.batchItemFailures).toHaveLength(1);
    expect(result).toMatchObject({ handled: 0, unhandled: 1 });
  });

  test("malformed bodies fail with a typed ValidationError each, and the rest of the batch still runs", async () => {
    const failures: MessageFailure[] = [];
    const seen: string[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (e) => void seen.push(e.id),
      onFailure: (failure) => failures.push(failure),
    });
    const good = testEnvelope("A", "S-1");
    const bodies = [
      "not json",
      "[1,2]",
      '"a string"',
      '{"source":"x"}',
      JSON.stringify({ source: "x", "detail-type": "y", detail: { id: "not-an-envelope" } }),
    ];
    const result = await consumer.consume([
      ...bodies.map((body, i) => ({ messageId: `bad-${i}`, body })),
      message(good),
    ]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(bodies.map((_, i) => `bad-${i}`));
    expect(failures).toHaveLength(bodies.length);
    expect(failures.every((f) => isValidationError(f.error))).toBe(true);
    expect(failures.map((f) => (f.error as Error).message).join("\n")).not.toContain("not json");
    expect(seen).toEqual([good.id]);
  });

  test("an envelope whose data or metadata publish would refuse (nested past 64 levels, 1e400, a lone surrogate) fails its message with a ValidationError; handlers never see it", async () => {
    // A body that parses is not yet an envelope's JSON: 1e400 parses as Infinity, and nesting has no
    // bound, which handlers that serialize or store the event then meet (a store refuses it at best).
    const failures: MessageFailure[] = [];
    const seen: string[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (e) => void seen.push(e.id),
      onFailure: (failure) => failures.push(failure),
    });
    const good = testEnvelope("A", "S-1", { deep: [[[1]]] });
    // The raw JSON text goes in where the placeholders were, as a producer elsewhere could send it.
    const withData = (data: string, metadata = '"none"') =>
      message({ ...testEnvelope("A", "S-1", "<data>"), metadata: { m: "<metadata>" } })
        .body.replace('"<data>"', data)
        .replace('"<metadata>"', metadata);
    const bodies = [
      withData(`${"[".repeat(5_000)}${"]".repeat(5_000)}`),
      withData(`${"[".repeat(65)}${"]".repeat(65)}`),
      withData("1e400"),
      withData('{"text":"\\ud800"}'),
      withData("null", `${"[".repeat(70)}${"]".repeat(70)}`),
    ];
    expect(bodies.every((body) => !body.includes("<data>") && !body.includes("<metadata>"))).toBe(true);
    const result = await consumer.consume([
      ...bodies.map((body, i) => ({ messageId: `bad-${i}`, body })),
      message(good),
    ]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(bodies.map((_, i) => `bad-${i}`));
    expect(failures.every((f) => isValidationError(f.error))).toBe(true);
    expect(seen).toEqual([good.id]);
  });
  test("a custom mapping whose fromEvent throws: decode throws a MappingFailedError (cause kept, message without it), consume fails that message only", async () => {
    const secret = new Error("internal: table events_v2 at 10.0.0.7");
    const failures: MessageFailure[] = [];
    const seen: string[] = [];
    const good = testEnvelope("A", "S-1");
    const consumer = createSqsEventConsumer({
      handlers: (e) => void seen.push(e.id),
      onFailure: (failure) => failures.push(failure),
      mapping: {
        toEntry: () => ({ source: "s", detailType: "A", detail: "{}" }),
        fromEvent: (event) => {
          if ((event.detail as { id?: string }).id !== good.id) throw secret;
          return good;
        },
      },
    });
    const bad = message(testEnvelope("A", "S-2"));
    const error = (() => {
      try {
        consumer.decode(bad.body);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MappingFailedError);
    expect(error).toMatchObject({ code: EventBridgeErrorCode.MappingFailed, step: "fromEvent", cause: secret });
    expect(isEventFlowsError(error)).toBe(true);
    expect((error as Error).message).not.toContain("10.0.0.7");
    const result = await consumer.consume([bad, message(good)]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);
    expect(failures.map((f) => f.error)).toEqual([expect.any(MappingFailedError)]);
    expect(seen).toEqual([good.id]);
  });

  test("FIFO: after a failure, the rest of the batch is reported failed without being handled", async () => {
    const seen: number[] = [];
    const failures: MessageFailure[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (e) => {
        const n = (e.data as { n: number }).n;
        if (n === 2) throw new Error("two fails");
        seen.push(n);
      },
      fifo: true,
      onFailure: (failure) => failures.push(failure),
    });
    const messages = [1, 2, 3, 4].map((n) => message(testEnvelope("N", "S-1", { n })));
    const result = await consumer.consume(messages);
    expect(seen).toEqual([1]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(messages.slice(1).map((m) => m.messageId));
    expect(failures).toHaveLength(3);
    expect(failures[0]?.error).not.toBeInstanceOf(OrderBlockedError);
    expect(failures.slice(1).every((f) => f.error instanceof OrderBlockedError)).toBe(true);
  });

  test("dedup: false handles every delivery", async () => {
    let calls = 0;
    const consumer = createSqsEventConsumer({ handlers: () => void calls++, dedup: false, ...quiet });
    const a = message(testEnvelope("A", "S-1"));
    await consumer.consume([a, a]);
    expect(calls).toBe(2);
  });

  test("a batch with a message lacking a messageId is refused whole (it could not be reported)", async () => {
    const consumer = createSqsEventConsumer({ handlers: () => undefined, ...quiet });
    await expect(consumer.consume([{ body: "{}" } as never])).rejects.toThrow(ValidationError);
    await expect(consumer.consume("nope" as never)).rejects.toThrow(ValidationError);
  });

  test("a hole in a sparse batch is refused like a message without an id, not a TypeError", async () => {
    const consumer = createSqsEventConsumer({ handlers: () => undefined });
    const sparse: { messageId: string; body: string }[] = [];
    sparse[1] = { messageId: "m-1", body: "{}" };
    const error = await consumer.consume(sparse).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["0"]);
  });

  test("bad options are refused", () => {
    expect(() => createSqsEventConsumer({ handlers: 42 as never })).toThrow(ValidationError);
    expect(() => createSqsEventConsumer({ handlers: { A: "x" as never } })).toThrow(ValidationError);
    // From JavaScript, options of the wrong kind: each was taken, then failed every message with a
    // bare TypeError (redelivered until the queue's redrive gave up on the lot).
    const wrong: [Record<string, unknown>, string][] = [
      [{ dedup: {} }, "dedup"],
      [{ mapping: {} }, "mapping"],
      [{ eventRegistry: {} }, "eventRegistry"],
      [{ fifo: "yes" }, "fifo"],
      [{ onFailure: 5 }, "onFailure"],
      [{ telemetry: "off" }, "telemetry"],
    ];
    for (const [options, path] of wrong) {
      let thrown: unknown;
      try {
        createSqsEventConsumer({ handlers: () => undefined, ...options });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual([path]);
    }
  });
});

describe("InMemoryDedupStore", () => {
  test("forgets the oldest ids beyond maxEntries", () => {
    const store = new InMemoryDedupStore({ maxEntries: 2 });
    store.add("a");
    store.add("b");
    store.add("c");
    expect([store.has("a"), store.has("b"), store.has("c"), store.size]).toEqual([false, true, true, 2]);
    expect(() => new InMemoryDedupStore({ maxEntries: 0 })).toThrow(ValidationError);
  });
});

describe("SqsEventConsumer with an event registry", () => {
  test("upcasts each decoded event; a split event's parts go to the handlers in order, deduplicated as one", async () => {
    const registry = eventRegistry()
      .upcast("Placed", 1, (data: { sku: string }) => ({ ...data, quantity: 1 }))
      .split("Settled", 1, (event: { data: { amount: number } }) => [
        { type: "Paid", data: { amount: event.data.amount } },
        { type: "Closed", data: null },
      ]);
    const seen: [string, unknown][] = [];
    const consumer = createSqsEventConsumer({
      eventRegistry: registry,
      handlers: { Placed: (e) => void seen.push([e.type, e.data]), Paid: (e) => void seen.push([e.type, e.data]) },
      ...quiet,
    });
    const settled = message(testEnvelope("Settled", "Order-1", { amount: 5 }));
    const result = await consumer.consume([message(testEnvelope("Placed", "Order-1", { sku: "A" })), settled, settled]);
    expect(seen).toEqual([
      ["Placed", { sku: "A", quantity: 1 }],
      ["Paid", { amount: 5 }],
    ]);
    expect([result.handled, result.duplicates, result.unhandled]).toEqual([2, 1, 0]);
  });

  test("a registry with a hole is refused when the consumer is made; an event newer than it knows fails its message", async () => {
    // Steps from v1 and a v3 schema, no step from v2: a v2 event published by a release would reach handlers as v2.
    const holed = eventRegistry()
      .upcast("Placed", 1, (data: { sku: string }) => ({ ...data, quantity: 1 }))
      .schema("Placed", 3, { "~standard": { version: 1, vendor: "test", validate: (value) => ({ value }) } });
    expect(() => createSqsEventConsumer({ eventRegistry: holed, handlers: () => undefined, ...quiet })).toThrow(
      /"Placed" is known from v1 to v3 but has no step from v2/,
    );
    const handled: unknown[] = [];
    const consumer = createSqsEventConsumer({
      eventRegistry: eventRegistry().upcast("Placed", 1, (data: { sku: string }) => ({ ...data, quantity: 1 })),
      handlers: (e) => void handled.push(e.metadata.schemaVersion),
      ...quiet,
    });
    // Published by a newer release at v3: this one knows Placed up to v2.
    const newer = message({ ...testEnvelope("Placed", "Order-1", { sku: "A" }), metadata: { schemaVersion: 3 } });
    const result = await consumer.consume([newer, message(testEnvelope("Placed", "Order-1", { sku: "B" }))]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: newer.messageId }]);
    expect(handled).toEqual([2]);
  });

  test("an upcaster that throws fails that message only; the rest of the batch runs", async () => {
    const registry = eventRegistry().upcast("Broken", 1, () => {
      throw new Error("cannot upcast");
    });
    const handled: string[] = [];
    const consumer = createSqsEventConsumer({
      eventRegistry: registry,
      handlers: (e) => void handled.push(e.type),
      ...quiet,
    });
    const bad = message(testEnvelope("Broken", "Order-1"));
    const result = await consumer.consume([bad, message(testEnvelope("Fine", "Order-1"))]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);
    expect(handled).toEqual(["Fine"]);
  });
});

/** An SDK reader collected by hand. */
class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe("SqsEventConsumer metrics", () => {
  test("each handled event counts as consumed by sqs, one no handler takes as unhandled; failures and undecodable messages count as errors by code", async () => {
    const reader = new Reader();
    configureMetrics({ enabled: true, meterProvider: new MeterProvider({ readers: [reader] }) });
    try {
      const consumer = createSqsEventConsumer({
        ...quiet,
        handlers: {
          Placed: () => undefined,
          Broken: () => {
            throw new ValidationError("nope");
          },
        },
      });
      const placed = message(testEnvelope("Placed", "Order-1"));
      await consumer.consume([
        placed,
        message(testEnvelope("Broken", "Order-2")),
        { messageId: "garbage", body: "{" },
        // No handler takes it: acknowledged, and counted as `unhandled` (it was counted `ok`, as if handled).
        message(testEnvelope("Unknown", "Order-3")),
        // Redelivered: acknowledged without running handlers, and not counted again.
        placed,
      ]);
      const points = (await reader.collect()).resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .flatMap((metric) => metric.dataPoints.map((point) => ({ name: metric.descriptor.name, ...point })));
      const consumed = points.filter((point) => point.name === MetricName.eventsConsumed);
      expect(consumed.map((point) => [point.attributes, point.value])).toEqual([
        [{ "eventflows.event.type": "Placed", "eventflows.consumer": "sqs", "eventflows.outcome": "ok" }, 1],
        [{ "eventflows.event.type": "Broken", "eventflows.consumer": "sqs", "eventflows.outcome": "error" }, 1],
        [{ "eventflows.event.type": "Unknown", "eventflows.consumer": "sqs", "eventflows.outcome": "unhandled" }, 1],
      ]);
      const errors = points.filter((point) => point.name === MetricName.errors);
      expect(errors.map((point) => point.value).reduce((a, b) => (a as number) + (b as number), 0)).toBe(2);
      expect(errors.every((point) => point.attributes["eventflows.operation"] === "consume")).toBe(true);
    } finally {
      configureMetrics({ meterProvider: undefined });
    }
  });
});
