/**
 * The server span of each request: one place, so Hono, Lambda and any other mount get the same spans.
 * The span continues the caller's W3C trace context when the dispatcher trusts the client (the same
 * rule as for correlation ids), or the span that is active already (a runtime's own HTTP span).
 */
import { type Context, type Span, SpanKind, trace } from "@opentelemetry/api";
import { activeTracer, contextFromMetadata, recordError, startSpan, withActiveSpan } from "../../src/index.js";
import { normalizeTraceparent } from "./correlation.js";

const spans = new WeakMap<Request, Span>();

/** Runs `handle` in a span named `<METHOD> <route>`, and records the response status on it. */
export function tracedRequest(
  request: Request,
  route: string | undefined,
  messageType: string | undefined,
  trusted: () => boolean,
  handle: () => Promise<Response>,
): Promise<Response> {
  const tracer = activeTracer();
  if (tracer === undefined) return handle();
  const method = request.method;
  // Object literals, not one object grown key by key: the cheapest shape for the SDK to copy and check.
  const attributes: Record<string, string> =
    route === undefined
      ? { "http.request.method": method }
      : messageType === undefined
        ? { "http.request.method": method, "http.route": route }
        : { "http.request.method": method, "http.route": route, "eventflows.message.type": messageType };
  if (route === undefined && messageType !== undefined) attributes["eventflows.message.type"] = messageType;
  const inner = trace.getActiveSpan() !== undefined;
  const parent = callerContext(request, trusted);
  const name = route === undefined ? method : `${method} ${route}`;
  const span = startSpan(tracer, name, inner ? SpanKind.INTERNAL : SpanKind.SERVER, attributes, parent);
  spans.set(request, span);
  return withActiveSpan(span, handle).then(
    (response) => {
      span.setAttribute("http.response.status_code", response.status);
      span.end();
      return response;
    },
    (error: unknown) => {
      recordError(span, error);
      span.end();
      throw error;
    },
  );
}

/** Marks the request's span failed with the error behind a 5xx response (the response itself says less). */
export function recordRequestError(request: Request, error: unknown): void {
  const span = spans.get(request);
  if (span !== undefined) recordError(span, error);
}

// The caller's trace context, when trusted and no span is active yet (a runtime instrumentation's
// server span, which is then the parent as it is).
function callerContext(request: Request, trusted: () => boolean): Context | undefined {
  if (trace.getActiveSpan() !== undefined) return undefined;
  const raw = trusted() ? request.headers.get("traceparent") : null;
  const traceparent = raw === null ? undefined : normalizeTraceparent(raw);
  if (traceparent === undefined) return undefined;
  const tracestate = request.headers.get("tracestate") ?? undefined;
  return contextFromMetadata(tracestate === undefined ? { traceparent } : { traceparent, tracestate });
}
