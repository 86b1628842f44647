import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import fc from "fast-check";
import { isServiceError, isValidationError, setLogger } from "../../src/index.js";
import { asyncLocalContextManager } from "./async-local-context.js";
import { exportSpans, flushSpans } from "./otlp-http.js";
import { otlpTracesJson } from "./otlp-traces-json.js";
import { SpanBuffer, type SpanBufferOptions } from "./span-buffer.js";

/** A local OTLP/HTTP receiver: it records each request and answers with the status the test sets. */
const received: { path: string; apiKey: string | null; body: unknown }[] = [];
let status = 200;
let receiver: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      received.push({
        path: new URL(request.url).pathname,
        apiKey: request.headers.get("x-api-key"),
        body: await request.json(),
      });
      return new Response("{}", { status });
    },
  });
});
afterAll(() => receiver.stop(true));

/** The SDK's real provider, its ended spans kept by a SpanBuffer. */
function sdk(maxSpans?: number) {
  const buffer = new SpanBuffer({ maxSpans });
  const provider = new TracerProvider({ spanProcessors: [buffer] });
  return { buffer, tracer: provider.getTracer("@eventflows/core", "0.1.0") };
}

interface Body {
  resourceSpans: {
    scopeSpans: { scope: { name: string; version: string }; spans: Record<string, unknown>[] }[];
  }[];
}

