import { StreamDeletedError, StreamNotFoundError, ValidationError } from "../errors.js";
import { type EventEnvelope, type EventMetadata, metadataIssues, type PendingEvent } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { assertKnownOptions, kindOf } from "../internal/validate.js";
import type { EventPages } from "./read-pages.js";
import type { ExpectedVersion, ReadAllOptions } from "./types.js";

/**
 * The system stream that records every deletion, restore and truncation, as events in the global
 * feed: how projections and subscriptions learn that a stream's events are hidden or gone.
 */
export const STREAM_LIFECYCLE_STREAM = "$streams";

/** The types of the events in {@link STREAM_LIFECYCLE_STREAM}. */
export const StreamLifecycleEventType = {
  Deleted: "$stream-deleted",
  Restored: "$stream-restored",
  Truncated: "$stream-truncated",
} as const;

export type StreamLifecycleEventType = (typeof StreamLifecycleEventType)[keyof typeof StreamLifecycleEventType];

export type StreamDeletionMode = "soft" | "hard";

/** The data of a `$stream-deleted`, `$stream-restored` or `$stream-truncated` event. */
export interface StreamLifecycleData {
  /** The stream deleted, restored or truncated. */
  readonly streamId: string;
  /** `$stream-deleted` only: soft (hidden, restorable) or hard (events removed). */
  readonly mode?: StreamDeletionMode;
  /** The stream's version when it happened. */
  readonly version: number;
  /** `$stream-truncated` only: events below this version were removed. */
  readonly before?: number;
  /** How many events were removed (0 for a soft delete or a restore). */
  readonly removed: number;
}

/** A stream lifecycle event as a reader of the feed sees it. */
export type StreamLifecycleEvent = EventEnvelope<StreamLifecycleEventType, StreamLifecycleData>;

/** Whether an event of the feed is one of the store's stream lifecycle events. */
export function isStreamLifecycleEvent(event: EventEnvelope): event is StreamLifecycleEvent {
  return (
    event.streamId === STREAM_LIFECYCLE_STREAM &&
    (event.type === StreamLifecycleEventType.Deleted ||
      event.type === StreamLifecycleEventType.Restored ||
      event.type === StreamLifecycleEventType.Truncated)
  );
}

export interface DeleteStreamOptions {
  /** `"soft"` (default): hidden from every read, restorable. `"hard"`: the events are removed for good. */
  readonly mode?: StreamDeletionMode;
  /** The version the stream must be at; defaults to `"any"`. */
  readonly expectedVersion?: ExpectedVersion;
  /**
   * Metadata recorded on the lifecycle event (who asked, why, a correlation id): checked as an
   * append's metadata is. A tenant's store adds its `tenantId` here.
   */
  readonly metadata?: EventMetadata;
}

export interface RestoreStreamOptions {
  /** The version the soft-deleted stream must be at; defaults to `"any"`. */
  readonly expectedVersion?: ExpectedVersion;
  /**
   * Metadata recorded on the lifecycle event (who asked, why, a correlation id): checked as an
   * append's metadata is. A tenant's store adds its `tenantId` here.
   */
  readonly metadata?: EventMetadata;
}

export interface TruncateStreamOptions {
  /** Events with a lower version are removed; from 1 (nothing) up to the stream's version (all but the last). */
  readonly before: number;
  /** The version the stream must be at; defaults to `"any"`. */
  readonly expectedVersion?: ExpectedVersion;
  /**
   * Metadata recorded on the lifecycle event (who asked, why, a correlation id): checked as an
   * append's metadata is. A tenant's store adds its `tenantId` here.
   */
  readonly metadata?: EventMetadata;
}

export type StreamChangeKind = "soft-delete" | "hard-delete" | "restore" | "truncate";

/** What a deletion, restore or truncation did. */
export interface StreamChangeResult {
  readonly streamId: string;
  readonly operation: StreamChangeKind;
  /** The stream's version when the operation ran (a deleted stream keeps the version it had). */
  readonly version: number;
  /** How many events were removed. */
  readonly removed: number;
  /** False when there was nothing left to do (done before: the call is idempotent); nothing was written. */
  readonly changed: boolean;
  /** The lifecycle event recorded in the feed, when something changed. */
  readonly event?: StreamLifecycleEvent;
}

/** A stream's deletion state, as a store keeps it. */
export interface StreamDeletionState {
  readonly mode: StreamDeletionMode;
  /** The stream's version when it was deleted. */
  readonly version: number;
}

