import { afterEach, describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { AggregateRoot } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
import { ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { defineStream } from "../events/stream.js";
import { jsonLogger } from "../logging/json-logger.js";
import { setLogger } from "../logging/library-logger.js";
import { CommandBus } from "../messaging/command-bus.js";
import { QueryBus } from "../messaging/query-bus.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { configureTelemetry, telemetryConfig } from "./config.js";
import { parseTraceparent } from "./propagation.js";

const tracing = useTracing();

afterEach(() => {
  configureTelemetry();
  setLogger(undefined);
});

class Counter extends AggregateRoot<{ count: number }, { type: "Incremented"; data: { by: number } }> {
  constructor(id: string) {
    super(id, { count: 0 });
  }
  get count() {
    return this.state.count;
  }
  increment(by: number) {
    this.raise("Incremented", { by });
  }
  protected onIncremented(event: { data: { by: number } }) {
    this.state.count += event.data.by;
  }
}
const Counters = defineStream("Counter");

function app(options: { storeTelemetry?: boolean; busTelemetry?: boolean } = {}) {
  const bus = new InMemoryEventBus(options.busTelemetry === undefined ? {} : { telemetry: options.busTelemetry });
  const store = new InMemoryEventStore(
    options.storeTelemetry === undefined ? { bus } : { bus, telemetry: options.storeTelemetry },
  );
  const repository = new AggregateRepository({ store, stream: Counters, create: (id) => new Counter(id) });
  const commands = new CommandBus();
  commands.register("Increment", async (payload: unknown) => {
    const { id, by } = payload as { id: string; by: number };
    const { appended } = await repository.update(id, (counter) => counter.increment(by), { createIfMissing: true });
    return appended.nextExpectedVersion;
  });
  return { bus, store, repository, commands };
}

describe("spans with an SDK registered", () => {
  test("a command's dispatch, rehydration, append and publish are one trace, nested in that order", async () => {
    const { commands, bus } = app();
    const handled: string[] = [];
    bus.subscribeToAll((event) => void handled.push(event.type), { name: "audit" });
    await commands.execute("Increment", { id: "c1", by: 2 }, { metadata: { correlationId: "corr-1" } });

    const command = tracing.named("command Increment");
    const rehydrate = tracing.named("rehydrate");
    const append = tracing.named("appendToStream");
    const publish = tracing.named("publish");
    const process = tracing.named("process Incremented");
    const traceId = command.spanContext().traceId;
    for (const span of [rehydrate, append, publish, process]) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(command)).toBeUndefined();
    expect(parentOf(rehydrate)).toBe(command.spanContext().spanId);
    expect(parentOf(append)).toBe(command.spanContext().spanId);
    expect(parentOf(publish)).toBe(append.spanContext().spanId);
    expect(parentOf(process)).toBe(publish.spanContext().spanId);

    expect(command.attributes).toMatchObject({
      "eventflows.message.kind": "command",
      "eventflows.message.type": "Increment",
      "eventflows.correlation_id": "corr-1",
    });
    expect(append.kind).toBe(SpanKind.CLIENT);
    expect(append.attributes).toMatchObject({
      "db.system": "memory",
      "db.operation.name": "appendToStream",
      "eventflows.stream_id": "Counter-c1",
      "eventflows.event_count": 1,
      "eventflows.expected_version": "no-stream",
      "eventflows.outcome": "committed",
      "eventflows.stream_version": 1,
    });
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes["messaging.batch.message_count"]).toBe(1);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.attributes).toMatchObject({
      "messaging.consumer.group.name": "audit",
      "eventflows.event_type": "Incremented",
      "eventflows.stream_id": "Counter-c1",
    });
    expect(handled).toEqual(["Incremented"]);
  });

  test("appended events carry the append span's traceparent in their metadata", async () => {
    const { commands, store } = app();
    await commands.execute("Increment", { id: "c2", by: 1 });
    const append = tracing.named("appendToStream");
    const [event] = await Array.fromAsync(store.readStream("Counter-c2"));
    const carried = parseTraceparent(event?.metadata.traceparent);
    expect(carried?.traceId).toBe(append.spanContext().traceId);
    expect(carried?.spanId).toBe(append.spanContext().spanId);
  });

  test("a conflict is recorded on the append span with its stable code and outcome", async () => {
    const { store } = app();
    await store.appendToStream("S-1", [{ type: "A", data: 1 }]);
    tracing.exporter.reset();
    await expect(store.appendToStream("S-1", [{ type: "A", data: 2 }], { expectedVersion: 0 })).rejects.toThrow();
    const append = tracing.named("appendToStream");
    expect(append.status.code).toBe(SpanStatusCode.ERROR);
    expect(append.attributes).toMatchObject({
      "eventflows.outcome": "conflict",
      "eventflows.error.code": "CONCURRENCY_CONFLICT",
      "error.type": "CONCURRENCY_CONFLICT",
    });
    const exception = append.events.find((event) => event.name === "exception");
    expect(exception?.attributes?.["exception.code"]).toBe("CONCURRENCY_CONFLICT");
  });

  test("a failing dispatch records the error's code; an unregistered type stays out of the span name", async () => {
    const commands = new CommandBus();
    await expect(commands.execute("Nope", {}, { metadata: { correlationId: "corr-2" } })).rejects.toThrow();
    const span = tracing.named("command");
    expect(span.attributes["eventflows.message.type"]).toBeUndefined();
    expect(span.attributes["eventflows.error.code"]).toBe("HANDLER_NOT_FOUND");
    expect(span.attributes["eventflows.message.kind"]).toBe("command");
    expect(span.attributes["eventflows.correlation_id"]).toBe("corr-2");
  });

  test("an error's message on the span is masked as the logs mask it: no connection password, token or credential header", async () => {
    const commands = new CommandBus();
    // An EventFlowsError of the application's (or one quoting a store's refusal) whose text holds credentials.
    const message =
      "the store refused: postgres://app:pw-s3cret@db.internal/shop?sslmode=require\nAuthorization: tok-s3cret\n" +
      '{"client_secret":"cs-s3cret"} access_token=at-s3cret';
    commands.register("Connect", async () => {
      throw new ValidationError(message);
    });
    await expect(commands.execute("Connect", {})).rejects.toThrow(ValidationError);
    const span = tracing.named("command Connect");
    const exception = span.events.find((event) => event.name === "exception");
    const text = JSON.stringify({ attributes: span.attributes, events: span.events, status: span.status });
    expect(text).not.toContain("s3cret");
    expect(exception?.attributes?.["exception.message"]).toContain("postgres://app:[redacted]@db.internal/shop");
    expect(exception?.attributes?.["exception.code"]).toBe("VALIDATION_FAILED");
  });

  test("options whose reading throws are a rejection, as without OpenTelemetry, never a synchronous throw", async () => {
    const { commands } = app();
    let runs = 0;
    commands.register("Count", () => ++runs);
    const throwing = Object.defineProperty({}, "metadata", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const options of [throwing, revoked]) {
      let pending: Promise<unknown> | undefined;
      expect(() => {
        pending = commands.execute("Count", {}, options as never);
      }).not.toThrow();
      // As without OpenTelemetry: the getter's own error; a revoked Proxy is options that cannot be read.
      await expect(pending).rejects.toThrow(options === throwing ? "boom" : "cannot be read");
    }
    expect(runs).toBe(0);
    // A metadata object whose correlation id throws when read: dispatched once, not traced twice over.
    const hostileMetadata = Object.defineProperty({}, "correlationId", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    await commands.execute("Count", {}, { metadata: hostileMetadata }).catch(() => undefined);
    expect(runs).toBeLessThanOrEqual(1);
  });

  test("query dispatch has its own span", async () => {
    const queries = new QueryBus();
    queries.register("Count", () => 3);
    expect(await queries.execute("Count", {})).toBe(3);
    expect(tracing.named("query Count").attributes).toEqual({
      "eventflows.message.kind": "query",
      "eventflows.message.type": "Count",
    });
  });

  test("a dispatch with a traceparent in its metadata and no active span continues that trace", async () => {
    const queries = new QueryBus();
    queries.register("Count", () => 3);
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await queries.execute("Count", {}, { metadata: { traceparent } });
    const span = tracing.named("query Count");
    expect(span.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(parentOf(span)).toBe("b7ad6b7169203331");
  });

  test("reads have spans with the number of events read", async () => {
    const { store } = app();
    await store.appendToStream("R-1", [
      { type: "A", data: 1 },
      { type: "A", data: 2 },
    ]);
    tracing.exporter.reset();
    expect(await Array.fromAsync(store.readStream("R-1"))).toHaveLength(2);
    expect(await Array.fromAsync(store.readAll())).toHaveLength(2);
    expect(tracing.named("readStream").attributes).toMatchObject({
      "db.system": "memory",
      "eventflows.stream_id": "R-1",
      "eventflows.event_count": 2,
      "eventflows.outcome": "read",
    });
    expect(tracing.named("readAll").attributes["eventflows.event_count"]).toBe(2);
  });

  test("a reader that stops early still ends the span", async () => {
    const { store } = app();
    await store.appendToStream("R-2", [
      { type: "A", data: 1 },
      { type: "A", data: 2 },
    ]);
    tracing.exporter.reset();
    for await (const _ of store.readStream("R-2")) break;
    expect(tracing.named("readStream").attributes["eventflows.event_count"]).toBe(1);
  });

  test("a store subscription's handler continues the trace of the event, not the subscriber's", async () => {
    const { store } = app();
    const tracer = trace.getTracer("test");
    const seen: string[] = [];
    const outer = tracer.startSpan("subscriber set-up");
    const subscription = trace.getTracer("test").startActiveSpan("unrelated", (span) => {
      const started = store.subscribeToAll({
        name: "projector",
        handler: (event) => void seen.push(event.id),
        pollIntervalMs: 5,
      });
      span.end();
      return started;
    });
    outer.end();
    await store.appendToStream("Sub-1", [{ type: "A", data: 1 }]);
    while (seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await subscription.stop();
    const append = tracing.named("appendToStream");
    const handled = tracing
      .spans()
      .find((span) => span.name === "process A" && span.attributes["messaging.consumer.group.name"] === "projector");
    expect(handled?.spanContext().traceId).toBe(append.spanContext().traceId);
    expect(handled ? parentOf(handled) : "none").toBe(append.spanContext().spanId);
  });

  test("a store subscription's handler span keeps the event's tracestate as W3C reads it", async () => {
    // Untraced appends store metadata as given: the event carries another service's trace context.
    const store = new InMemoryEventStore({ telemetry: false });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const members = Array.from({ length: 34 }, (_, i) => `k${i}=${i}`);
    await store.appendToStream("Trace-1", [
      { type: "A", data: 1, metadata: { traceparent, tracestate: "a=1,B=2, c=3 ,d=x=y" } },
      { type: "A", data: 2, metadata: { traceparent, tracestate: members.join(",") } },
    ]);
    let seen = 0;
    const subscription = store.subscribeToAll({ handler: () => void seen++, pollIntervalMs: 5 });
    while (seen < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await subscription.stop();
    const handled = tracing.spans().filter((span) => span.name === "process A");
    expect(handled.map((span) => span.spanContext().traceState?.serialize())).toEqual([
      "a=1,c=3",
      members.slice(0, 32).join(","),
    ]);
    for (const span of handled) expect(span.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  test("snapshot save and load have spans; a rehydration says how many events it replayed", async () => {
    const snapshots = new InMemorySnapshotStore();
    const store = new InMemoryEventStore();
    const repository = new AggregateRepository({
      store,
      stream: Counters,
      create: (id) => new Counter(id),
      snapshots: { store: snapshots, policy: () => true },
    });
    const counter = new Counter("s1");
    counter.increment(1);
    counter.increment(1);
    await repository.save(counter);
    await repository.flushSnapshots();
    await store.appendToStream("Counter-s1", [{ type: "Incremented", data: { by: 5 } }]);
    tracing.exporter.reset();
    const loaded = await repository.load("s1");
    expect(loaded.count).toBe(7);
    expect(tracing.named("snapshot load").attributes).toMatchObject({
      "db.system": "memory",
      "eventflows.stream_id": "Counter-s1",
      "eventflows.outcome": "found",
      "eventflows.snapshot_version": 2,
    });
    expect(tracing.named("rehydrate").attributes).toMatchObject({
      "eventflows.stream_id": "Counter-s1",
      "eventflows.events_replayed": 1,
      "eventflows.snapshot_version": 2,
      "eventflows.stream_version": 3,
    });
    await snapshots.save({ streamId: "Counter-s1", version: 3, state: { count: 7 } });
    expect(tracing.named("snapshot save").attributes).toMatchObject({ "eventflows.snapshot_version": 3 });
  });
});

describe("opting out", () => {
  test("globally: configureTelemetry({ tracing: false }) makes no spans at all", async () => {
    configureTelemetry({ tracing: false });
    const { commands, store } = app();
    await commands.execute("Increment", { id: "o1", by: 1 });
    expect(tracing.spans()).toHaveLength(0);
    const [event] = await Array.fromAsync(store.readStream("Counter-o1"));
    expect(event?.metadata.traceparent).toBeUndefined();
  });

  test("per component: a store and a bus with telemetry: false make no spans of their own", async () => {
    const { commands } = app({ storeTelemetry: false, busTelemetry: false });
    await commands.execute("Increment", { id: "o2", by: 1 });
    const names = tracing.spans().map((span) => span.name);
    expect(names).toContain("command Increment");
    expect(names).not.toContain("appendToStream");
    expect(names).not.toContain("publish");
    expect(names).not.toContain("process Incremented");
    const bus = new CommandBus({ telemetry: false });
    bus.register("X", () => 1);
    tracing.exporter.reset();
    await bus.execute("X", {});
    expect(tracing.spans()).toHaveLength(0);
  });
});

describe("slow paths", () => {
  test("a store call over the threshold logs a warning and adds an eventflows.slow event to its span", async () => {
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    configureTelemetry({ slowStoreCallMs: 0 });
    const { store } = app();
    await store.appendToStream("Slow-1", [{ type: "A", data: 1 }]);
    const append = tracing.named("appendToStream");
    const slow = append.events.find((event) => event.name === "eventflows.slow");
    expect(slow?.attributes).toMatchObject({
      "eventflows.operation": "append",
      "eventflows.stream_id": "Slow-1",
      "eventflows.event_count": 1,
      "eventflows.threshold_ms": 0,
    });
    const warning = lines.map((line) => JSON.parse(line)).find((line) => line.operation === "append");
    expect(warning).toMatchObject({ level: "warn", streamId: "Slow-1", events: 1, thresholdMs: 0 });
    expect(typeof warning.durationMs).toBe("number");
  });

  test("a slow rehydration logs the events replayed and the time, on the rehydrate span too", async () => {
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    const { store, repository } = app();
    await store.appendToStream("Counter-r1", [
      { type: "Incremented", data: { by: 1 } },
      { type: "Incremented", data: { by: 1 } },
    ]);
    configureTelemetry({ slowRehydrationMs: 0, slowStoreCallMs: false });
    tracing.exporter.reset();
    await repository.load("r1");
    const slow = tracing.named("rehydrate").events.find((event) => event.name === "eventflows.slow");
    expect(slow?.attributes).toMatchObject({ "eventflows.operation": "rehydration", "eventflows.event_count": 2 });
    const warnings = lines.map((line) => JSON.parse(line)).filter((line) => line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ operation: "rehydration", streamId: "Counter-r1", events: 2 });
    // The line carries the ids of the span it was written in.
    expect(warnings[0].traceId).toBe(tracing.named("rehydrate").spanContext().traceId);
  });

  test("under the threshold nothing is logged and no event is added", async () => {
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    configureTelemetry({ slowStoreCallMs: 60_000 });
    const { store } = app();
    await store.appendToStream("Fast-1", [{ type: "A", data: 1 }]);
    expect(tracing.named("appendToStream").events.filter((event) => event.name === "eventflows.slow")).toHaveLength(0);
    expect(lines).toHaveLength(0);
  });

  test("thresholds must be non-negative numbers or false", () => {
    expect(() => configureTelemetry({ slowStoreCallMs: -1 })).toThrow("slowStoreCallMs");
    expect(() => configureTelemetry({ slowRehydrationMs: Number.NaN })).toThrow("slowRehydrationMs");
  });

  test("settings that are not an object are a ValidationError, and nothing is changed", () => {
    configureTelemetry({ slowStoreCallMs: 250 });
    // Before: null threw a raw TypeError, and a string, a number or an array were taken as no change.
    for (const bad of [null, "off", 5, [], true]) {
      expect(() => configureTelemetry(bad as never)).toThrow(ValidationError);
    }
    expect(telemetryConfig().slowStoreCallMs).toBe(250);
  });

  test("a misspelt setting is a ValidationError naming it, and nothing is changed (`tracng: false` left tracing on)", () => {
    configureTelemetry({ slowStoreCallMs: 250 });
    const error = (() => {
      try {
        configureTelemetry({ tracng: false, slowStoreCallMs: 500 } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { path: ["tracng"], message: expect.stringContaining("is not an option") },
    ]);
    expect(telemetryConfig()).toMatchObject({ tracing: true, slowStoreCallMs: 250 });
  });

  test("a setting of the wrong kind is named once, by its path (not `tracing: tracing must be …`)", () => {
    expect(() => configureTelemetry({ tracing: "no" } as never)).toThrow(
      /^Invalid telemetry options: tracing: must be a boolean$/,
    );
    expect(() => configureTelemetry({ slowStoreCallMs: -1 })).toThrow(
      /^Invalid telemetry options: slowStoreCallMs: must be a non-negative number of milliseconds or false$/,
    );
  });
});

describe("slow snapshot calls", () => {
  test("a snapshot load over the threshold is reported like any store call", async () => {
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    configureTelemetry({ slowStoreCallMs: 0 });
    const snapshots = new InMemorySnapshotStore();
    await snapshots.save({ streamId: "Snap-1", version: 1, state: { n: 1 } });
    await snapshots.load("Snap-1");
    const load = tracing.named("snapshot load");
    expect(load.events.find((event) => event.name === "eventflows.slow")?.attributes).toMatchObject({
      "eventflows.operation": "snapshot load",
      "eventflows.stream_id": "Snap-1",
    });
    const operations = lines.map((line) => JSON.parse(line).operation);
    expect(operations).toEqual(["snapshot save", "snapshot load"]);
  });
});