describe("OTLP/HTTP JSON traces", () => {
  test("encodes the SDK's spans as an ExportTraceServiceRequest: ids, parent, kind, times, attributes, events, links, status", () => {
    const { buffer, tracer } = sdk();
    const parent = tracer.startSpan("parent", { kind: SpanKind.SERVER });
    const linked = tracer.startSpan("linked");
    const child = tracer.startSpan(
      "child",
      {
        kind: SpanKind.PRODUCER,
        attributes: { s: "x", i: 3, d: 0.5, b: true, a: ["p", "q"] },
        links: [{ context: linked.spanContext(), attributes: { why: "batch" } }],
      },
      // The child's parent, given as a context (no context manager is needed for that).
      trace.setSpan(context.active(), parent),
    );
    child.addEvent("exception", { "exception.code": "X" });
    child.setStatus({ code: SpanStatusCode.ERROR, message: "X" });
    child.end();
    linked.end();
    parent.end();
    const { spans } = buffer.take();
    const body = otlpTracesJson(spans) as Body;
    expect(body.resourceSpans).toHaveLength(1);
    const scope = body.resourceSpans[0]?.scopeSpans[0];
    expect(scope?.scope).toEqual({ name: "@eventflows/core", version: "0.1.0" });
    const byName = Object.fromEntries((scope?.spans ?? []).map((span) => [span.name, span]));
    expect(byName.parent).toMatchObject({ kind: 2, traceId: parent.spanContext().traceId, status: { code: 0 } });
    expect(byName.parent?.parentSpanId).toBeUndefined();
    expect(byName.child).toMatchObject({
      traceId: parent.spanContext().traceId,
      spanId: child.spanContext().spanId,
      parentSpanId: parent.spanContext().spanId,
      kind: 4,
      flags: 1,
      attributes: [
        { key: "s", value: { stringValue: "x" } },
        { key: "i", value: { intValue: "3" } },
        { key: "d", value: { doubleValue: 0.5 } },
        { key: "b", value: { boolValue: true } },
        { key: "a", value: { arrayValue: { values: [{ stringValue: "p" }, { stringValue: "q" }] } } },
      ],
      events: [{ name: "exception", attributes: [{ key: "exception.code", value: { stringValue: "X" } }] }],
      links: [
        {
          traceId: linked.spanContext().traceId,
          spanId: linked.spanContext().spanId,
          attributes: [{ key: "why", value: { stringValue: "batch" } }],
        },
      ],
      status: { code: 2, message: "X" },
    });
    const start = BigInt(byName.child?.startTimeUnixNano as string);
    expect(BigInt(byName.child?.endTimeUnixNano as string)).toBeGreaterThanOrEqual(start);
    // Nanoseconds since the epoch: within a minute of now.
    expect(Number(start / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("the buffer keeps at most maxSpans between flushes and counts the rest (any count of spans)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 40 }), (maxSpans, count) => {
        const { buffer, tracer } = sdk(maxSpans);
        for (let i = 0; i < count; i++) tracer.startSpan(`s${i}`).end();
        const taken = buffer.take();
        expect(taken.spans.map((span) => span.name)).toEqual(
          Array.from({ length: Math.min(count, maxSpans) }, (_, i) => `s${i}`),
        );
        expect(taken.dropped).toBe(Math.max(0, count - maxSpans));
        expect(buffer.take()).toEqual({ spans: [], dropped: 0 });
      }),
    );
    for (const maxSpans of [0, -1, 1.5, Number.NaN]) {
      let thrown: unknown;
      try {
        new SpanBuffer({ maxSpans });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
    }
    // No options at all, from JavaScript: the defaults.
    expect(new SpanBuffer(null as unknown as SpanBufferOptions).maxSpans).toBe(512);
  });

  test("exportSpans POSTs to the receiver; an error status becomes a ServiceError without the headers", async () => {
    received.length = 0;
    status = 200;
    const { buffer, tracer } = sdk();
    tracer.startSpan("one").end();
    const url = `http://127.0.0.1:${receiver.port}/v1/traces`;
    await exportSpans(buffer.take().spans, { url, headers: { "x-api-key": "k-1" } });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: "/v1/traces", apiKey: "k-1" });
    expect(JSON.stringify(received[0]?.body)).toContain('"name":"one"');

    await exportSpans([], { url });
    expect(received).toHaveLength(1);

    status = 503;
    tracer.startSpan("two").end();
    const error = await exportSpans(buffer.take().spans, { url, headers: { "x-api-key": "secret-key" } }).catch(
      (e: unknown) => e,
    );
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({ retryable: true });
    expect(JSON.stringify(error)).not.toContain("secret-key");
    expect(await exportSpans([], { url: "not a url" }).catch((e: unknown) => isValidationError(e))).toBe(true);
  });

  test("flushSpans hands the export to waitUntil and sends a failure to onError, never to the caller", async () => {
    received.length = 0;
    status = 500;
    const { buffer, tracer } = sdk();
    tracer.startSpan("flushed").end();
    const waited: Promise<unknown>[] = [];
    const errors: unknown[] = [];
    const url = `http://127.0.0.1:${receiver.port}/v1/traces`;
    flushSpans({ waitUntil: (promise) => waited.push(promise) }, buffer, { url, onError: (e) => errors.push(e) });
    expect(waited).toHaveLength(1);
    await waited[0];
    expect(received).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(isServiceError(errors[0])).toBe(true);
    expect(buffer.take().spans).toHaveLength(0);

    // A receiver that never answers in time: the timeout ends the export, onError gets it.
    const hanging = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      // Never answers: the export ending at all is its timeout at work (no clock is read).
      fetch: () => new Promise<Response>(() => {}),
    });
    try {
      tracer.startSpan("slow").end();
      flushSpans({ waitUntil: (promise) => waited.push(promise) }, buffer, {
        url: `http://127.0.0.1:${hanging.port}/v1/traces`,
        timeoutMs: 100,
        onError: (e) => errors.push(e),
      });
      await waited[1];
      expect(errors).toHaveLength(2);
      expect(errors[1]).toMatchObject({ retryable: true });
    } finally {
      hanging.stop(true);
    }
  });

  test("flushSpans reports the spans a full buffer dropped as a warning on the library's logger", async () => {
    status = 200;
    const warnings: unknown[] = [];
    setLogger({ debug() {}, info() {}, warn: (message, fields) => warnings.push({ message, fields }), error() {} });
    try {
      const { buffer, tracer } = sdk(2);
      for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
      const waited: Promise<unknown>[] = [];
      flushSpans({ waitUntil: (promise) => waited.push(promise) }, buffer, {
        url: `http://127.0.0.1:${receiver.port}/v1/traces`,
      });
      await Promise.all(waited);
      expect(warnings).toEqual([
        { message: "spans dropped: the span buffer was full", fields: { dropped: 3, kept: 2 } },
      ]);
    } finally {
      setLogger(undefined);
    }
  });
});

describe("asyncLocalContextManager", () => {
  test("keeps the active context across awaits and restores the outer one; bind carries a context", async () => {
    const manager = asyncLocalContextManager(new AsyncLocalStorage<Context>());
    const key = Symbol("k");
    const inner = ROOT_CONTEXT.setValue(key, "inner");
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const seen = await manager.with(
      inner,
      async (a: number) => {
        await Bun.sleep(1);
        return [manager.active().getValue(key), a];
      },
      undefined,
      7,
    );
    expect(seen).toEqual(["inner", 7]);
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const bound = manager.bind(inner, () => manager.active().getValue(key));
    expect(bound()).toBe("inner");
    const notAFunction = { x: 1 };
    expect(manager.bind(inner, notAFunction)).toBe(notAFunction);
  });
});
