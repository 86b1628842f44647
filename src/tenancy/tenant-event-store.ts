import { isConcurrencyError, isPayloadTooLargeError, isStreamDeletedError, isValidationError } from "../errors.js";
import type { CommitResult } from "../event-store/event-store.js";
import {
  assertAppendOptions,
  assertEventStore,
  assertExpectedVersion,
  assertReadAllOptions,
  assertReadStreamOptions,
  EventStore,
} from "../event-store/event-store.js";
import { pageCheck, READ_CHECK, type ReadCheck } from "../event-store/read-check.js";
import {
  assertDeletionMode,
  assertStreamChangeOptions,
  type DeleteStreamOptions,
  type RestoreStreamOptions,
  type StreamChangeResult,
  type StreamLifecycleEvent,
  type TruncateStreamOptions,
} from "../event-store/stream-deletion.js";
import {
  logSubscriptionError,
  type StoreSubscription,
  SUBSCRIBE_TO_ALL_OPTIONS,
  type SubscribeToAllOptions,
} from "../event-store/subscription.js";
import type {
  AppendToStreamOptions,
  AppendToStreamResult,
  EventStoreCapabilities,
  ExpectedVersion,
  ReadAllOptions,
  ReadStreamOptions,
} from "../event-store/types.js";
import { type EventEnvelope, type NewEvent, unreadableEvents } from "../events/envelope.js";
import { assertKnownOptions, assertPositiveInteger } from "../internal/validate.js";
import { isTenantIsolationError, TenantIsolationError } from "./errors.js";
import type { QuotaCounter } from "./quotas.js";
import { type TenantId, tenantId } from "./tenant-id.js";

/** The metadata field every event of a tenant's store carries. */
export const TENANT_METADATA_KEY = "tenantId";

/**
 * One tenant's view of an event store: what `tenancy()` hands out. Every append stamps the tenant
 * into each event's metadata (over whatever the caller put there) and counts against the tenant's
 * quotas; every read, subscription and after-commit step refuses, with a {@link TenantIsolationError},
 * an event whose metadata names another tenant or none (as stored: before it is decrypted or upcast).
 * That is defence in depth: isolation itself comes from the store the tenant's factory made (its own
 * instance, database, table, schema or key prefix); this layer makes a mistake there fail loudly
 * instead of leaking.
 *
 * It delegates to the public API of the store it wraps, so that store's validation, encryption,
 * upcasting, publishing and telemetry all apply unchanged.
 */
export class TenantEventStore extends EventStore {
  readonly capabilities: EventStoreCapabilities;
  readonly tenant: TenantId;
  /** The store the tenant's factory made. */
  readonly inner: EventStore;
  readonly #quota: QuotaCounter | undefined;
  /**
   * Whether the wrapped store reads through the core's own read path, which runs a {@link ReadCheck}
   * on each event in the loop it already has: the check then costs a call per event, not a promise.
   * A store that overrides the public reads (another wrapper) gets the checking iterator instead.
   */
  readonly #coreReads: boolean;
  readonly #checks: Readonly<Record<string, ReadCheck>>;

