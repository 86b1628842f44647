import type {
  Attributes,
  Context,
  Link,
  SpanKind as OtelSpanKind,
  SpanStatusCode as OtelSpanStatusCode,
  Span,
  Tracer,
} from "@opentelemetry/api";
import { isEventFlowsError } from "../errors.js";
import { activeContext, runWithSpan } from "./otel-global.js";

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

/** Starts a span under `parent` (the active context when absent). */
export function startSpan(
  tracer: Tracer,
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent?: Context,
  links?: Link[],
): Span {
  const options = links === undefined || links.length === 0 ? { kind, attributes } : { kind, attributes, links };
  // No parent and no context manager: the tracer's own API reads the same (empty) active context.
  return tracer.startSpan(name, options, parent ?? activeContext());
}

/** Runs `fn` with `span` as the active span, so that spans started inside are its children. */
export function withActiveSpan<T>(span: Span, fn: () => T): T {
  return runWithSpan(span, fn);
}

/**
 * Marks the span failed with what is safe to export: the error's stable `code` (as `error.type` and
 * `eventflows.error.code`) and, for EventFlows errors only, the message (written not to hold
 * credentials or payloads). Another library's message may quote SQL or a URL, so only its class name goes.
 */
export function recordError(span: Span, error: unknown): void {
  const code = errorCode(error);
  const name = error instanceof Error ? error.name : typeof error;
  span.setAttribute("error.type", code ?? name);
  if (code !== undefined) span.setAttribute("eventflows.error.code", code);
  const message = isEventFlowsError(error) ? error.message : undefined;
  span.addEvent("exception", {
    "exception.type": name,
    ...(code === undefined ? {} : { "exception.code": code }),
    ...(message === undefined ? {} : { "exception.message": message }),
  });
  span.setStatus({ code: STATUS_ERROR, message: code ?? name });
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
    span.end();
    return Promise.reject(error);
  }
  return Promise.resolve(running).then(
    (result) => {
      span.end();
      return result;
    },
    (error: unknown) => {
      recordError(span, error);
      span.end();
      throw error;
    },
  );
}
