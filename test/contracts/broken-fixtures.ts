/**
 * Implementations broken the ways real ones go wrong, kept to prove the exported contract suites
 * catch them (test/contracts/contracts-catch-broken.test.ts). Each says what it gets wrong.
 */
import {
  type CommitResult,
  ConcurrencyError,
  checkedClock,
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  type DedupStore,
  type DeleteStreamOptions,
  type EventBusOptions,
  type EventEnvelope,
  type EventStoreOptions,
  type ExpectedVersion,
  type IdempotencyClaim,
  type IdempotencyStore,
  InMemoryCheckpointStore,
  InMemoryDedupStore,
  type InMemoryDedupStoreOptions,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemoryIdempotencyStore,
  InMemorySnapshotStore,
  InMemorySubjectKeyStore,
  type PendingEvent,
  type PublishResult,
  type ReadAllOptions,
  type ReadStreamOptions,
  SnapshotStore,
  type SnapshotStoreCapabilities,
  type StoredResponse,
  type StoredSnapshot,
  type StreamChangeResult,
  type SubjectKeyLookup,
  type SubjectKeyStoreOptions,
  ulid,
} from "../../src/index.js";
import type { IdempotencyStoreContractSettings } from "../../src/testing/index.js";

/** Drops every second event it is given, and says nothing: what a lossy publisher looks like to callers. */
export class DroppingEventBus extends InMemoryEventBus {
  constructor(options: EventBusOptions = {}) {
    super(options);
  }

  override publish(events: readonly EventEnvelope[]): Promise<PublishResult> {
    return super.publish(events.filter((_, index) => index % 2 === 0));
  }
}

/**
 * Never forgets an id: its TTL is kept but not checked on read, like a table whose expired rows
 * linger until a sweeper runs and whose reads do not look at the expiry.
 */
export class ExpiryIgnoringDedupStore implements DedupStore {
  readonly #inner: InMemoryDedupStore;

  constructor(options: InMemoryDedupStoreOptions = {}) {
    this.#inner = new InMemoryDedupStore({ ...options, ttlMs: undefined, now: undefined });
  }

  has(eventId: string): boolean {
    return this.#inner.has(eventId);
  }

  add(eventId: string): void {
    this.#inner.add(eventId);
  }
}

/**
 * Keeps the fractions of its clock's readings, as the in-memory and DynamoDB stores did while the
 * PostgreSQL and SQLite ones counted whole milliseconds: one clock left an id live on two stores and
 * forgotten on the other two.
 */
export class FractionKeepingDedupStore implements DedupStore {
  // Checks ids and clock readings as the real store does; the expiries are this store's own.
  readonly #checks: InMemoryDedupStore;
  readonly #ids = new Map<string, number>();
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(options: InMemoryDedupStoreOptions = {}) {
    this.#checks = new InMemoryDedupStore(options);
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 60_000;
  }

  has(eventId: string): boolean {
    this.#checks.has(eventId);
    return (this.#ids.get(eventId) ?? Number.NEGATIVE_INFINITY) > this.#now();
  }

  add(eventId: string): void {
    this.#checks.add(eventId);
    this.#ids.set(eventId, this.#now() + this.#ttlMs);
  }
}

/**
 * Hands out claim tokens but never checks them: `complete` writes over whatever holds the key, and
 * `release` frees any in-progress claim with the fingerprint. What every store did before claims had
 * tokens: a request whose claim expired overwrote the claim of the request that took the key over.
 */
export class ClaimIgnoringIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<
    string,
    { fingerprint: string; token: string; response?: StoredResponse; expiresAt: number }
  >();
  readonly #settings: IdempotencyStoreContractSettings;

  constructor(settings: IdempotencyStoreContractSettings) {
    this.#settings = { ...settings, now: checkedClock(settings.now) };
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    const now = this.#settings.now();
    const record = this.#records.get(key);
    if (record !== undefined && record.expiresAt > now) {
      return record.response === undefined
        ? { state: "in-progress", fingerprint: record.fingerprint }
        : { state: "completed", fingerprint: record.fingerprint, response: record.response };
    }
    const token = ulid();
    this.#records.set(key, { fingerprint, token, expiresAt: now + this.#settings.inProgressTtlMs });
    return { state: "claimed", token };
  }

  async complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token, response);
    this.#records.set(key, { fingerprint, token, response, expiresAt: this.#settings.now() + this.#settings.ttlMs });
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token);
    const record = this.#records.get(key);
    if (record?.fingerprint === fingerprint && record.response === undefined) this.#records.delete(key);
  }
}

/**
 * Folds stream ids to lower case, as a table whose key column has a case-insensitive collation does
 * (MySQL's and SQL Server's defaults): `Cart-A` loads the snapshot of `Cart-a`, another aggregate's state.
 */
export class CaseFoldingSnapshotStore extends InMemorySnapshotStore {
  protected override writeSnapshot(record: StoredSnapshot, keepLast: number) {
    return super.writeSnapshot({ ...record, streamId: record.streamId.toLowerCase() }, keepLast);
  }

