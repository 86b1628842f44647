import { afterEach, describe, expect, test } from "bun:test";
import {
  context,
  createTraceState,
  isSpanContextValid,
  SpanKind as OtelSpanKind,
  ROOT_CONTEXT,
  type Span,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import fc from "fast-check";
import { CommandBus } from "../messaging/command-bus.js";
import { MetricName, resetMetrics } from "./metrics.js";
import { collectingMetrics, named } from "./metrics-reader.fixture.test.js";
import { activeSpan, ROOT_CONTEXT as LIBRARY_ROOT, otelUnregistered } from "./otel-global.js";
import { contextFromMetadata, parseTraceparent, parseTraceState, stampTraceContext } from "./propagation.js";
import { SpanKind, startSpan, withActiveSpan } from "./spans.js";
import { activeTracer } from "./tracer.js";

const KEY = Symbol.for("opentelemetry.js.api.1");
const slot = globalThis as { [KEY]?: unknown };

/** Runs `fn` as in a process where nothing was ever registered with the API: its global object removed, then put back. */
async function withNothingRegistered(fn: () => Promise<void>): Promise<void> {
  const saved = slot[KEY];
  delete slot[KEY];
  try {
    await fn();
  } finally {
    if (saved !== undefined) slot[KEY] = saved;
  }
}

afterEach(() => {
  trace.disable();
  context.disable();
  resetMetrics();
});

describe("otelUnregistered: the one property the hot paths read first", () => {
  test("is the object the API registers providers in (so the shortcut cannot miss a registration)", () => {
    const provider = new TracerProvider({ spanProcessors: [] });
    trace.setGlobalTracerProvider(provider);
    expect(otelUnregistered()).toBe(false);
    expect((slot[KEY] as { trace?: unknown }).trace).toBe(trace.getTracerProvider());
    expect(activeTracer()).toBeDefined();
  });

  test("with nothing registered: no tracer, and a bus dispatches and counts as before", async () => {
    await withNothingRegistered(async () => {
      expect(otelUnregistered()).toBe(true);
      expect(activeTracer()).toBeUndefined();
      const bus = new CommandBus();
      bus.register("Ping", async (n: unknown) => (n as number) + 1);
      expect(await bus.execute("Ping", 1)).toBe(2);
      expect(bus.stats("Ping")?.executions).toBe(1);
    });
  });

  test("with nothing registered globally, a meter provider of the library's own still times every dispatch", async () => {
    await withNothingRegistered(async () => {
      const { collect } = collectingMetrics();
      expect(otelUnregistered()).toBe(true);
      const bus = new CommandBus();
      bus.register("Ping", async () => 1);
      await bus.execute("Ping", {});
      await bus.execute("Ping", {});
      const durations = named(await collect(), MetricName.commandDuration);
      expect(durations.map((point) => point.value)).toEqual([2]);
    });
  });
});

describe("the registry read without the API (what lets a Worker that never traces leave the API out)", () => {
  test("SpanKind has the API enum's values", () => {
    for (const name of ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const) {
      expect(SpanKind[name]).toBe(OtelSpanKind[name]);
    }
  });

  test("with a context manager registered, the active span set here is the one the API and the SDK see", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
    const tracer = activeTracer();
    if (tracer === undefined) throw new Error("the registered SDK provider was not found");
    const outer = startSpan(tracer, "outer", SpanKind.INTERNAL, {});
    const inner = await withActiveSpan(outer, async () => {
      expect(trace.getActiveSpan()).toBe(outer);
      expect(activeSpan()).toBe(outer);
      return startSpan(tracer, "inner", SpanKind.INTERNAL, {});
    });
    expect(activeSpan()).toBeUndefined();
    expect((inner as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId).toBe(
      outer.spanContext().spanId,
    );
  });

  test("without a context manager, withActiveSpan runs the function and nothing is active", () => {
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
    const tracer = activeTracer();
    if (tracer === undefined) throw new Error("the registered SDK provider was not found");
    const span = startSpan(tracer, "alone", SpanKind.INTERNAL, {});
    expect(withActiveSpan(span, () => activeSpan())).toBeUndefined();
  });

  test("a remote parent from an event's traceparent is what the API reads from that context", () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const parent = contextFromMetadata({ traceparent }) ?? ROOT_CONTEXT;
    const span = trace.getSpan(parent);
    expect(span?.spanContext()).toEqual({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
      isRemote: true,
    });
    expect(span?.isRecording()).toBe(false);
  });

  test("the library's root context works as the API's: values set make new contexts, and the SDK parents spans by them", () => {
    const key = Symbol.for("a test key");
    const set = LIBRARY_ROOT.setValue(key, 1);
    expect([LIBRARY_ROOT.getValue(key), set.getValue(key), set.deleteValue(key).getValue(key)]).toEqual([
      undefined,
      1,
      undefined,
    ]);
    expect(set.setValue(key, 2).getValue(key)).toBe(2);
    expect(set.getValue(key)).toBe(1);
    // A detached consumer's parent: a span started from it by the SDK continues the event's trace.
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const parent = contextFromMetadata({ traceparent }) as ReturnType<typeof context.active>;
    const child = new TracerProvider({ spanProcessors: [] }).getTracer("test").startSpan("child", {}, parent);
    expect(child.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    const root = new TracerProvider({ spanProcessors: [] }).getTracer("test").startSpan("root", {}, LIBRARY_ROOT);
    expect(root.spanContext().traceId).not.toBe("0af7651916cd43dd8448eb211c80319c");
  });

  test("a registry of a pre-release API version is not read, as the API itself refuses it", () => {
    const saved = slot[KEY];
    slot[KEY] = { version: "1.99.0-rc.1", trace: new TracerProvider({ spanProcessors: [] }) };
    try {
      expect(activeTracer()).toBeUndefined();
    } finally {
      if (saved === undefined) delete slot[KEY];
      else slot[KEY] = saved;
    }
  });
});

describe("tracestate without the API's module", () => {
  const keyChar = fc.constantFrom(..."abcz09_-*/".split(""));
  const simpleKey = fc
    .tuple(fc.constantFrom("a", "k", "z"), fc.array(keyChar, { maxLength: 6 }))
    .map(([first, rest]) => first + rest.join(""));
  const key = fc.oneof(
    simpleKey,
    fc.tuple(simpleKey, simpleKey).map(([tenant, system]) => `${tenant}@${system}`),
    // Invalid: uppercase, a leading digit or symbol, two @, empty, too long.
    fc.constantFrom("A", "1abc", "-x", "a@b@c", "", "a@", `a${"b".repeat(256)}`, "a@1b"),
  );
  // Printable ASCII with the characters a value may not hold (",", "=") or end with (" "), and a tab.
  const value = fc
    .array(fc.constantFrom(..."az09 !~,=;:.\t".split("")), { maxLength: 8 })
    .map((chars) => chars.join(""));
  const member = fc.oneof(
    fc.tuple(key, value).map(([k, v]) => `${k}=${v}`),
    fc.constantFrom("", " ", "novalue", "=v", "a==b"),
  );
  const header = fc
    .array(fc.tuple(member, fc.constantFrom("", " ", "\t")), { maxLength: 32 })
    .map((members) => members.map(([m, pad]) => `${pad}${m}${pad}`).join(","))
    .filter((text) => text.length <= 512);

  test("a header reads as the API's createTraceState reads it: the same members, values and serialization", () => {
    fc.assert(
      fc.property(header, fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 4 }), (text, changes) => {
        let ours = parseTraceState(text);
        let api = createTraceState(text);
        expect(ours.serialize()).toBe(api.serialize());
        for (const [k, v, unset] of changes) {
          expect(ours.get(k)).toBe(api.get(k));
          ours = unset ? ours.unset(k) : ours.set(k, v);
          api = unset ? api.unset(k) : api.set(k, v);
          expect(ours.serialize()).toBe(api.serialize());
        }
      }),
      { numRuns: 500 },
    );
  });

  test("of more than 32 members the 32 leftmost are kept, in order (the API's reverses them)", () => {
    const members = Array.from({ length: 40 }, (_, i) => `k${i}=${i}`);
    const expected = members.slice(0, 32).join(",");
    expect(parseTraceState(members.join(",")).serialize()).toBe(expected);
    // What a consumer's span continues from: the event's traceparent with its tracestate.
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect(parseTraceparent(traceparent, members.join(","))?.traceState?.serialize()).toBe(expected);
    expect(parseTraceparent(traceparent, "a=1, B=2 ,c=3")?.traceState?.serialize()).toBe("a=1,c=3");
    // A set that would pass 32 members or 512 characters changes nothing, as the API's.
    const full = parseTraceState(expected);
    expect(full.set("extra", "1")).toBe(full);
    expect(parseTraceState("a=1").set("b", "x".repeat(512)).serialize()).toBe("a=1");
  });
});

