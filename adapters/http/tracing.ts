/**
 * The server span of each request: one place, so Hono, Lambda and any other mount get the same spans.
 * The span continues the caller's W3C trace context when the dispatcher trusts the client (the same
 * rule as for correlation ids), or the span that is active already (a runtime's own HTTP span).
 */
import { type Context, type Span, SpanKind, type Tracer } from "@opentelemetry/api";
import {
  contextFromMetadata,
  currentContext,
  endSpan,
  recordError,
  setSpanAttribute,
  startSpan,
  withActiveSpan,
} from "../../src/index.js";
import { normalizeTraceparent } from "./correlation.js";

/**
 * Runs `handle` in a span named `<METHOD> <route>`, and records the response status on it. `handle`
 * is given the span, so that a 5xx can record its error there ({@link recordRequestError}) without a
 * look-up per request.
 */
export function tracedRequest(
  tracer: Tracer,
  request: Request,
  route: string | undefined,
  messageType: string | undefined,
  trusted: () => boolean,
  handle: (span: Span) => Promise<Response>,
): Promise<Response> {
  const method = request.method;
  // Object literals, not one object grown key by key: the cheapest shape for the SDK to copy and check.
  const attributes: Record<string, string> =
    route === undefined
      ? { "http.request.method": method }
      : messageType === undefined
        ? { "http.request.method": method, "http.route": route }
        : { "http.request.method": method, "http.route": route, "eventflows.message.type": messageType };
  if (route === undefined && messageType !== undefined) attributes["eventflows.message.type"] = messageType;
  // The active context is read once: it tells whether a span runs already (a runtime's server span,
  // then the parent as it is) and is the parent otherwise, unless a trusted caller sent its own.
  // Through the core's helpers, which never throw: a context manager that does must not fail the request.
  const { context: active, span: running } = currentContext();
  const inner = running !== undefined;
  const parent = inner ? active : (callerContext(request, trusted) ?? active);
  const name = route === undefined ? method : `${method} ${route}`;
  const span = startSpan(tracer, name, inner ? SpanKind.INTERNAL : SpanKind.SERVER, attributes, parent);
  // The span goes into the active context (whatever else it holds stays), not into the caller's.
  return withActiveSpan(span, () => handle(span), active).then(
    (response) => {
      setSpanAttribute(span, "http.response.status_code", response.status);
      endSpan(span);
      return response;
    },
    (error: unknown) => {
      recordError(span, error);
      endSpan(span);
      throw error;
    },
  );
}

/** Marks the request's span failed with the error behind a 5xx response (the response itself says less). */
export function recordRequestError(span: Span | undefined, error: unknown): void {
  if (span !== undefined) recordError(span, error);
}

// The caller's trace context, when trusted (asked only when no span is active yet). A trust
// function that throws trusts nothing here: the dispatcher asks it again inside its own error
// handling, which answers the request with a 500 as it does when no tracer is registered.
function callerContext(request: Request, trusted: () => boolean): Context | undefined {
  let trust = false;
  try {
    trust = trusted();
  } catch {
    return undefined;
  }
  const raw = trust ? request.headers.get("traceparent") : null;
  const traceparent = raw === null ? undefined : normalizeTraceparent(raw);
  if (traceparent === undefined) return undefined;
  const tracestate = request.headers.get("tracestate") ?? undefined;
  return contextFromMetadata(tracestate === undefined ? { traceparent } : { traceparent, tracestate });
}
