import type {
  Attributes,
  Context,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
  TracerProvider,
} from "@opentelemetry/api";
import { telemetryConfig } from "./config.js";
import { otelGlobal } from "./otel-global.js";

export const TRACER_NAME = "@eventflows/core";

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The EventFlows tracer, or `undefined` when no tracer provider is registered or tracing is turned
 * off: callers then take their uninstrumented path and pay nothing for spans. The registered global
 * is the registering API copy's proxy; its delegate tells whether an SDK was registered, and the
 * tracer is made again only when that delegate changes.
 */
export function activeTracer(): Tracer | undefined {
  if (!telemetryConfig().tracing) return undefined;
  const global = otelGlobal("trace");
  if (global === undefined) return undefined;
  const provider = typeof global.getDelegate === "function" ? global.getDelegate() : global;
  if (provider === cachedProvider) return cachedTracer;
  cachedProvider = provider;
  try {
    cachedTracer = isNoop(provider) ? undefined : new GuardedTracer(provider.getTracer(TRACER_NAME));
  } catch {
    // A provider that throws traces nothing: it must not fail what it traces (see GuardedTracer).
    cachedTracer = undefined;
  }
  return cachedTracer;
}

/**
 * The tracer and its spans with methods that never throw. OpenTelemetry asks that an SDK's do not,
 * but one that did (a broken or hand-written tracer) failed the operation it traced, after the fact
 * when it was `end()`: an append that had committed was reported failed, with the tracer's own error.
 */
class GuardedTracer implements Tracer {
  readonly #tracer: Tracer;
  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }
  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    try {
      return new GuardedSpan(this.#tracer.startSpan(name, options, context));
    } catch {
      return new GuardedSpan(undefined);
    }
  }
  startActiveSpan: Tracer["startActiveSpan"] = (...args: unknown[]) =>
    (this.#tracer.startActiveSpan as (...all: unknown[]) => unknown)(...args) as never;
}

const INVALID_CONTEXT: SpanContext = { traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0 };

class GuardedSpan implements Span {
  readonly #span: Span | undefined;
  constructor(span: Span | undefined) {
    this.#span = span;
  }
  #try(run: (span: Span) => unknown): this {
    try {
      if (this.#span !== undefined) run(this.#span);
    } catch {
      // Nothing recorded: see GuardedTracer.
    }
    return this;
  }
  spanContext(): SpanContext {
    try {
      return this.#span?.spanContext() ?? INVALID_CONTEXT;
    } catch {
      return INVALID_CONTEXT;
    }
  }
  setAttribute(key: string, value: Attributes[string] & {}): this {
    return this.#try((span) => span.setAttribute(key, value));
  }
  setAttributes(attributes: Attributes): this {
    return this.#try((span) => span.setAttributes(attributes));
  }
  addEvent(name: string, attributes?: Attributes | TimeInput, time?: TimeInput): this {
    return this.#try((span) => span.addEvent(name, attributes, time));
  }
  addLink(link: Link): this {
    return this.#try((span) => span.addLink(link));
  }
  addLinks(links: Link[]): this {
    return this.#try((span) => span.addLinks(links));
  }
  setStatus(status: SpanStatus): this {
    return this.#try((span) => span.setStatus(status));
  }
  updateName(name: string): this {
    return this.#try((span) => span.updateName(name));
  }
  end(time?: TimeInput): void {
    this.#try((span) => span.end(time));
  }
  isRecording(): boolean {
    try {
      return this.#span?.isRecording() ?? false;
    } catch {
      return false;
    }
  }
  recordException(exception: Exception, time?: TimeInput): void {
    this.#try((span) => span.recordException(exception, time));
  }
}

function isNoop(provider: TracerProvider): boolean {
  // What a proxy without an SDK delegates to, known by its class name (a minifier that renames
  // classes hides it: then spans are made and simply never record).
  return provider.constructor?.name === "NoopTracerProvider";
}