/** One change for a store to commit atomically (see `EventStore.commitStreamChange`). */
export interface StreamChange {
  readonly kind: StreamChangeKind;
  readonly streamId: string;
  readonly expectedVersion: ExpectedVersion;
  /** `truncate` only. */
  readonly before?: number;
  /** The lifecycle event's metadata, checked. */
  readonly metadata?: EventMetadata;
  /** The lifecycle event's id and time, fixed before the store runs so that the store stays deterministic. */
  readonly eventId: string;
  readonly timestamp: string;
}

/** What a store does for a change, decided by {@link planStreamChange} from what it holds. */
export type StreamChangeAction =
  /** Nothing: the change was made before. */
  | "none"
  /** Record the stream as soft-deleted. */
  | "hide"
  /** Remove every event of the stream and record it as hard-deleted. */
  | "remove"
  /** Forget the soft deletion. */
  | "unhide"
  /** Remove the events below `before`. */
  | "truncate";

/** What a store commits back to the port. */
export interface StreamChangeCommit {
  readonly version: number;
  readonly removed: number;
  /** The lifecycle event as stored, when something changed. */
  readonly event?: EventEnvelope;
}

/**
 * The one decision every store makes, inside its transaction, from the stream's deletion state and
 * version: checks the expected version and the operation's preconditions, and names the action.
 * @throws {StreamNotFoundError} the stream never had events and was never deleted.
 * @throws {ConcurrencyError} the stream is not at the expected version.
 * @throws {StreamDeletedError} truncating a deleted stream, or restoring a hard-deleted one.
 * @throws {ValidationError} truncating at or past the stream's version + 1.
 */
export function planStreamChange(
  change: StreamChange,
  state: StreamDeletionState | undefined,
  storedVersion: number,
  check: (streamId: string, expected: ExpectedVersion, actual: number) => void,
): { readonly action: StreamChangeAction; readonly version: number } {
  const version = state?.version ?? storedVersion;
  if (state === undefined && version === 0) throw new StreamNotFoundError(change.streamId);
  check(change.streamId, change.expectedVersion, version);
  switch (change.kind) {
    case "soft-delete":
      return { action: state === undefined ? "hide" : "none", version };
    case "hard-delete":
      return { action: state?.mode === "hard" ? "none" : "remove", version };
    case "restore":
      if (state?.mode === "hard") throw new StreamDeletedError(change.streamId, "hard");
      return { action: state === undefined ? "none" : "unhide", version };
    case "truncate": {
      if (state !== undefined) throw new StreamDeletedError(change.streamId, state.mode);
      const before = change.before as number;
      if (before > version) {
        throw new ValidationError("Invalid truncation", [
          {
            path: ["before"],
            message: `the stream is at version ${version}: truncation keeps at least its last event (delete the stream to remove all)`,
          },
        ]);
      }
      return { action: before <= 1 ? "none" : "truncate", version };
    }
  }
}

/** The lifecycle event a store writes for a change that did something. */
export function lifecycleEvent(
  change: StreamChange,
  version: number,
  removed: number,
  mode?: StreamDeletionMode,
): PendingEvent {
  const type =
    change.kind === "restore"
      ? StreamLifecycleEventType.Restored
      : change.kind === "truncate"
        ? StreamLifecycleEventType.Truncated
        : StreamLifecycleEventType.Deleted;
  const data: StreamLifecycleData =
    change.kind === "truncate"
      ? { streamId: change.streamId, version, before: change.before as number, removed }
      : change.kind === "restore"
        ? { streamId: change.streamId, version, removed }
        : {
            streamId: change.streamId,
            mode: mode ?? (change.kind === "hard-delete" ? "hard" : "soft"),
            version,
            removed,
          };
  return { id: change.eventId, type, data, metadata: { ...change.metadata }, timestamp: change.timestamp };
}

/** A new change with its event id and time fixed. */
export function newStreamChange(
  kind: StreamChangeKind,
  streamId: string,
  expectedVersion: ExpectedVersion,
  before?: number,
  metadata?: EventMetadata,
): StreamChange {
  if (metadata !== undefined) {
    // The lifecycle event is stored as any event is: U+0000 refused for every store, as in appends.
    const issues = metadataIssues(metadata, ["metadata"], { refuseNul: true });
    if (issues.length > 0) throw new ValidationError("Invalid stream change metadata", issues);
  }
  const base = { kind, streamId, expectedVersion, eventId: ulid(), timestamp: new Date().toISOString() };
  const withBefore = before === undefined ? base : { ...base, before };
  return metadata === undefined ? withBefore : { ...withBefore, metadata };
}