  protected override async readSnapshot(streamId: string, maxVersion: number | undefined) {
    const record = await super.readSnapshot(streamId.toLowerCase(), maxVersion);
    return record === undefined ? undefined : { ...record, streamId };
  }

  protected override deleteSnapshots(streamId: string) {
    return super.deleteSnapshots(streamId.toLowerCase());
  }
}

/** Deletes with `LIKE id || '%'`: deleting the snapshots of `Cart-1` deletes those of `Cart-10` and `Cart-1x` too. */
export class PrefixDeletingSnapshotStore extends InMemorySnapshotStore {
  readonly #ids = new Set<string>();

  protected override writeSnapshot(record: StoredSnapshot, keepLast: number) {
    this.#ids.add(record.streamId);
    return super.writeSnapshot(record, keepLast);
  }

  protected override async deleteSnapshots(streamId: string) {
    let count = 0;
    for (const id of [...this.#ids].filter((id) => id.startsWith(streamId))) {
      count += await super.deleteSnapshots(id);
      this.#ids.delete(id);
    }
    return count;
  }
}

/**
 * One row per stream, written over by every save (an upsert keyed on the stream alone): a slow
 * writer's older snapshot replaces the newer one, and there is no history for `maxVersion`.
 */
export class OneRowSnapshotStore extends SnapshotStore {
  readonly capabilities: SnapshotStoreCapabilities = {};
  readonly #rows = new Map<string, StoredSnapshot>();

  protected async writeSnapshot(record: StoredSnapshot) {
    this.#rows.set(record.streamId, { ...record, payload: record.payload.slice() });
    return { pruned: 0 };
  }

  protected async readSnapshot(streamId: string, maxVersion: number | undefined) {
    const record = this.#rows.get(streamId);
    if (record === undefined || (maxVersion !== undefined && record.version > maxVersion)) return undefined;
    return { ...record, payload: record.payload.slice() };
  }

  protected async deleteSnapshots(streamId: string) {
    return this.#rows.delete(streamId) ? 1 : 0;
  }
}

/**
 * Checkpoint ids in a case-insensitive key column: the projections `Orders` and `orders` share one
 * checkpoint, so each skips the events the other handled.
 */
export class CaseFoldingCheckpointStore extends InMemoryCheckpointStore {
  protected override readCheckpoint(id: string) {
    return super.readCheckpoint(id.toLowerCase());
  }

  protected override writeCheckpoint(id: string, position: number, expected: number | undefined) {
    return super.writeCheckpoint(id.toLowerCase(), position, expected);
  }

  protected override deleteCheckpoint(id: string) {
    return super.deleteCheckpoint(id.toLowerCase());
  }
}

/** Deletes with `LIKE id || '%'`: resetting `orders` resets `orders-v2` too, which then replays from the start. */
export class PrefixDeletingCheckpointStore extends InMemoryCheckpointStore {
  readonly #ids = new Set<string>();

  protected override writeCheckpoint(id: string, position: number, expected: number | undefined) {
    this.#ids.add(id);
    return super.writeCheckpoint(id, position, expected);
  }

  protected override async deleteCheckpoint(id: string) {
    for (const stored of [...this.#ids].filter((stored) => stored.startsWith(id))) {
      await super.deleteCheckpoint(stored);
      this.#ids.delete(stored);
    }
  }
}

/**
 * Stream ids in a case-insensitive key column, as a MySQL or SQL Server default collation keeps them:
 * `Cart-A` and `Cart-a` are one stream, shown under the id its first append used, so two aggregates
 * share one history. Conflicts name the caller's id, as such a database's would.
 */
export class CaseFoldingEventStore extends InMemoryEventStore {
  readonly #shownAs = new Map<string, string>();

  constructor(options?: EventStoreOptions) {
    super(options);
  }

  #show = (event: EventEnvelope): EventEnvelope => ({
    ...event,
    streamId: this.#shownAs.get(event.streamId) ?? event.streamId,
  });

  protected override async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    const key = streamId.toLowerCase();
    try {
      const result = await super.commit(key, events, expectedVersion);
      if (!this.#shownAs.has(key)) this.#shownAs.set(key, streamId);
      return { ...result, events: result.events.map(this.#show) };
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      throw new ConcurrencyError(streamId, error.expectedVersion, error.actualVersion);
    }
  }

  protected override async *readStreamEvents(streamId: string, options: ReadStreamOptions) {
    for await (const event of super.readStreamEvents(streamId.toLowerCase(), options)) yield this.#show(event);
  }

  protected override async *readAllEvents(options: ReadAllOptions) {
    for await (const event of super.readAllEvents(options)) yield this.#show(event);
  }

  protected override streamVersion(streamId: string) {
    return super.streamVersion(streamId.toLowerCase());
  }
}

/**
 * Idempotency keys in a case-insensitive key column: a client's `Key-A` finds another client's `key-a`,
 * and a request like that client's gets that client's response replayed.
 */
export class CaseFoldingIdempotencyStore implements IdempotencyStore {
  readonly #inner: InMemoryIdempotencyStore;

  constructor(settings: IdempotencyStoreContractSettings) {
    this.#inner = new InMemoryIdempotencyStore(settings);
  }

  claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    return this.#inner.claim(fold(key), fingerprint);
  }

  complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    return this.#inner.complete(fold(key), fingerprint, response, token);
  }

