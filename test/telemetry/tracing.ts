/**
 * A real OpenTelemetry SDK (tracer provider, in-memory exporter, AsyncLocalStorage context) for the
 * tracing tests: registered around a suite, never left behind for other files in the same process.
 */

import { afterAll, afterEach, beforeAll } from "bun:test";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, type ReadableSpan, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

export interface TracingFixture {
  readonly exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
  named(name: string): ReadableSpan;
}

/** Registers the SDK before the suite's tests and removes it after them; spans are cleared after each test. */
export function useTracing(): TracingFixture {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [synchronousProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  return {
    exporter,
    spans: () => exporter.getFinishedSpans(),
    named(name) {
      const found = exporter.getFinishedSpans().filter((span) => span.name === name);
      if (found.length !== 1) {
        const names = exporter.getFinishedSpans().map((span) => span.name);
        throw new Error(`expected one span "${name}", found ${found.length} among ${JSON.stringify(names)}`);
      }
      return found[0] as ReadableSpan;
    },
  };
}

/** The id of a span's parent, or undefined for a root span. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

// The SDK's SimpleSpanProcessor exports after a few promise turns; handing each ended span to the
// in-memory exporter at once lets a test read its spans as soon as the operation has returned.
function synchronousProcessor(exporter: InMemorySpanExporter): SpanProcessor {
  return {
    onStart() {},
    onEnd(span) {
      exporter.export([span], () => {});
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
