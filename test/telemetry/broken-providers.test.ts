/**
 * Telemetry never changes the outcome of what it observes. A registered tracer (or one of its spans),
 * meter, propagator, context manager or library logger that throws from any of its methods must leave every traced
 * operation's result and error exactly as they are with nothing registered; its error is reported
 * once through the library's logger instead (or, for the logger itself, once on standard error).
 * Before: a span whose end() threw made an append that had committed reject (its caller retried a
 * committed append), a startSpan that threw came out of appendToStream synchronously, and a logger
 * that threw on a slow-call warning failed the append it warned about.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { context, metrics, propagation, type Span, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import fc from "fast-check";
import * as v from "valibot";
import { createHttpDispatcher } from "../../adapters/http/index.js";
import {
  CommandBus,
  configureTelemetry,
  defineSaga,
  type EventEnvelope,
  getLogger,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemoryReadModelStore,
  InMemorySagaStore,
  isEventFlowsError,
  type Logger,
  ProjectionRunner,
  projection,
  SagaRuntime,
  setLogger,
  ValidationError,
} from "../../src/index.js";

const SPAN_METHODS = [
  "spanContext",
  "setAttribute",
  "setAttributes",
  "addEvent",
  "recordException",
  "setStatus",
  "end",
] as const;
const BREAKAGES = [
  "getTracer",
  "startSpan",
  "startActiveSpan",
  ...SPAN_METHODS,
  "getMeter",
  "createInstrument",
  "add",
  "record",
  "inject",
  "extract",
  "logger",
  "active",
  "with",
  "with, after running",
] as const;
type Breakage = (typeof BREAKAGES)[number];

const OPERATIONS = ["append", "read", "readAll", "execute", "publish", "projection", "saga", "http"] as const;
type Operation = (typeof OPERATIONS)[number];

function broken(): never {
  throw new Error("telemetry provider broke");
}

// What the library's logger was told while a provider was broken (it is not broken itself there).
let lines: string[] = [];
const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message) => void lines.push(message),
};
const throwing: Logger = { debug: broken, info: broken, warn: broken, error: broken };

/** A real SDK tracer whose spans (or the tracer itself) throw from the one method named. */
function tracerProvider(breakage: Breakage) {
  const sdk = new TracerProvider({ spanProcessors: [] });
  if (breakage === "getTracer") return { getTracer: broken };
  const real = sdk.getTracer("test");
  const startSpan = (...args: Parameters<typeof real.startSpan>): Span => {
    const span = real.startSpan(...args);
    if ((SPAN_METHODS as readonly string[]).includes(breakage))
      Object.defineProperty(span, breakage, { value: broken });
    return span;
  };
  return {
    getTracer: () => ({
      startSpan: breakage === "startSpan" ? broken : startSpan,
      startActiveSpan: breakage === "startActiveSpan" ? broken : real.startActiveSpan.bind(real),
    }),
  };
}

function meterProvider(breakage: Breakage) {
  const instrument = {
    add: breakage === "add" ? broken : () => undefined,
    record: breakage === "record" ? broken : () => undefined,
  };
  const make = breakage === "createInstrument" ? broken : () => instrument;
  const meter = { createCounter: make, createUpDownCounter: make, createHistogram: make, createGauge: make };
  return { getMeter: breakage === "getMeter" ? broken : () => meter };
}

/** A real context manager whose active() or with() throws (with() before running its function, or after). */
function contextManager(breakage: Breakage) {
  const manager = new AsyncLocalStorageContextManager().enable();
  if (breakage === "active") return Object.assign(manager, { active: broken });
  if (breakage === "with") return Object.assign(manager, { with: broken });
  if (breakage === "with, after running") {
    const run = manager.with.bind(manager);
    return Object.assign(manager, {
      with: (...args: Parameters<typeof run>) => {
        run(...args);
        broken();
      },
    });
  }
  return manager;
}

/** Registers the broken provider (with a working tracer and context manager beside it where it is not the tracer). */
function install(breakage: Breakage): void {
  context.setGlobalContextManager(contextManager(breakage));
  const tracing = ["getTracer", "startSpan", "startActiveSpan", ...SPAN_METHODS].includes(breakage);
  trace.setGlobalTracerProvider(
    (tracing ? tracerProvider(breakage) : new TracerProvider({ spanProcessors: [] })) as never,
  );
  if (["getMeter", "createInstrument", "add", "record"].includes(breakage)) {
    metrics.setGlobalMeterProvider(meterProvider(breakage) as never);
  }
  if (breakage === "inject" || breakage === "extract") {
    propagation.setGlobalPropagator({
      inject: breakage === "inject" ? broken : () => undefined,
      extract: breakage === "extract" ? broken : (ctx) => ctx,
      fields: () => ["traceparent", "tracestate"],
    });
  }
  setLogger(breakage === "logger" ? throwing : quiet);
}

function uninstall(): void {
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
  setLogger(undefined);
  configureTelemetry();
}

