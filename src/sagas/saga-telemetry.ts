import type { Attributes, Tracer } from "@opentelemetry/api";
import type { EventEnvelope } from "../events/envelope.js";
import { countSagaStep, recordTimeoutLateness } from "../telemetry/metrics.js";
import { activeSpan } from "../telemetry/otel-global.js";
import { contextFromMetadata, formatTraceparent, isSpanContextValid } from "../telemetry/propagation.js";
import { inSpan, recordError, type Span, SpanKind, setSpanAttribute, spanContextOf } from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";
import type { SagaTimeout } from "./types.js";

// What the runtime's outcomes and timeout reports hold, as far as telemetry reads them (structural:
// the runtime imports this file).
interface StepResult {
  readonly outcome: string;
  readonly key?: string | undefined;
  readonly version?: number;
  readonly error?: unknown;
}

/**
 * Applies one event to one saga in a `saga <name>` span (the caller got the tracer, so an untraced
 * step pays no wrapper at all; it counts the step by outcome itself, traced or not). Inside a span
 * already (a bus delivering what an append published) the span is its child; otherwise it continues
 * the trace the event carries in its metadata, as a consumer does. The runtime never throws: a
 * `failed` outcome is recorded on the span.
 */
export function traceStep<R extends StepResult>(
  tracer: Tracer,
  saga: string,
  event: EventEnvelope,
  apply: () => Promise<R>,
): Promise<R> {
  const parent = activeSpan() === undefined ? contextFromMetadata(event.metadata) : undefined;
  const attributes: Attributes = {
    "eventflows.saga": saga,
    "messaging.operation.type": "process",
    "messaging.message.id": event.id,
    "eventflows.event_type": event.type,
  };
  return inSpan(
    tracer,
    `saga ${saga}`,
    SpanKind.CONSUMER,
    attributes,
    async (span) => {
      const result = await apply();
      ended(span, result.outcome, result.key, result.error);
      if (result.version !== undefined) setSpanAttribute(span, "eventflows.saga.version", result.version);
      return result;
    },
    parent,
  );
}

/**
 * Fires one claimed timeout in a `saga <name> timeout` span (a trace of its own, or the caller's:
 * a tick runs wherever its scheduler runs), with its lateness; records the lateness histogram and
 * the step. `fire` resolves to undefined when the timeout was dropped (the instance had finished or
 * had handled it, or the saga is another runtime's).
 */
export async function traceTimeout<R extends StepResult>(
  traced: boolean,
  timeout: SagaTimeout,
  now: number,
  fire: () => Promise<R | undefined>,
): Promise<R | undefined> {
  const tracer = traced ? activeTracer() : undefined;
  const latenessMs = Math.max(0, now - timeout.dueAt);
  let report: R | undefined;
  if (tracer === undefined) report = await fire();
  else {
    const attributes: Attributes = {
      "eventflows.saga": timeout.saga,
      "eventflows.saga.key": timeout.key,
      "eventflows.saga.timeout": timeout.name,
      "eventflows.saga.timeout.lateness_ms": latenessMs,
    };
    report = await inSpan(tracer, `saga ${timeout.saga} timeout`, SpanKind.INTERNAL, attributes, async (span) => {
      const fired = await fire();
      if (fired === undefined) setSpanAttribute(span, "eventflows.outcome", "dropped");
      else ended(span, fired.outcome, undefined, fired.error);
      return fired;
    });
  }
  if (report !== undefined) {
    recordTimeoutLateness(timeout.saga, latenessMs, report.outcome);
    countSagaStep(timeout.saga, report.outcome, report.error);
  }
  return report;
}

function ended(span: Span, outcome: string, key: string | undefined, error: unknown): void {
  setSpanAttribute(span, "eventflows.outcome", outcome);
  if (key !== undefined) setSpanAttribute(span, "eventflows.saga.key", key);
  if (outcome === "failed") recordError(span, error);
}

/**
 * The trace context the step runs in, for the commands it decides: saved with each outbox entry
 * and sent in the command's metadata, so a command dispatched later (a re-drive after a crash)
 * still joins the trace of the event that decided it. Empty outside any span.
 */
export function outboxTraceContext(): { traceparent?: string; tracestate?: string } {
  const spanContext = spanContextOf(activeSpan());
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  const tracestate = spanContext.traceState?.serialize();
  return tracestate === undefined || tracestate === ""
    ? { traceparent: formatTraceparent(spanContext) }
    : { traceparent: formatTraceparent(spanContext), tracestate };
}
