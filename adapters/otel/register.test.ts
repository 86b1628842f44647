/**
 * The real trace export path: the SDK's `OTLPTraceExporter` (`@opentelemetry/exporter-trace-otlp-http`)
 * wired with `registerOpenTelemetry`, POSTing OTLP/HTTP JSON to a receiver this test starts; the
 * decoded payload holds the library's spans, their attributes and their nesting.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import {
  activeTracer,
  CommandBus,
  eventMetadataFor,
  InMemoryEventStore,
  InMemoryReadModelStore,
  isServiceError,
  isValidationError,
  jsonLogger,
  ProjectionRunner,
  projection,
  type ServiceError,
  setLogger,
} from "../../src/index.js";
import { type RegisteredOpenTelemetry, registerOpenTelemetry } from "./index.js";

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly attributes: readonly { key: string; value: Record<string, unknown> }[];
}

const SECRET = "sk_live_9f8e7d6c5b4a39281726";
const received: { path: string; contentType: string | null; body: unknown }[] = [];
let server: ReturnType<typeof Bun.serve>;
let registered: RegisteredOpenTelemetry | undefined;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    async fetch(request) {
      received.push({
        path: new URL(request.url).pathname,
        contentType: request.headers.get("content-type"),
        body: await request.json(),
      });
      return Response.json({});
    },
  });
});
afterEach(async () => {
  await registered?.shutdown();
  registered = undefined;
  received.length = 0;
});
afterAll(() => server.stop(true));

function spansOf(body: unknown): OtlpSpan[] {
  const resourceSpans = (body as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans;
  return resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
}

/** An OTLP attribute list as a plain object (string, int and bool values). */
function attributes(span: OtlpSpan): Record<string, unknown> {
  return Object.fromEntries(
    span.attributes.map(({ key, value }) => [
      key,
      value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue)),
    ]),
  );
}