afterEach(uninstall);

/** An outcome without ids and times: the value, or the error's class and code. */
type Outcome = { ok: unknown } | { error: string };

async function settle(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await run() };
  } catch (error) {
    const kind = isEventFlowsError(error) ? "EventFlowsError" : "other";
    return { error: `${kind} ${(error as Error).name} ${(error as { code?: string }).code}` };
  }
}

const shape = (events: readonly EventEnvelope[]) =>
  events.map((event) => [event.streamId, event.version, event.type, event.data]);

async function collect(events: AsyncIterable<EventEnvelope>) {
  const all: EventEnvelope[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const watcher = defineSaga<{ type: "Added"; data: { n: number } }, { total: number }>({
  name: "Watcher",
  startedBy: ["Added"],
  correlate: (event) => event.streamId,
  initialState: { total: 0 },
  on: {
    Added: (state, event) => {
      if (event.data.n < 0) throw new ValidationError("negative");
      return { total: state.total + event.data.n };
    },
  },
});

/** Runs one operation from scratch (its own store, bus, runner): `fail` takes its error path. */
function run(operation: Operation, n: number, fail: boolean): Promise<Outcome> {
  const data = { n: fail ? -n - 1 : n };
  switch (operation) {
    case "append":
      return settle(async () => {
        const store = new InMemoryEventStore();
        const result = await store.appendToStream("S-1", [{ type: "Added", data }], fail ? { expectedVersion: 3 } : {});
        return [result.nextExpectedVersion, shape(result.events), await store.getStreamVersion("S-1")];
      });
    case "read":
      return settle(async () => {
        const store = new InMemoryEventStore();
        await store.appendToStream("S-1", [
          { type: "Added", data },
          { type: "Added", data },
        ]);
        return shape(await collect(store.readStream(fail ? "" : "S-1")));
      });
    case "readAll":
      return settle(async () => {
        const store = new InMemoryEventStore();
        await store.appendToStream("S-1", [{ type: "Added", data }]);
        await store.appendToStream("S-2", [{ type: "Added", data }]);
        return shape(await collect(store.readAll(fail ? { maxCount: -1 } : {})));
      });
    case "execute":
      return settle(async () => {
        const store = new InMemoryEventStore();
        const commands = new CommandBus<{ Add: { payload: { n: number }; result: number } }>();
        commands.register("Add", async (payload) => {
          if (payload.n < 0) throw new ValidationError("negative");
          return (await store.appendToStream("S-1", [{ type: "Added", data: payload }])).nextExpectedVersion;
        });
        return [await commands.execute("Add", data), await store.getStreamVersion("S-1")];
      });
    case "publish":
      return settle(async () => {
        const bus = new InMemoryEventBus({ onError: () => undefined });
        const seen: unknown[] = [];
        bus.subscribeToAll(
          (event) => {
            if ((event.data as { n: number }).n < 0) throw new ValidationError("negative");
            seen.push(event.data);
          },
          { name: "audit" },
        );
        const store = new InMemoryEventStore({ bus });
        const result = await store.appendToStream("S-1", [{ type: "Added", data }]);
        const direct = await bus.publish(result.events);
        return [result.published?.delivered, result.published?.failures.length, direct.delivered, seen];
      });
    case "projection":
      return settle(async () => {
        const store = new InMemoryEventStore();
        await store.appendToStream("S-1", [{ type: "Added", data }]);
        await store.appendToStream("S-2", [{ type: "Added", data }]);
        const readModels = new InMemoryReadModelStore();
        const runner = new ProjectionRunner({
          projection: projection({
            name: "totals",
            handle: async (event, { readModels: writer }) => {
              const { n } = event.data as { n: number };
              if (n < 0) throw new ValidationError("negative");
              await writer.put("totals", event.streamId, n);
            },
          }),
          eventStore: store,
          readModels,
          onFailure: () => undefined,
          onError: () => undefined,
        });
        await runner.catchUp();
        return [await readModels.get("totals", "S-1"), await readModels.get("totals", "S-2")];
      });
    case "saga":
      return settle(async () => {
        const store = new InMemoryEventStore();
        const { events } = await store.appendToStream("S-1", [{ type: "Added", data }]);
        const sagas = new InMemorySagaStore();
        const runtime = new SagaRuntime({
          store: sagas,
          commands: new CommandBus(),
          sagas: [watcher],
          maxAttempts: 1,
          retryDelayMs: 0,
          onError: () => undefined,
        });
        const outcomes = await runtime.handle(events[0] as EventEnvelope);
        const saved = await sagas.load("Watcher", "S-1");
        return [outcomes.map((each) => [each.saga, each.outcome]), saved?.state, saved?.status];
      });
    case "http":
      return settle(async () => {
        const store = new InMemoryEventStore();
        const commands = new CommandBus<{ Add: { payload: { n: number }; result: number } }>();
        commands.register("Add", async (payload) => {
          return (await store.appendToStream("S-1", [{ type: "Added", data: payload }])).nextExpectedVersion;
        });
        const dispatcher = createHttpDispatcher({
          commands: { bus: commands, schemas: { Add: v.object({ n: v.pipe(v.number(), v.minValue(0)) }) } },
          trustClientCorrelation: true,
        });
        const response = await dispatcher.handle(
          new Request("http://localhost/commands/Add", {
            method: "POST",
            headers: {
              "content-type": "application/json",
              traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
              tracestate: "vendor=value",
            },
            body: JSON.stringify(data),
          }),
          undefined,
        );
        const body = (await response.json()) as Record<string, unknown>;
        const { correlationId: _c, instance: _i, ...rest } = body;
        return [response.status, response.headers.get("content-type"), rest, await store.getStreamVersion("S-1")];
      });
  }
}

describe("a telemetry provider that throws changes no outcome", () => {
  for (const breakage of BREAKAGES) {
    test(`a throwing ${breakage}: every operation gives what it gives with no provider (property)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...OPERATIONS),
          fc.integer({ min: 0, max: 1000 }),
          fc.boolean(),
          fc.boolean(),
          async (operation, n, fail, slow) => {
            uninstall();
            setLogger(quiet);
            if (slow) configureTelemetry({ slowStoreCallMs: 0, slowRehydrationMs: 0 });
            const expected = await run(operation, n, fail);
            uninstall();
            install(breakage);
            lines = [];
            if (slow) configureTelemetry({ slowStoreCallMs: 0, slowRehydrationMs: 0 });
            const actual = await run(operation, n, fail);
            expect(actual).toEqual(expected);
            // Reported, not swallowed: at most once per provider (a context manager that throws may make the
            // SDK's tracer throw too, reading the active context itself: each is reported once).
            const reports = lines.filter((line) => line.startsWith("the OpenTelemetry"));
            expect(reports.length).toBe(new Set(reports).size);
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  test("a span whose end() throws is reported once on the library's logger, however many appends it ends", async () => {
    install("end");
    lines = [];
    const store = new InMemoryEventStore();
    for (let i = 1; i <= 3; i++) {
      // Before: each append, committed, rejected with the tracer's error.
      expect((await store.appendToStream("S-1", [{ type: "Added", data: { n: i } }])).nextExpectedVersion).toBe(i);
    }
    expect(lines).toEqual(["the OpenTelemetry tracer threw; its errors are ignored (reported once)"]);
  });

  test("a meter whose add() throws is reported once on the library's logger, and again for another provider", async () => {
    install("add");
    lines = [];
    const store = new InMemoryEventStore();
    await store.appendToStream("S-1", [{ type: "Added", data: { n: 1 } }]);
    await store.appendToStream("S-1", [{ type: "Added", data: { n: 2 } }]);
    expect(lines).toEqual(["the OpenTelemetry meter threw; its errors are ignored (reported once)"]);
    metrics.disable();
    metrics.setGlobalMeterProvider(meterProvider("add") as never);
    await store.appendToStream("S-1", [{ type: "Added", data: { n: 3 } }]);
    expect(lines).toHaveLength(2);
  });

  test("a tracer whose startSpan throws: appendToStream still returns a promise, and the event is stored", async () => {
    install("startSpan");
    const store = new InMemoryEventStore();
    // Before: the tracer's error came out of appendToStream synchronously.
    const appended = store.appendToStream("S-1", [{ type: "Added", data: { n: 1 } }]);
    expect(appended).toBeInstanceOf(Promise);
    expect((await appended).nextExpectedVersion).toBe(1);
  });

  test("a logger that throws on a slow-call warning fails nothing; its failure goes once to standard error", async () => {
    const written: string[] = [];
    const error = console.error;
    console.error = (line: string) => void written.push(line);
    try {
      // A logger of its own: each logger's failure is reported once, and the property above used `throwing`.
      setLogger({ ...throwing });
      configureTelemetry({ slowStoreCallMs: 0 });
      const store = new InMemoryEventStore();
      // Before: the warning's error rejected both appends, which had committed.
      expect((await store.appendToStream("S-1", [{ type: "Added", data: { n: 1 } }])).nextExpectedVersion).toBe(1);
      expect((await store.appendToStream("S-1", [{ type: "Added", data: { n: 2 } }])).nextExpectedVersion).toBe(2);
    } finally {
      console.error = error;
    }
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0] as string)).toMatchObject({
      level: "error",
      msg: "the library's logger threw; its lines are dropped (reported once)",
    });
  });

  test("setLogger refuses what is not a logger, and keeps the one it had", () => {
    setLogger(quiet);
    for (const bad of [5, null, {}, { debug() {}, info() {}, warn() {} }]) {
      expect(() => setLogger(bad as never)).toThrow(ValidationError);
    }
    lines = [];
    getLogger().error("still the logger set before");
    expect(lines).toEqual(["still the logger set before"]);
  });
});
