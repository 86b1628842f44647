import { EventFlowsError, type EventFlowsErrorOptions } from "../../src/index.js";

/** The code of {@link EventCorruptError}: stable across releases. */
export const EVENT_CORRUPT = "EVENT_CORRUPT";

/**
 * A stored event item cannot be read as an event: written by another tool in a shape that has no
 * sane reading (data that is neither JSON text nor a JSON-like attribute, binary data, a missing
 * id, type or time). It names the stream and version, never the item's contents.
 */
export class EventCorruptError extends EventFlowsError {
  override readonly name = "EventCorruptError";
  constructor(
    readonly streamId: string,
    readonly version: number,
    readonly reason: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(EVENT_CORRUPT, `Event ${version} of stream "${streamId}" is unreadable: ${reason}`, options);
  }
}

export const isEventCorruptError = (error: unknown): error is EventCorruptError =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === EVENT_CORRUPT;
