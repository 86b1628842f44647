/**
 * The OTLP/HTTP JSON encoding of ended spans (an `ExportTraceServiceRequest`, in the OpenTelemetry
 * protocol's JSON mapping: trace and span ids as lowercase hex, nanosecond times as decimal strings,
 * span kind and status code as OTLP numbers). Written over the SDK's `ReadableSpan` shape, typed
 * structurally, so that a Worker needs no exporter package (`otlpMetricsJson`'s sibling).
 */
import type { HrTimeLike } from "../http/index.js";
import { keyValues, nanos } from "./otlp-json.js";

interface SpanContextLike {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags?: number;
  readonly traceState?: { serialize(): string };
}

/** What an SDK `ReadableSpan` carries, as far as the export needs it. */
export interface ReadableSpanLike {
  readonly name: string;
  /** The API's `SpanKind` (0 internal, 1 server, 2 client, 3 producer, 4 consumer). */
  readonly kind: number;
  spanContext(): SpanContextLike;
  /** SDK 2 and later. */
  readonly parentSpanContext?: { readonly spanId: string };
  /** SDK 1. */
  readonly parentSpanId?: string;
  readonly startTime: HrTimeLike;
  readonly endTime: HrTimeLike;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The API's `SpanStatusCode` (0 unset, 1 ok, 2 error): OTLP numbers them the same. */
  readonly status: { readonly code: number; readonly message?: string };
  readonly events: readonly {
    readonly name: string;
    readonly time: HrTimeLike;
    readonly attributes?: Readonly<Record<string, unknown>>;
  }[];
  readonly links: readonly {
    readonly context: SpanContextLike;
    readonly attributes?: Readonly<Record<string, unknown>>;
  }[];
  readonly resource?: { readonly attributes: Readonly<Record<string, unknown>> };
  /** `instrumentationScope` in SDK 2 and later, `instrumentationLibrary` before. */
  readonly instrumentationScope?: { readonly name: string; readonly version?: string };
  readonly instrumentationLibrary?: { readonly name: string; readonly version?: string };
}

/** The JSON body of an OTLP/HTTP trace export (`POST /v1/traces`, `content-type: application/json`). */
export function otlpTracesJson(spans: readonly ReadableSpanLike[]): { readonly resourceSpans: unknown[] } {
  // Grouped by resource (object identity: one provider has one) and by scope within it, as OTLP nests them.
  const byResource = new Map<unknown, { resource: ReadableSpanLike["resource"]; scopes: Map<string, unknown[]> }>();
  for (const span of spans) {
    let entry = byResource.get(span.resource);
    if (entry === undefined) {
      entry = { resource: span.resource, scopes: new Map() };
      byResource.set(span.resource, entry);
    }
    const scope = span.instrumentationScope ?? span.instrumentationLibrary;
    const key = JSON.stringify([scope?.name ?? "", scope?.version ?? ""]);
    const list = entry.scopes.get(key) ?? [];
    if (list.length === 0) entry.scopes.set(key, list);
    list.push(spanJson(span));
  }
  return {
    resourceSpans: [...byResource.values()].map(({ resource, scopes }) => ({
      resource: { attributes: keyValues(resource?.attributes ?? {}) },
      scopeSpans: [...scopes].map(([key, list]) => {
        const [name, version] = JSON.parse(key) as [string, string];
        return { scope: { name, version }, spans: list };
      }),
    })),
  };
}

function spanJson(span: ReadableSpanLike) {
  const context = span.spanContext();
  const parentSpanId = span.parentSpanContext?.spanId ?? span.parentSpanId;
  const traceState = context.traceState?.serialize();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    ...(traceState ? { traceState } : {}),
    ...(parentSpanId ? { parentSpanId } : {}),
    flags: context.traceFlags ?? 0,
    name: span.name,
    // The API counts kinds from 0 (internal); OTLP from 1 (0 is "unspecified").
    kind: span.kind + 1,
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: keyValues(span.attributes),
    events: span.events.map((event) => ({
      timeUnixNano: nanos(event.time),
      name: event.name,
      attributes: keyValues(event.attributes ?? {}),
    })),
    links: span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      attributes: keyValues(link.attributes ?? {}),
    })),
    status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
  };
}
