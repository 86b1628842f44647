import type { PublishResult } from "../event-bus/event-bus.js";
import type { EventEnvelope, EventMetadata } from "../events/envelope.js";

/**
 * What the caller expects of the stream before an append:
 * - a number: the stream is at exactly this version (0 means it has no events);
 * - `"no-stream"`: it has no events yet;
 * - `"stream-exists"`: it has at least one event;
 * - `"any"`: no check.
 */
export type ExpectedVersion = number | "no-stream" | "stream-exists" | "any";

export interface AppendToStreamOptions {
  /** Defaults to `"any"`. */
  readonly expectedVersion?: ExpectedVersion;
  /** Merged into every event's metadata (the event's own fields win). */
  readonly metadata?: EventMetadata;
}

export interface AppendToStreamResult<E extends EventEnvelope = EventEnvelope> {
  readonly streamId: string;
  /** The stream's version after the append: pass it as `expectedVersion` to append again. */
  readonly nextExpectedVersion: number;
  /** The committed events, with versions and global positions. */
  readonly events: readonly E[];
  /** What publishing to the configured bus did; absent without a bus or for an empty append. */
  readonly published?: PublishResult;
  /**
   * `true` when every event id was already stored in this stream by an earlier append (a retry of an
   * append that had committed): `events` are the stored ones, nothing was written or published again.
   * Absent otherwise. Only stores with `capabilities.idempotentAppends` recognise retries.
   */
  readonly retried?: true;
}

export type ReadDirection = "forward" | "backward";

export interface ReadStreamOptions {
  /** Defaults to `"forward"`. */
  readonly direction?: ReadDirection;
  /**
   * The first version read, inclusive. Forward it defaults to 1, backward to the last event;
   * backward, versions at or below it are read.
   */
  readonly fromVersion?: number;
  /**
   * The most stored events to read; all when absent. An upcaster that splits an event can make a
   * read yield more envelopes than this.
   */
  readonly maxCount?: number;
  /**
   * `true` reads events as stored, without the store's `eventRegistry` upcasting them: for tools
   * (migrations, audits, copies). Defaults to false.
   */
  readonly raw?: boolean;
}

export interface ReadAllOptions {
  /** Read events after this global position (exclusive). Defaults to 0, the start. */
  readonly after?: number;
  /** The most stored events to read (a split event can yield more envelopes); all when absent. */
  readonly maxCount?: number;
  /** `true` reads events as stored, without upcasting (see {@link ReadStreamOptions.raw}). */
  readonly raw?: boolean;
}

export interface EventStoreCapabilities {
  /**
   * `readAll` returns events in one total order with increasing `globalPosition`, and never skips an
   * event that commits after a reader has passed its position.
   */
  readonly globalOrder: boolean;
  /** A retried append whose event ids are already stored in that stream writes nothing again. */
  readonly idempotentAppends: boolean;
  /** The most events one atomic append may carry, if the backend limits it. */
  readonly maxEventsPerAppend?: number;
  /**
   * `deleteStream`, `restoreStream` and `truncateStream` work (see the stream deletion docs); without
   * it they throw `StreamDeletionNotSupportedError`, changing nothing.
   */
  readonly streamDeletion?: boolean;
}