  /**
   * @throws {InvalidTenantError} `tenant` is no tenant id: it would be stamped into every event.
   * @throws {ValidationError} `inner` is no event store.
   */
  constructor(tenant: TenantId, inner: EventStore, quota?: QuotaCounter) {
    // The wrapped store traces its own calls: spans here would double them.
    super({ telemetry: false });
    this.tenant = tenantId(tenant);
    assertEventStore(inner, "inner", "Invalid tenant event store");
    this.inner = inner;
    this.capabilities = inner.capabilities;
    this.#quota = quota;
    const base = EventStore.prototype;
    this.#coreReads =
      inner.readStream === base.readStream && inner.readAll === base.readAll && inner.readFeed === base.readFeed;
    this.#checks = {
      readStream: pageCheck((event) => this.#check(event, "readStream")),
      readAll: pageCheck((event) => this.#check(event, "readAll")),
      subscribeToAll: pageCheck((event) => this.#check(event, "subscribeToAll")),
    };
  }

  override appendToStream<E extends EventEnvelope = EventEnvelope>(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendToStreamOptions = {},
  ): Promise<AppendToStreamResult<E>> {
    // Not an array: the wrapped store refuses it with its usual ValidationError.
    if (!Array.isArray(events)) return this.inner.appendToStream<E>(streamId, events, options);
    let window: number | undefined;
    let stamped: NewEvent[];
    try {
      // The wrapped store's own check of the options first: a call it refuses costs no quota.
      assertAppendOptions(options);
      // Stamped before counting: events that cannot be read cost no quota either.
      stamped = stampTenant(events, this.tenant);
      if (stamped.length > 0) window = this.#quota?.take(stamped.length);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.inner.appendToStream<E>(streamId, stamped, options).then(
      (result) => {
        // A retry's answer is the events stored under its ids: on a store shared by mistake, maybe another tenant's.
        if (result.retried === true) for (const event of result.events) this.#check(event, "appendToStream");
        return result;
      },
      (error: unknown) => {
        // Refused as invalid (a stream id, an event, a schema) or too large: nothing was written, so nothing is counted.
        if (window !== undefined && refusedUnwritten(error)) this.#quota?.giveBack(stamped.length, window);
        return this.#refused(error, streamId, events);
      },
    );
  }

  /**
   * An append's refusal that tells about the stream as it is (a conflict's `actualVersion`, a deletion
   * and its mode, a changed retry's stored ids): the stream is probed first, so on a store shared by
   * mistake another tenant's stream answers with a {@link TenantIsolationError}, not its version, how
   * it ended or what it holds. Only failed appends pay the read; one that goes through is not probed
   * (a read per append).
   */
  async #refused(error: unknown, streamId: string, events: readonly NewEvent[]): Promise<never> {
    if (isConcurrencyError(error) || isStreamDeletedError(error)) await this.#probeStream(streamId, "appendToStream");
    // Events with the caller's own ids may be refused as a changed retry: that would tell that the ids are
    // stored in the stream, and the probe refuses another tenant's. Any other failure of the probe (the
    // stream id itself refused, say) leaves the append's own error to be reported.
    else if (isValidationError(error) && events.some((event) => event?.id !== undefined)) {
      await this.#probeStream(streamId, "appendToStream").catch((probe: unknown) => {
        if (isTenantIsolationError(probe)) throw probe;
      });
    }
    throw error;
  }

  // Deletions go to the wrapped store (which commits them) with the tenant stamped on the lifecycle
  // event, so the tenant's own feed reads it like any of its events. They destroy what they reach, so
  // the stream's newest event is probed first: another tenant's stream is refused, not deleted. Each
  // counts against the quotas as an append of its one lifecycle event: otherwise a tenant over its
  // quota could still write without bound (deleting and restoring a stream, over and over). As for
  // appends, the wrapped store's own checks of the options run first: a call it refuses costs no quota.
  override async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<StreamChangeResult> {
    assertStreamChangeOptions(options, "delete");
    if (options?.mode !== undefined) assertDeletionMode(options.mode);
    const window = this.#take(options?.expectedVersion);
    return this.#change(streamId, "deleteStream", window, Number.POSITIVE_INFINITY, (expectedVersion) =>
      this.inner.deleteStream(streamId, { ...options, ...expectedVersion, metadata: this.#stamp(options?.metadata) }),
    );
  }

  override async restoreStream(streamId: string, options: RestoreStreamOptions = {}): Promise<StreamChangeResult> {
    assertStreamChangeOptions(options, "restore");
    const window = this.#take(options?.expectedVersion);
    return this.#change(streamId, "restoreStream", window, 0, (expectedVersion) =>
      this.inner.restoreStream(streamId, { ...options, ...expectedVersion, metadata: this.#stamp(options?.metadata) }),
    );
  }

  override async truncateStream(streamId: string, options: TruncateStreamOptions): Promise<StreamChangeResult> {
    if (typeof options !== "object" || options === null) return this.inner.truncateStream(streamId, options);
    assertStreamChangeOptions(options, "truncate");
    assertPositiveInteger(options.before, "before");
    const window = this.#take(options.expectedVersion);
    return this.#change(streamId, "truncateStream", window, options.before, (expectedVersion) =>
      this.inner.truncateStream(streamId, { ...options, ...expectedVersion, metadata: this.#stamp(options.metadata) }),
    );
  }

  /**
   * A deletion, restore or truncation after its probe, and after a check of every event it would
   * delete or hide (`reaches`: those below this version; 0 for a restore, which hides nothing). The
   * newest event alone was checked: on a store shared by mistake, one append of another tenant's on
   * top of a stream let that tenant hard-delete, truncate or hide every event under it (outside
   * audit). A deletion is rare and reads its stream once more. A stream that never was when probed is
   * changed at the expected version "no-stream": were another tenant to start it between the probe
   * and the change, the change is a conflict (then refused as that tenant's), not a deletion of it.
   * For a stream that never was, the wrapped store answers `StreamNotFoundError` whatever version is
   * expected, so the pin changes no other answer (a bad expected version is still refused first).
   */
  async #change(
    streamId: string,
    operation: string,
    window: number | undefined,
    reaches: number,
    change: (expectedVersion: { readonly expectedVersion?: ExpectedVersion }) => Promise<StreamChangeResult>,
  ): Promise<StreamChangeResult> {
    try {
      const never = await this.#probeStream(streamId, operation);
      if (!never) {
        if (reaches > 1) await this.#checkBelow(streamId, reaches, operation);
        return await change({});
      }
      try {
        return await change({ expectedVersion: "no-stream" });
      } catch (error) {
        if (isConcurrencyError(error)) await this.#probeStream(streamId, operation);
        throw error;
      }
    } catch (error) {
      // Refused as invalid (the stream id, the metadata) or too large: nothing was written, so nothing is counted.
      if (window !== undefined && refusedUnwritten(error)) this.#quota?.giveBack(1, window);
      throw error;
    }
  }

  /** Every stored event of the stream below version `below`, read raw, checked as the tenant's. */
  async #checkBelow(streamId: string, below: number, operation: string): Promise<void> {
    for await (const event of this.inner.readStream(streamId, { raw: true })) {
      if (event.version >= below) break;
      this.#check(event, operation);
    }
  }

  /**
   * A deletion, restore or truncation counted as an append of one event, once its expected version is
   * one: the window it was counted in (undefined without quotas).
   */
  #take(expected: unknown): number | undefined {
    if (expected !== undefined) assertExpectedVersion(expected);
    return this.#quota?.take(1);
  }

  #stamp(metadata: DeleteStreamOptions["metadata"]): DeleteStreamOptions["metadata"] {
    // Not a plain object: passed on as given, for the wrapped store to refuse with its ValidationError.
    if (!stampable(metadata)) return metadata;
    return { ...metadata, [TENANT_METADATA_KEY]: this.tenant };
  }

  override readStream<E extends EventEnvelope = EventEnvelope>(
    streamId: string,
    options: ReadStreamOptions = {},
  ): AsyncGenerator<E, void, undefined> {
    if (this.#coreReads) return this.inner.readStream<E>(streamId, this.#checked(options, "readStream"));
    return this.#guard(this.inner.readStream<E>(streamId, options), "readStream");
  }

  override readAll<E extends EventEnvelope = EventEnvelope>(
    options: ReadAllOptions = {},
  ): AsyncGenerator<E, void, undefined> {
    if (this.#coreReads) return this.inner.readAll<E>(this.#checked(options, "readAll"));
    return this.#guard(this.inner.readAll<E>(options), "readAll");
  }

  override readFeed<E extends EventEnvelope = EventEnvelope>(
    options: ReadAllOptions = {},
  ): AsyncGenerator<E, void, undefined> {
    if (this.#coreReads) return this.inner.readFeed<E>(this.#checked(options, "readAll"));
    return this.#guard(this.inner.readFeed<E>(options), "readAll");
  }

  // The probes answer about a stream or the feed without returning an event, but what they answer
  // (that another tenant's stream exists, its version, how far another tenant's feed went) is read
  // from it all the same: each reads the newest event it answered about (one more read, raw: neither
  // decrypted nor upcast) and refuses, as a read would, when that event is not this tenant's.

  override async getStreamVersion(streamId: string): Promise<number> {
    const version = await this.inner.getStreamVersion(streamId);
    if (version > 0) await this.#probeStream(streamId, "getStreamVersion", version);
    return version;
  }

  override async streamExists(streamId: string): Promise<boolean> {
    const exists = await this.inner.streamExists(streamId);
    if (exists) await this.#probeStream(streamId, "streamExists");
    return exists;
  }

  override async getLastGlobalPosition(): Promise<number> {
    return this.#probeFeed(await this.inner.getLastGlobalPosition(), "getLastGlobalPosition");
  }

  /**
   * The wrapped store's head and its event, read together: on PostgreSQL a `readAll` at the head can
   * be held back by an older transaction still open anywhere, and this check, which read the head and
   * then the event at it, found nothing and let another tenant's head through (outside audit).
   */
  override async getHeadPosition(): Promise<number> {
    const { position, event } = await this.inner.feedHead();
    if (event !== undefined) this.#check(event, "getHeadPosition");
    return position;
  }

  override async feedHead(): Promise<{ readonly position: number; readonly event?: EventEnvelope }> {
    const head = await this.inner.feedHead();
    if (head.event !== undefined) this.#check(head.event, "feedHead");
    return head;
  }

  /**
   * The stream's newest event checked. A soft-deleted stream shows none (every read passes its events
   * by) yet keeps its version: the `$stream-deleted` event that hid it is checked instead (the
   * deleting tenant's stamp, which its own probe let through), asked of the wrapped store's
   * `streamDeletionEvent` (one lookup of the stream's deletion record, not a read of `$streams`).
   * A hard-deleted stream has no version, but a deletion of it answers as of a stream that was (its
   * version, `changed: false`, or a `StreamDeletedError`), not as of one that never was: for the
   * deletions (no `version` given), its `$stream-deleted` event is checked too. A stream that never
   * was has nothing to reach: it passes.
   */
  async #probeStream(streamId: string, operation: string, version?: number): Promise<boolean> {
    const newest = this.inner.readStream(streamId, { direction: "backward", maxCount: 1, raw: true });
    for await (const event of newest) {
      this.#check(event, operation);
      return false;
    }
    const hidden = (version ?? (await this.inner.getStreamVersion(streamId))) > 0;
    // The probes of a version or existence answer 0 or false for a hard-deleted stream as for none.
    if (!hidden && version !== undefined) return false;
    const deletion = await this.inner.streamDeletionEvent(streamId);
    if (deletion !== undefined) {
      this.#check(deletion, operation);
      return false;
    }
    // Hidden, and no record of who hid it: refused, as an event naming no tenant is.
    if (hidden) throw new TenantIsolationError(this.tenant, operation);
    return true;
  }

  /** The wrapped store's answer, refused when the deletion it names is not this tenant's. */
  override async streamDeletionEvent(streamId: string): Promise<StreamLifecycleEvent | undefined> {
    const deletion = await this.inner.streamDeletionEvent(streamId);
    if (deletion !== undefined) this.#check(deletion, "streamDeletionEvent");
    return deletion;
  }

  async #probeFeed(position: number, operation: string): Promise<number> {
    if (position > 0) await this.#probe(this.inner.readAll({ after: position - 1, maxCount: 1, raw: true }), operation);
    return position;
  }

  /** The first event of a probe's read checked; none (a deleted stream's, say) passes. */
  async #probe(events: AsyncGenerator<EventEnvelope, void, undefined>, operation: string): Promise<void> {
    for await (const event of events) {
      this.#check(event, operation);
      break;
    }
  }

  override ping(signal?: AbortSignal): Promise<void> {
    return this.inner.ping(signal);
  }

  /**
   * The wrapped store's subscription, each event checked before anything of it is used: an event of
   * another tenant fails the subscription's read (told to `onError` without the event, retried, never
   * passed), so the subscription stops there rather than hand it on. On the core's subscriptions the
   * check runs in the read itself, before the event is decrypted, traced or handled; on another
   * wrapper's, before the handler, and its `onError` is not given the refused event either.
   */
  override subscribeToAll<E extends EventEnvelope = EventEnvelope>(
    options: SubscribeToAllOptions<E>,
  ): StoreSubscription {
    // The wrapped store's check of the keys first, as it makes it: before a field is read here.
    assertKnownOptions(options, SUBSCRIBE_TO_ALL_OPTIONS, "subscription");
    // Without a handler (or options) the wrapped store refuses it with its ValidationError.
    if (typeof options?.handler !== "function") return this.inner.subscribeToAll<E>(options);
    if (this.#coreReads && this.inner.subscribeToAll === EventStore.prototype.subscribeToAll) {
      const checked = { ...options, [READ_CHECK]: this.#checks.subscribeToAll };
      return this.inner.subscribeToAll<E>(checked as SubscribeToAllOptions<E>);
    }
    const handler = options.handler;
    const report = options.onError ?? logSubscriptionError(options.name);
    const refused = new WeakSet<object>();
    return this.inner.subscribeToAll<E>({
      ...options,
      handler: (event) => {
        try {
          this.#check(event, "subscribeToAll");
        } catch (error) {
          refused.add(error as object);
          throw error;
        }
        return handler(event);
      },
      // Not even the default's log line names the refused event (its id, type and stream).
      onError: (error, event) => report(error, refused.has(error as object) ? undefined : event),
    });
  }

  /**
   * Calls `listener` after each commit through the wrapped instance that holds one of this tenant's
   * events: on a store shared by mistake, another tenant's appends do not wake it (they would tell it
   * when that tenant writes). Runs in the wrapped store's after-commit steps, which see the events.
   */
  override watchAppends(listener: () => void): () => void {
    const tenant = this.tenant;
    return this.inner.afterEachCommit(async (events) => {
      if (events.some((event) => event.metadata?.[TENANT_METADATA_KEY] === tenant)) listener();
    });
  }

  override afterEachCommit(step: (events: readonly EventEnvelope[]) => Promise<void>): () => void {
    return this.inner.afterEachCommit(async (events) => {
      for (const event of events) this.#check(event, "afterEachCommit");
      await step(events);
    });
  }

  /** Never reached: appends go through the wrapped store's `appendToStream`. */
  protected override commit(): Promise<CommitResult> {
    return Promise.reject(new Error("TenantEventStore commits through the store it wraps"));
  }

  protected override readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    return this.readStream(streamId, { ...options, raw: true });
  }

  protected override readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    return this.readAll({ ...options, raw: true });
  }

  protected override streamVersion(streamId: string): Promise<number> {
    return this.inner.getStreamVersion(streamId);
  }

  /** The read options with this tenant's check, which the wrapped store's core read path runs on each event. */
  #checked<O extends ReadStreamOptions | ReadAllOptions>(options: O, operation: "readStream" | "readAll"): O {
    // Not an object (3, "all"): passed on as given, for the wrapped store to refuse with its
    // ValidationError; spread, it would become options of no key and be read as none.
    if (typeof options !== "object") return options;
    // The wrapped store's own check first: the copy reads every field, before that check would.
    if (operation === "readStream") assertReadStreamOptions(options ?? {});
    else assertReadAllOptions(options ?? {});
    return { ...options, [READ_CHECK]: this.#checks[operation] };
  }

  #check(event: EventEnvelope, operation: string): void {
    if (event.metadata?.[TENANT_METADATA_KEY] !== this.tenant) throw new TenantIsolationError(this.tenant, operation);
  }

  /**
   * The wrapped read, each event checked as it passes: for a wrapped store whose reads are not the
   * core's. A plain iterator rather than an async generator: one promise per event instead of a
   * generator's queue. A refused event ends the read (the wrapped cursor released) and is not returned.
   */
  #guard<E extends EventEnvelope>(
    events: AsyncGenerator<E, void, undefined>,
    operation: string,
  ): AsyncGenerator<E, void, undefined> {
    const check = (next: IteratorResult<E, void>): IteratorResult<E, void> => {
      if (next.done !== true && next.value.metadata?.[TENANT_METADATA_KEY] !== this.tenant) {
        const refused = new TenantIsolationError(this.tenant, operation);
        return events.return(undefined).then(
          () => {
            throw refused;
          },
          () => {
            throw refused;
          },
        ) as never;
      }
      return next;
    };
    const guarded: AsyncGenerator<E, void, undefined> = {
      next: () => events.next().then(check),
      return: (value) => events.return(value),
      throw: (error) => events.throw(error).then(check),
      [Symbol.asyncIterator]: () => guarded,
    };
    return guarded;
  }
}