describe("registerOpenTelemetry with the OTLP/HTTP trace exporter", () => {
  test("one call registers the SDK; flush() sends the library's spans, decoded with their attributes and nesting", async () => {
    const exporter = new OTLPTraceExporter({ url: `http://localhost:${server.port}/v1/traces` });
    registered = registerOpenTelemetry({
      tracerProvider: new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter })] }),
      contextManager: new AsyncLocalStorageContextManager(),
    });
    const store = new InMemoryEventStore();
    const commands = new CommandBus();
    commands.register("Pay", async (payload: unknown, message) => {
      await store.appendToStream("Order-o1", [{ type: "Paid", data: payload }], {
        metadata: eventMetadataFor(message),
      });
    });
    const runner = new ProjectionRunner({
      projection: projection({ name: "receipts", handle: () => undefined }),
      eventStore: store,
      readModels: new InMemoryReadModelStore(),
    });
    await commands.execute("Pay", { card: SECRET }, { metadata: { correlationId: "corr-1" } });
    await runner.catchUp();
    await registered.flush();

    expect(received.length).toBeGreaterThan(0);
    expect(received.every((each) => each.path === "/v1/traces" && each.contentType === "application/json")).toBe(true);
    const spans = received.flatMap((each) => spansOf(each.body));
    const one = (name: string) => {
      const found = spans.filter((span) => span.name === name);
      expect(found.map((span) => span.name)).toEqual([name]);
      return found[0] as OtlpSpan;
    };
    const command = one("command Pay");
    const append = one("appendToStream");
    const batch = one("projection receipts");
    expect(attributes(command)).toMatchObject({
      "eventflows.message.kind": "command",
      "eventflows.message.type": "Pay",
      "eventflows.correlation_id": "corr-1",
    });
    expect(attributes(append)).toMatchObject({
      "db.system": "memory",
      "eventflows.stream_id": "Order-o1",
      "eventflows.event_count": 1,
      "eventflows.outcome": "committed",
    });
    expect(attributes(batch)).toMatchObject({
      "eventflows.projection": "receipts",
      "messaging.batch.message_count": 1,
      "eventflows.outcome": "committed",
      "eventflows.inline": false,
    });
    expect(append.traceId).toBe(command.traceId);
    expect(append.parentSpanId).toBe(command.spanId);
    expect(batch.traceId).toBe(command.traceId);
    expect(batch.parentSpanId).toBe(append.spanId);
    expect(JSON.stringify(received)).not.toContain(SECRET);
  });

  test("shutdown() removes the globals: the library is untraced again, and a second registration is refused until then", async () => {
    registered = registerOpenTelemetry({ tracerProvider: new TracerProvider({}) });
    expect(activeTracer()).toBeDefined();
    expect(() => registerOpenTelemetry({ tracerProvider: new TracerProvider({}) })).toThrow(/already set up/);
    await registered.shutdown();
    registered = undefined;
    expect(activeTracer()).toBeUndefined();
    registered = registerOpenTelemetry({ tracerProvider: new TracerProvider({}) });
    let threw: unknown;
    try {
      registerOpenTelemetry({});
    } catch (error) {
      threw = error;
    }
    expect(isValidationError(threw)).toBe(true);
  });

  test("a piece without the methods of its kind is a ValidationError naming it, and nothing is registered", async () => {
    // Before: a context manager without enable() threw a TypeError, and a tracer provider without
    // getTracer (or a meter provider without getMeter, a propagator without inject) was registered.
    for (const [kind, piece] of [
      ["contextManager", {}],
      ["tracerProvider", {}],
      ["tracerProvider", 5],
      ["meterProvider", { getMeter: "no" }],
      ["propagator", { inject() {} }],
    ] as const) {
      let threw: unknown;
      try {
        registered = registerOpenTelemetry({ contextManager: new AsyncLocalStorageContextManager(), [kind]: piece });
      } catch (error) {
        threw = error;
      }
      expect(isValidationError(threw)).toBe(true);
      expect((threw as { issues: { path: string[] }[] }).issues.map((issue) => issue.path)).toEqual([[kind]]);
      // Nothing was left registered: a working registration of every kind is taken.
      registered = registerOpenTelemetry({
        contextManager: new AsyncLocalStorageContextManager(),
        tracerProvider: new TracerProvider({}),
      });
      expect(activeTracer()).toBeDefined();
      await registered.shutdown();
      registered = undefined;
    }
  });

  test("flush() and shutdown() never reject when the collector is down: the failure goes to onError as a ServiceError", async () => {
    // Port 1, which nothing here listens on: the exporter's POST is refused. (A port just freed by a server of
    // the test's own could be taken by another test's server meanwhile.)
    const url = "http://127.0.0.1:1/v1/traces";
    const tracedWithDeadCollector = () =>
      new TracerProvider({
        spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url, timeoutMillis: 1000 }) })],
      });
    const ping = () => {
      const bus = new CommandBus<{ Ping: { payload: Record<string, never>; result: number } }>();
      bus.register("Ping", () => 1);
      return bus.execute("Ping", {});
    };
    const errors: unknown[] = [];
    registered = registerOpenTelemetry({ tracerProvider: tracedWithDeadCollector(), onError: (e) => errors.push(e) });
    await ping();
    // Before: flush() rejected with the SDK's array of socket errors, and a Lambda handler awaiting it
    // in `finally` failed its invocation because telemetry could not be sent.
    expect(await registered.flush()).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(isServiceError(errors[0])).toBe(true);
    expect((errors[0] as ServiceError).cause).toBeDefined();
    await registered.shutdown();
    registered = undefined;

    // Without onError, an error line on the library's logger.
    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => lines.push(line) }));
    try {
      registered = registerOpenTelemetry({ tracerProvider: tracedWithDeadCollector() });
      await ping();
      expect(await registered.shutdown()).toBeUndefined();
      registered = undefined;
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ level: "error", error: { code: "SERVICE_ERROR" } });
    } finally {
      setLogger(undefined);
    }
    expect(() => registerOpenTelemetry({ tracerProvider: new TracerProvider({}), onError: "log" as never })).toThrow(
      /onError/,
    );
  }, 20_000);

  test("shutdown() twice removes nothing the second time: a later registration's globals stay", async () => {
    const earlier = registerOpenTelemetry({ tracerProvider: new TracerProvider({}) });
    await earlier.shutdown();
    registered = registerOpenTelemetry({ tracerProvider: new TracerProvider({}) });
    await earlier.shutdown();
    expect(activeTracer()).toBeDefined();
    expect(() => registerOpenTelemetry({ tracerProvider: new TracerProvider({}) })).toThrow(/already set up/);
  });
});
