/**
 * What the JSON API answers with: events summarized for lists, whole for the detail view, and the
 * trace an event's metadata points to. Everything here is data; the page renders it as text.
 */
import type { EventEnvelope } from "../../../src/index.js";
import { normalizeTraceparent } from "../../http/index.js";

/** One line of a list: enough to find an event and open it. */
export interface EventSummary {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  readonly version: number;
  readonly globalPosition: number | undefined;
  readonly timestamp: string;
}

export interface TraceLink {
  readonly traceId: string;
  readonly spanId: string;
  /** The operator's `traceUrl` with the trace id filled in; absent without one. */
  readonly url?: string;
}

export function summary(event: EventEnvelope): EventSummary {
  return {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    version: event.version,
    globalPosition: event.globalPosition,
    timestamp: event.timestamp,
  };
}

/** The trace of an event, from its metadata's `traceparent` when it is a valid W3C one. */
export function traceOf(event: EventEnvelope, traceUrl: string | undefined): TraceLink | undefined {
  const raw = (event.metadata as Record<string, unknown> | undefined)?.traceparent;
  if (typeof raw !== "string") return undefined;
  const traceparent = normalizeTraceparent(raw);
  if (traceparent === undefined) return undefined;
  // Validated hex: safe in a URL as it is.
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  return traceUrl === undefined
    ? { traceId, spanId }
    : { traceId, spanId, url: traceUrl.replaceAll("{traceId}", traceId) };
}
