import { StreamDeletedError, ValidationError } from "../errors.js";
import type { EventEnvelope, PendingEvent } from "../events/envelope.js";
import { deepFreeze } from "../internal/deep-equal.js";
import { jsonRoundTrip } from "../internal/json.js";
import { knownOptions } from "../internal/validate.js";
import {
  type CommitResult,
  checkExpectedVersion,
  EVENT_STORE_OPTIONS,
  EventStore,
  type EventStoreOptions,
} from "./event-store.js";
import { type EventPages, eventsOf, pagesFrom } from "./read-pages.js";
import { assertUnchangedRetry } from "./retried-append.js";
import {
  lifecycleEvent,
  planStreamChange,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamDeletionState,
} from "./stream-deletion.js";
import type { EventStoreCapabilities, ExpectedVersion, ReadAllOptions, ReadStreamOptions } from "./types.js";

const EVENT_STORE_KEYS = Object.keys(EVENT_STORE_OPTIONS);

/**
 * The reference event store, in memory. For tests, prototypes and single-process apps. Stored
 * events are deep-frozen copies, so neither the appender nor a reader can change history.
 */
export class InMemoryEventStore extends EventStore {
  readonly capabilities: EventStoreCapabilities = { globalOrder: true, idempotentAppends: true, streamDeletion: true };
  protected override readonly dbSystem: string = "memory";
  // Removed events (hard deletes, truncations) leave holes, so that index + 1 stays the version
  // in a stream and the global position in the feed.
  readonly #streams = new Map<string, (EventEnvelope | undefined)[]>();
  readonly #all: (EventEnvelope | undefined)[] = [];
  readonly #streamOfEventId = new Map<string, string>();
  /** Each deleted stream's state, and the `$stream-deleted` event that recorded it (see `streamDeletionEvent`). */
  readonly #deleted = new Map<string, StreamDeletionState & { event?: EventEnvelope }>();

  constructor(options?: EventStoreOptions) {
    // A misspelt option was dropped without a word (`eventRegistyr` appended unchecked).
    super(knownOptions(options, EVENT_STORE_KEYS, "in-memory event store options"));
  }

