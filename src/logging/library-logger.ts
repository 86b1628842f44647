import type { EventEnvelope } from "../events/envelope.js";
import { jsonLogger } from "./json-logger.js";
import type { LogFields, Logger } from "./logger.js";

// Made on first use, not at import: importing the library has no side effects.
let configured: Logger | undefined;

/**
 * Sets the logger the library writes its own lines to (hook failures, failed deliveries, slow paths)
 * wherever a component was not given one. Defaults to `jsonLogger()`. Pass `undefined` to restore it.
 */
export function setLogger(logger: Logger | undefined): void {
  configured = logger;
}

/** The logger set by {@link setLogger}, else the default JSON-lines logger. */
export function getLogger(): Logger {
  configured ??= jsonLogger();
  return configured;
}

/** What a log line says about an event: ids and type, never its data or other metadata. */
export function eventFields(event: EventEnvelope | undefined): LogFields {
  if (event === undefined) return {};
  const fields: Record<string, unknown> = { eventId: event.id, eventType: event.type, streamId: event.streamId };
  const metadata = event.metadata;
  if (typeof metadata?.correlationId === "string") fields.correlationId = metadata.correlationId;
  if (typeof metadata?.causationId === "string") fields.causationId = metadata.causationId;
  return fields;
}
