import type { Attributes } from "@opentelemetry/api";
import type { EventEnvelope } from "../events/envelope.js";
import { activeSpan, ROOT_CONTEXT } from "./otel-global.js";
import { contextFromMetadata } from "./propagation.js";
import { inSpan, SpanKind, type Tracer } from "./spans.js";

/** What a consumer span says about an event: ids, type and stream, never its data or metadata. */
export function eventAttributes(event: EventEnvelope, system: string, subscription?: string): Attributes {
  const attributes: Attributes = {
    "messaging.system": system,
    "messaging.operation.type": "process",
    "messaging.message.id": event.id,
    "eventflows.event_type": event.type,
    "eventflows.stream_id": event.streamId,
  };
  if (subscription !== undefined) attributes["messaging.consumer.group.name"] = subscription;
  return attributes;
}

/**
 * Runs one event's handler in a `process <type>` span. Inside a span already (a bus delivering what
 * an append published, in the same process) it is that span's child; otherwise it continues the
 * trace the event carries in its metadata (written when it was appended). A `detached` consumer (a
 * store subscription's loop, started in whatever context subscribed) always continues the event's
 * trace, or starts a new one.
 */
export function processEvent<T>(
  tracer: Tracer,
  event: EventEnvelope,
  system: string,
  subscription: string | undefined,
  handle: () => T | Promise<T>,
  detached = false,
): Promise<T> {
  const parent =
    detached || activeSpan() === undefined
      ? (contextFromMetadata(event.metadata) ?? (detached ? ROOT_CONTEXT : undefined))
      : undefined;
  return inSpan(
    tracer,
    `process ${event.type}`,
    SpanKind.CONSUMER,
    eventAttributes(event, system, subscription),
    async () => handle(),
    parent,
  );
}