  protected async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    const deleted = this.#deleted.get(streamId);
    if (deleted !== undefined) throw new StreamDeletedError(streamId, deleted.mode);
    const stream = this.#streams.get(streamId) ?? [];
    const replay = this.#retriedAppend(stream, events);
    if (replay !== undefined) return { events: replay, retried: true };
    checkExpectedVersion(streamId, expectedVersion, stream.length);
    // Copy before touching state: a copy can still fail (e.g. on a getter that throws). The events
    // are JSON (checked on the way in), so a JSON walk copies them, for less than structuredClone, and
    // keeps what every database store keeps: properties holding undefined left out, -0 as 0.
    const data = events.map((event) => ({
      data: jsonRoundTrip(event.data),
      metadata: jsonRoundTrip(event.metadata),
    }));
    const committed = events.map((event, i) =>
      deepFreeze<EventEnvelope>({
        id: event.id,
        type: event.type,
        streamId,
        version: stream.length + i + 1,
        globalPosition: this.#all.length + i + 1,
        timestamp: event.timestamp,
        data: data[i]?.data,
        metadata: data[i]?.metadata ?? {},
      }),
    );
    if (stream.length === 0) this.#streams.set(streamId, stream);
    for (const event of committed) {
      stream.push(event);
      this.#all.push(event);
      this.#streamOfEventId.set(event.id, streamId);
    }
    return { events: committed };
  }

  // A subclass that overrides the event-by-event reads (a test's counting store) is read through its
  // override; otherwise the pages are cut from the arrays directly.
  protected override readStreamPages(streamId: string, options: ReadStreamOptions): EventPages {
    if (this.readStreamEvents !== InMemoryEventStore.prototype.readStreamEvents) {
      return super.readStreamPages(streamId, options);
    }
    return this.#streamPages(streamId, options);
  }

  protected override readAllPages(options: ReadAllOptions): EventPages {
    if (this.readAllEvents !== InMemoryEventStore.prototype.readAllEvents) return super.readAllPages(options);
    return this.#feedPages(options);
  }

  protected readStreamEvents(streamId: string, options: ReadStreamOptions): AsyncGenerator<EventEnvelope> {
    return eventsOf(this.#streamPages(streamId, options));
  }

  protected readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope> {
    return eventsOf(this.#feedPages(options));
  }

  // Each page is cut from the arrays when the reader asks for it, so a read sees appends made while it
  // runs, as a database read paging by position does.
  #streamPages(streamId: string, options: ReadStreamOptions): EventPages {
    const backward = options.direction === "backward";
    return slotPages(
      () => (this.#deleted.has(streamId) ? undefined : this.#streams.get(streamId)),
      (stream) =>
        backward
          ? Math.min(options.fromVersion ?? stream.length, stream.length) - 1
          : Math.max(options.fromVersion ?? 1, 1) - 1,
      backward ? -1 : 1,
      options.maxCount,
    );
  }

  #feedPages(options: ReadAllOptions): EventPages {
    return slotPages(
      () => this.#all,
      () => options.after ?? 0,
      1,
      options.maxCount,
    );
  }

  protected override async hiddenStreams(): Promise<ReadonlySet<string>> {
    const hidden = new Set<string>();
    for (const [streamId, state] of this.#deleted) if (state.mode === "soft") hidden.add(streamId);
    return hidden;
  }

  // Synchronous from the decision to the last write: no append can slip in between.
  protected override async commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    const { streamId } = change;
    const stream = this.#streams.get(streamId) ?? [];
    const state = this.#deleted.get(streamId);
    const { action, version } = planStreamChange(change, state, stream.length, checkExpectedVersion);
    let removed = 0;
    switch (action) {
      case "none":
        return { version, removed };
      case "hide":
        this.#deleted.set(streamId, { mode: "soft", version });
        break;
      case "unhide":
        this.#deleted.delete(streamId);
        break;
      case "remove":
        removed = this.#remove(stream, stream.length + 1);
        this.#deleted.set(streamId, { mode: "hard", version });
        break;
      case "truncate":
        removed = this.#remove(stream, change.before as number);
        if (removed === 0) return { version, removed };
        break;
    }
    const [event] = (await this.commit(STREAM_LIFECYCLE_STREAM, [lifecycleEvent(change, version, removed)], "any"))
      .events;
    const now = this.#deleted.get(streamId);
    if (now !== undefined && action !== "truncate") this.#deleted.set(streamId, { ...now, event });
    return { version, removed, event };
  }

  /** From the stream's own deletion state: one lookup, whatever the feed holds. */
  protected override async deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    return this.#deleted.get(streamId)?.event;
  }

  /** Removes the stream's events below `before` from the stream and the feed; returns how many. */
  #remove(stream: (EventEnvelope | undefined)[], before: number): number {
    let removed = 0;
    for (let index = 0; index < before - 1 && index < stream.length; index++) {
      const event = stream[index];
      if (event === undefined) continue;
      stream[index] = undefined;
      this.#all[(event.globalPosition as number) - 1] = undefined;
      this.#streamOfEventId.delete(event.id);
      removed++;
    }
    return removed;
  }

  override async getLastGlobalPosition(): Promise<number> {
    return this.#all.length;
  }

  protected async streamVersion(streamId: string): Promise<number> {
    // A hard-deleted stream has no events: version 0, as on the stores that count stored rows.
    if (this.#deleted.get(streamId)?.mode === "hard") return 0;
    return this.#streams.get(streamId)?.length ?? 0;
  }

  /** From the deletion map, as `commit` refuses: it holds the mode before the lifecycle event is recorded. */
  protected override async appendableVersion(streamId: string): Promise<number> {
    const deleted = this.#deleted.get(streamId);
    if (deleted !== undefined) throw new StreamDeletedError(streamId, deleted.mode);
    // Through streamVersion, which a subclass (a test's broken store) may override.
    return this.streamVersion(streamId);
  }

  /**
   * A retry of an append that committed: every id already stored, in this stream, in this order.
   * Returns the stored events; throws when ids collide with other events; undefined when all are new.
   */
  #retriedAppend(stream: (EventEnvelope | undefined)[], events: readonly PendingEvent[]): EventEnvelope[] | undefined {
    const known = events.filter((event) => this.#streamOfEventId.has(event.id));
    if (known.length === 0) return undefined;
    const first = stream.findIndex((stored) => stored?.id === events[0]?.id);
    const replay = first < 0 ? [] : (stream.slice(first, first + events.length) as EventEnvelope[]);
    if (
      known.length === events.length &&
      replay.length === events.length &&
      replay.every((e, i) => e?.id === events[i]?.id)
    ) {
      assertUnchangedRetry(events, replay);
      return replay;
    }
    throw new ValidationError("Event ids already used", [
      { path: [], message: `${known.length} of ${events.length} event ids are already stored (${known[0]?.id}...)` },
    ]);
  }
}

/** Events per page of an in-memory read: enough that paging costs nothing per event, small enough to start at once. */
const READ_PAGE_SIZE = 512;

/**
 * Reads the slots `open()` gives (undefined: nothing to read) from `first(slots)`, `step` at a time,
 * passing by removed events (holes), at most `maxCount` events in all.
 */
function slotPages(
  open: () => readonly (EventEnvelope | undefined)[] | undefined,
  first: (slots: readonly (EventEnvelope | undefined)[]) => number,
  step: 1 | -1,
  maxCount = Number.POSITIVE_INFINITY,
): EventPages {
  let slots: readonly (EventEnvelope | undefined)[] | undefined;
  let index = 0;
  let remaining = maxCount;
  return pagesFrom(() => {
    if (slots === undefined) {
      slots = open();
      if (slots === undefined) return undefined;
      index = first(slots);
    }
    const page: EventEnvelope[] = [];
    while (page.length < READ_PAGE_SIZE && remaining > 0 && index >= 0 && index < slots.length) {
      const event = slots[index];
      index += step;
      if (event === undefined) continue;
      remaining--;
      page.push(event);
    }
    return page.length === 0 ? undefined : page;
  });
}