  release(key: string, fingerprint: string, token: string): Promise<void> {
    return this.#inner.release(fold(key), fingerprint, token);
  }
}

/** Lower case, as such a column compares; what is no string goes through for the store to refuse. */
function fold(key: string): string {
  return typeof key === "string" ? key.toLowerCase() : key;
}

/**
 * Erases with `LIKE id || '%'`: erasing subject `user-1` shreds the keys of `user-10` and `user-1x`
 * too, for good. Stores made with the same `keys` share one backend, as the contract's `open` needs.
 */
export class PrefixErasingSubjectKeyStore extends InMemorySubjectKeyStore {
  readonly #keys: Map<string, SubjectKeyLookup>;

  constructor(options: SubjectKeyStoreOptions, keys: Map<string, SubjectKeyLookup>) {
    super(options, keys);
    this.#keys = keys;
  }

  protected override async eraseKey(subjectId: string): Promise<void> {
    await super.eraseKey(subjectId);
    for (const stored of [...this.#keys.keys()]) if (stored.startsWith(subjectId)) await super.eraseKey(stored);
  }
}

/**
 * Hard-deletes with `DELETE ... WHERE stream_id LIKE id || '%'`: removing `Cart-1` removes `Cart-10`'s
 * events too (here through hard deletes of every stream whose id starts with the one named).
 */
export class PrefixHardDeletingEventStore extends InMemoryEventStore {
  readonly #ids = new Set<string>();

  constructor(options?: EventStoreOptions) {
    super(options);
  }

  protected override async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    const result = await super.commit(streamId, events, expectedVersion);
    this.#ids.add(streamId);
    return result;
  }

  override async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<StreamChangeResult> {
    const result = await super.deleteStream(streamId, options);
    if (options.mode !== "hard") return result;
    for (const other of this.#ids) {
      if (other !== streamId && other.startsWith(streamId)) await super.deleteStream(other, { mode: "hard" });
    }
    return result;
  }
}

/**
 * Recognises retried appends by a side index of every event id it stored, which neither truncation nor deletion
 * prunes (an idempotency table kept apart from the events): a retry that a removal overtook is answered as a
 * retry with nothing written, where the stores refuse it typed or (its events all gone) store it anew.
 */
export class RemovalBlindRetryEventStore extends InMemoryEventStore {
  readonly #stored = new Set<string>();

  constructor(options?: EventStoreOptions) {
    super(options);
  }

  protected override async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    if (events.length > 0 && events.every((event) => this.#stored.has(event.id))) return { events: [], retried: true };
    const result = await super.commit(streamId, events, expectedVersion);
    for (const event of result.events) this.#stored.add(event.id);
    return result;
  }
}

/** The id the heartbeat pings below write under: any id but the health-check one the default ping reads. */
const HEARTBEAT = "eventflows-heartbeat";

/** A ping that proves the store writable by appending a heartbeat event: each health probe grows the feed. */
export class HeartbeatEventStore extends InMemoryEventStore {
  override async ping(): Promise<void> {
    await this.appendToStream(HEARTBEAT, [{ type: "HealthChecked", data: null }]);
  }
}

/** A ping that upserts a heartbeat checkpoint: each health probe is a write, and a row no projection owns. */
export class HeartbeatCheckpointStore extends InMemoryCheckpointStore {
  override async ping(): Promise<void> {
    await this.store(HEARTBEAT, 0);
  }
}

/** A ping that saves a heartbeat snapshot: each health probe is a write. */
export class HeartbeatSnapshotStore extends InMemorySnapshotStore {
  override async ping(): Promise<void> {
    await this.save({ streamId: HEARTBEAT, version: 1, state: {} });
  }
}

/**
 * Not broken: a store whose backend takes at most 3 events in one atomic write, and says so. The
 * suites must honour the declared limit in their own appends rather than fail it for declaring one.
 */
export class SmallBatchEventStore extends InMemoryEventStore {
  override readonly capabilities = {
    globalOrder: true,
    idempotentAppends: true,
    streamDeletion: true,
    maxEventsPerAppend: 3,
  };
}

/**
 * Applies a backward read's `maxCount` before its `fromVersion`, as SQL that takes the last rows
 * (`ORDER BY version DESC LIMIT n`) and filters them in code does: a read from version 4, two at
 * most, of ten events gives nothing instead of 4 and 3. Reads given only one of the two are right.
 */
export class LimitFirstEventStore extends InMemoryEventStore {
  protected override async *readStreamEvents(streamId: string, options: ReadStreamOptions) {
    const { fromVersion, maxCount } = options;
    if (options.direction !== "backward" || fromVersion === undefined || maxCount === undefined) {
      yield* super.readStreamEvents(streamId, options);
      return;
    }
    for await (const event of super.readStreamEvents(streamId, { direction: "backward", maxCount })) {
      if (event.version <= fromVersion) yield event;
    }
  }
}