describe("span context validity without the API's module", () => {
  const valid = "0af7651916cd43dd8448eb211c80319c";
  const span = "b7ad6b7169203331";

  test("a traceparent with an all-zero trace or span id is ignored, as the API's isSpanContextValid says", () => {
    expect(parseTraceparent(`00-${valid}-${span}-01`)).toBeDefined();
    expect(parseTraceparent(`00-${"0".repeat(32)}-${span}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${valid}-${"0".repeat(16)}-01`)).toBeUndefined();
  });

  test("an invalid span context is never stamped on events; a valid one (any hex case) is", () => {
    const stamp = (traceId: string, spanId: string) => {
      const metadata: Record<string, unknown> = {};
      const fake = { spanContext: () => ({ traceId, spanId, traceFlags: 1 }) } as unknown as Span;
      stampTraceContext(fake, [metadata]);
      return metadata.traceparent;
    };
    for (const [traceId, spanId] of [
      [valid, span],
      [valid.toUpperCase(), span],
      ["0".repeat(32), span],
      [valid, "0".repeat(16)],
      [`${valid}0`, span],
      [valid, "xyz"],
    ] as const) {
      expect(stamp(traceId, spanId) !== undefined).toBe(isSpanContextValid({ traceId, spanId, traceFlags: 1 }));
    }
  });
});
