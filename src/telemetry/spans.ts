import type {
  Attributes,
  Context,
  Link,
  SpanKind as OtelSpanKind,
  SpanStatusCode as OtelSpanStatusCode,
  Span,
  SpanContext,
  Tracer,
} from "@opentelemetry/api";
import { isEventFlowsError } from "../errors.js";
import { redactText } from "../logging/redaction.js";
import { reportTelemetryFailure } from "./failures.js";
import { activeContext, runWithSpan, spanOf } from "./otel-global.js";
import { nonRecordingSpan } from "./propagation.js";

export type { Span, Tracer };

// The API's enums, by value (OpenTelemetry's specification fixes these numbers): importing them
// would bundle the whole API into code that never traces (see otel-global.ts).
/** The API's `SpanKind`. */
export const SpanKind = {
  INTERNAL: 0,
  SERVER: 1,
  CLIENT: 2,
  PRODUCER: 3,
  CONSUMER: 4,
} as unknown as typeof OtelSpanKind;
export type SpanKind = OtelSpanKind;
const STATUS_ERROR = 2 as OtelSpanStatusCode.ERROR;

/*
 * Every call the library makes on a tracer or on one of its spans goes through this module, and none
 * of them throws: OpenTelemetry asks that an SDK's methods never do, but one that did (a broken or
 * hand-written tracer) failed what it traced, after the fact when it was `end()`: an append that had
 * committed was reported failed and its caller retried it. Such an error is reported once through
 * the library's logger (see failures.ts) and otherwise ignored. Plain try/catch around the call, no
 * wrapper object per span: an untraced path never gets here, and a traced one pays no allocation.
 */

/**
 * Starts a span under `parent` (the active context when absent). A tracer that throws gives a span
 * that records nothing and carries no trace context (as the API's no-op tracer's).
 */
export function startSpan(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent?: Context,
  links?: Link[],
): Span {
  const options = links === undefined || links.length === 0 ? { kind, attributes } : { kind, attributes, links };
  try {
    // No parent and no context manager: the tracer's own API reads the same (empty) active context.
    return tracer.startSpan(name, options, parent ?? activeContext());
  } catch (error) {
    reportTelemetryFailure("tracer", error);
    return nonRecordingSpan({ traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0 });
  }
}

/** `span.setAttribute`, never throwing (nothing when there is no span). */
export function setSpanAttribute(span: Span | undefined, key: string, value: string | number | boolean): void {
  try {
    span?.setAttribute(key, value);
  } catch (error) {
    reportTelemetryFailure("tracer", error);
  }
}

/** `span.setAttributes`, never throwing (nothing when there is no span). */
export function setSpanAttributes(span: Span | undefined, attributes: Attributes): void {
  try {
    span?.setAttributes(attributes);
  } catch (error) {
    reportTelemetryFailure("tracer", error);
  }
}

/** `span.addEvent`, never throwing (nothing when there is no span). */
export function addSpanEvent(span: Span | undefined, name: string, attributes: Attributes): void {
  try {
    span?.addEvent(name, attributes);
  } catch (error) {
    reportTelemetryFailure("tracer", error);
  }
}

/** `span.end()`, never throwing (nothing when there is no span). */
export function endSpan(span: Span | undefined): void {
  try {
    span?.end();
  } catch (error) {
    reportTelemetryFailure("tracer", error);
  }
}

/** The span's context, or undefined when there is no span or it throws. */
export function spanContextOf(span: Span | undefined): SpanContext | undefined {
  try {
    return span?.spanContext();
  } catch (error) {
    reportTelemetryFailure("tracer", error);
    return undefined;
  }
}

/**
 * Runs `fn` with `span` as the active span (in `parent`, the active context by default), so that
 * spans started inside are its children. A context manager that throws runs `fn` once all the same.
 */
export function withActiveSpan<T>(span: Span, fn: () => T, parent?: Context): T {
  return runWithSpan(span, fn, parent);
}

/**
 * The active context (undefined without a context manager), and whether it holds a span: never
 * throwing (a context manager that throws gives none).
 */
export function currentContext(): { readonly context: Context | undefined; readonly span: Span | undefined } {
  const context = activeContext();
  return { context, span: spanOf(context) };
}

/**
 * Marks the span failed (never throwing) with what is safe to export: the error's stable `code` (as `error.type` and
 * `eventflows.error.code`) and, for EventFlows errors only, the message (written not to hold
 * credentials or payloads; masked all the same, see below). Another library's message may quote SQL or
 * a URL, so only its class name goes.
 */
export function recordError(span: Span, error: unknown): void {
  try {
    const code = errorCode(error);
    // Masked as the library's logs mask text (redactText): an EventFlows error's message is written
    // not to hold credentials, but one of the application's may quote what it was given, and spans
    // go to a vendor as logs do. The name too, which can be set to anything.
    const name = error instanceof Error ? redactText(String(error.name)) : typeof error;
    span.setAttribute("error.type", code ?? name);
    if (code !== undefined) span.setAttribute("eventflows.error.code", code);
    const message = isEventFlowsError(error) ? redactText(String(error.message)) : undefined;
    span.addEvent("exception", {
      "exception.type": name,
      ...(code === undefined ? {} : { "exception.code": code }),
      ...(message === undefined ? {} : { "exception.message": message }),
    });
    span.setStatus({ code: STATUS_ERROR, message: code ?? name });
  } catch (failure) {
    reportTelemetryFailure("tracer", failure);
  }
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Runs `fn` in a new active span and ends it with the outcome: an error is recorded (see
 * {@link recordError}) and rethrown. Not `async`: on a hot path (a dispatch) one promise fewer counts.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  parent?: Context,
  links?: Link[],
): Promise<T> {
  const base = parent ?? activeContext();
  const span = startSpan(tracer, name, kind, attributes, base, links);
  let running: Promise<T>;
  try {
    running = runWithSpan(span, fn, base, span);
  } catch (error) {
    recordError(span, error);
    endSpan(span);
    return Promise.reject(error);
  }
  return Promise.resolve(running).then(
    (result) => {
      endSpan(span);
      return result;
    },
    (error: unknown) => {
      recordError(span, error);
      endSpan(span);
      throw error;
    },
  );
}
