import { type CommitResult, EventStore, type EventStoreOptions } from "../event-store/event-store.js";
import type { StreamChange, StreamChangeCommit } from "../event-store/stream-deletion.js";
import type { ExpectedVersion, ReadAllOptions, ReadStreamOptions } from "../event-store/types.js";
import type { EventEnvelope, PendingEvent } from "../events/envelope.js";

/**
 * Another store's events seen through other options (an event registry, a bus): what two releases
 * of an application sharing one database see. Backends that are a database share by connecting
 * twice; the in-memory store has nothing to connect to, so its evolution contract runs on views.
 */
export class StoreView extends EventStore {
  readonly #backing: EventStore;

  constructor(backing: EventStore, options: EventStoreOptions = {}) {
    super(options);
    this.#backing = backing;
  }

  get capabilities() {
    return this.#backing.capabilities;
  }

  protected async commit(streamId: string, events: readonly PendingEvent[], expectedVersion: ExpectedVersion) {
    const appended = await this.#backing.appendToStream(
      streamId,
      events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })),
      { expectedVersion },
    );
    const result: CommitResult = { events: appended.events };
    return appended.retried ? { ...result, retried: true } : result;
  }

  protected readStreamEvents(streamId: string, options: ReadStreamOptions): AsyncGenerator<EventEnvelope> {
    return this.#backing.readStream(streamId, { ...options, raw: true });
  }

  protected readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope> {
    return this.#backing.readAll({ ...options, raw: true });
  }

  override getLastGlobalPosition(): Promise<number> {
    return this.#backing.getLastGlobalPosition();
  }

  override getHeadPosition(): Promise<number> {
    return this.#backing.getHeadPosition();
  }

  // The backing store commits the change and tells its own followers; this view tells its own.
  protected override async commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    const { streamId, expectedVersion } = change;
    const backing = this.#backing;
    // The lifecycle event's metadata (who asked, why) goes with the change.
    const given = change.metadata === undefined ? { expectedVersion } : { expectedVersion, metadata: change.metadata };
    const result =
      change.kind === "restore"
        ? await backing.restoreStream(streamId, given)
        : change.kind === "truncate"
          ? await backing.truncateStream(streamId, { ...given, before: change.before as number })
          : await backing.deleteStream(streamId, { ...given, mode: change.kind === "hard-delete" ? "hard" : "soft" });
    const base = { version: result.version, removed: result.removed };
    return result.event === undefined ? base : { ...base, event: result.event };
  }

  protected override deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    return this.#backing.streamDeletionEvent(streamId);
  }

  protected streamVersion(streamId: string): Promise<number> {
    return this.#backing.getStreamVersion(streamId);
  }
}