/** Refuses changes to the store's own system streams (ids starting with `$`). */
export function assertUserStream(streamId: string): void {
  if (streamId.startsWith("$")) {
    throw new ValidationError("Invalid stream id", [
      { path: [], message: `"${streamId}" is a system stream: it cannot be deleted, restored or truncated` },
    ]);
  }
}

/**
 * Refuses an append to `$streams`: its lifecycle events are written by `deleteStream`, `restoreStream`
 * and `truncateStream` alone, and read as facts (a projection deletes what a `$stream-deleted` names).
 */
export function assertAppendableStream(streamId: string): void {
  if (streamId === STREAM_LIFECYCLE_STREAM) {
    throw new ValidationError("Invalid stream id", [
      {
        path: [],
        message: `"${streamId}" is a system stream: only deleteStream, restoreStream and truncateStream write to it`,
      },
    ]);
  }
}

const DELETE_OPTIONS = [
  "mode",
  "expectedVersion",
  "metadata",
] as const satisfies readonly (keyof DeleteStreamOptions)[];
const RESTORE_OPTIONS = ["expectedVersion", "metadata"] as const satisfies readonly (keyof RestoreStreamOptions)[];
const TRUNCATE_OPTIONS = [
  "before",
  "expectedVersion",
  "metadata",
] as const satisfies readonly (keyof TruncateStreamOptions)[];
const CHANGE_OPTIONS = { delete: DELETE_OPTIONS, restore: RESTORE_OPTIONS, truncate: TRUNCATE_OPTIONS } as const;

/**
 * Refuses a deletion's, restore's or truncation's options (a JavaScript caller's mistakes) before anything
 * changes: options that are not an object (`undefined` and `null` are none) or a key the operation does not
 * take. Dropped, a misspelt `mdoe: "hard"` soft-deleted the stream the caller meant to erase, and a misspelt
 * expected version changed the stream at whatever version it was.
 */
export function assertStreamChangeOptions(options: unknown, operation: keyof typeof CHANGE_OPTIONS): void {
  assertKnownOptions(options, CHANGE_OPTIONS[operation], `${operation} options`);
}

export function assertDeletionMode(mode: unknown): asserts mode is StreamDeletionMode {
  if (mode !== "soft" && mode !== "hard") {
    throw new ValidationError("Invalid delete options", [
      { path: ["mode"], message: `mode must be "soft" or "hard", got ${kindOf(mode)}` },
    ]);
  }
}

/**
 * The feed without the events of soft-deleted streams, page by page. `maxCount` counts the events
 * yielded, so a follower that asks for a batch always gets past hidden events (a page of hidden
 * events alone would otherwise look like the end of the feed, or hold a follower at the same
 * position forever). The deleted streams are looked up while the first page is read.
 */
export async function* visibleFeed(
  read: (options: ReadAllOptions) => EventPages,
  options: ReadAllOptions,
  hidden: () => Promise<ReadonlySet<string>>,
): EventPages {
  let page = read(options);
  try {
    const [streams, first] = await Promise.all([hidden(), page.next()]);
    if (streams.size === 0) {
      if (first.done === true) return;
      yield first.value;
      yield* page;
      return;
    }
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let after = options.after ?? 0;
    let pending: IteratorResult<readonly EventEnvelope[], void> | undefined = first;
    while (remaining > 0) {
      const asked = remaining;
      let stored = 0;
      for (;;) {
        const result: IteratorResult<readonly EventEnvelope[], void> = pending ?? (await page.next());
        pending = undefined;
        if (result.done === true) break;
        stored += result.value.length;
        const last = result.value[result.value.length - 1];
        after = last?.globalPosition ?? after;
        const shown = result.value.filter((event) => !streams.has(event.streamId));
        if (shown.length >= remaining) {
          yield shown.length === remaining ? shown : shown.slice(0, remaining);
          return;
        }
        remaining -= shown.length;
        if (shown.length > 0) yield shown;
      }
      if (stored < asked || !Number.isFinite(asked)) return;
      page = read(Number.isFinite(remaining) ? { ...options, after, maxCount: remaining } : { ...options, after });
    }
  } finally {
    await page.return(undefined);
  }
}