/**
 * The events with the tenant stamped into each one's metadata. Metadata that is not a plain object (a
 * string, an array, a Map, null) is passed on as given, for the wrapped store to refuse with its
 * ValidationError: spread, it would become an object and be stored. Events whose reading throws (a
 * getter, a Proxy trap) are refused here as the wrapped store refuses them, without the thrown text.
 */
function stampTenant(events: readonly NewEvent[], tenant: TenantId): NewEvent[] {
  try {
    return events.map((event: NewEvent) =>
      typeof event === "object" && event !== null && stampable(event.metadata)
        ? { ...event, metadata: { ...event.metadata, [TENANT_METADATA_KEY]: tenant } }
        : event,
    );
  } catch (error) {
    throw unreadableEvents(error);
  }
}

/** Metadata the tenant can be stamped into: none yet, or a plain object (not an array, a Map, a Date...). */
function stampable(metadata: unknown): boolean {
  if (metadata === undefined) return true;
  if (typeof metadata !== "object" || metadata === null) return false;
  const prototype = Object.getPrototypeOf(metadata);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Refused before anything was written: invalid (a `ValidationError`) or too large (a
 * `PayloadTooLargeError`, the store's size limit): the call is given its quota back. A 413 kept it, and
 * the tenant's next valid append was refused as over its quota (outside audit).
 */
function refusedUnwritten(error: unknown): boolean {
  return isValidationError(error) || isPayloadTooLargeError(error);
}
