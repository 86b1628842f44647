import {
  ConcurrencyError,
  type Issue,
  isConcurrencyError,
  StreamDeletedError,
  StreamDeletionNotSupportedError,
  ValidationError,
} from "../errors.js";
import type { PublishResult } from "../event-bus/event-bus.js";
import {
  type EventEnvelope,
  type EventMetadata,
  type NewEvent,
  type PendingEvent,
  prepareEvents,
} from "../events/envelope.js";
import type { EventRegistry } from "../evolution/event-registry.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import { callHook } from "../internal/hooks.js";
import { assertMaxJsonDepth, DEFAULT_MAX_JSON_DEPTH } from "../internal/json.js";
import {
  assertFunction,
  assertKnownOptions,
  assertNonNegativeInteger,
  assertPositiveInteger,
  assertStreamId,
  kindOf,
} from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import type { PersonalData } from "../personal-data/personal-data.js";
import { telemetryConfig } from "../telemetry/config.js";
import { countAppended, countError, countPublished } from "../telemetry/metrics.js";
import { stampTraceContext } from "../telemetry/propagation.js";
import { reportSlowPath } from "../telemetry/slow-paths.js";
import {
  endSpan,
  recordError,
  type Span,
  SpanKind,
  setSpanAttribute,
  setSpanAttributes,
  startSpan,
  withActiveSpan,
} from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";
import { defaultOnPublishError, type EventPublisher, type PublishErrorHook } from "./after-commit.js";
import { READ_CHECK, type ReadCheck, readCheckOf } from "./read-check.js";
import { type EventPages, type EventReader, eventsOf, pagesOf } from "./read-pages.js";
import { sealedData } from "./sealed-data.js";
import {
  assertAppendableStream,
  assertDeletionMode,
  assertStreamChangeOptions,
  assertUserStream,
  type DeleteStreamOptions,
  isStreamLifecycleEvent,
  newStreamChange,
  type RestoreStreamOptions,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamChangeKind,
  type StreamChangeResult,
  type StreamLifecycleEvent,
  StreamLifecycleEventType,
  type TruncateStreamOptions,
  visibleFeed,
} from "./stream-deletion.js";
import { type StoreSubscription, type SubscribeToAllOptions, startSubscription } from "./subscription.js";
import type {
  AppendToStreamOptions,
  AppendToStreamResult,
  EventStoreCapabilities,
  ExpectedVersion,
  ReadAllOptions,
  ReadStreamOptions,
} from "./types.js";

export interface CommitResult {
  readonly events: readonly EventEnvelope[];
  readonly retried?: boolean;
}

export interface EventStoreOptions {
  /**
   * Committed events are published here after every successful append: any bus (only its
   * `publish` is used), local or remote.
   */
  readonly bus?: EventPublisher;
  /**
   * Called when publishing throws after a commit. The events are stored either way; re-drive them
   * from the store (`subscribeToAll` from a checkpoint). Defaults to an error line on the library's logger.
   */
  readonly onPublishError?: PublishErrorHook;
  /**
   * How deeply arrays and objects may nest in event data and metadata: deeper events are refused
   * with a `ValidationError` naming the limit, before anything is written. An integer from 1 to
   * 1,000; defaults to {@link DEFAULT_MAX_JSON_DEPTH} (64).
   */
  readonly maxJsonDepth?: number;
  /**
   * Upcasters and schemas of the application's events (see `eventRegistry()`). Every read (but a
   * `raw` one), every subscription and what is published yield events at their current version;
   * appends are stamped with their type's current `schemaVersion` and checked against its schema.
   */
  readonly eventRegistry?: EventRegistry;
  /**
   * Crypto-shredding (see `personalData()`): the personal fields it marks are encrypted per data
   * subject before anything is written, and decrypted on every read (but a `raw` one), in
   * subscriptions and in what is published; fields of an erased subject read as `null`, listed in
   * the event's `personalDataErased` metadata. Decryption runs before upcasting.
   */
  readonly personalData?: PersonalData;
  /**
   * `false` turns this store's spans off (appends, reads, publishing) whatever provider is
   * registered; slow calls are still logged. Defaults to true: spans whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

/**
 * The keys of {@link EventStoreOptions}, for the stores that extend them to refuse any other key (a misspelt
 * option was dropped without a word): a record, so that a key added to the interface and not here fails to compile.
 */
export const EVENT_STORE_OPTIONS = {
  bus: true,
  onPublishError: true,
  maxJsonDepth: true,
  eventRegistry: true,
  personalData: true,
  telemetry: true,
} as const satisfies Record<keyof EventStoreOptions, true>;

/**
 * What is wrong with the options every store takes: a JavaScript caller's mistakes (TypeScript refuses
 * them), which would otherwise surface later as a TypeError from inside an append or a publish.
 */
function storeOptionIssues(options: EventStoreOptions): Issue[] {
  const issues: Issue[] = [];
  const given = options as Record<string, unknown>;
  // As a table: every store class carries this, the smallest Worker included (bench/worker-bundle.test.ts).
  // An entry is a `typeof` the value must have, or the methods an object must offer and what it must be.
  for (const [key, kind, what] of [
    ["bus", ["publish"], "an event bus (with publish)"],
    ["onPublishError", "function"],
    ["eventRegistry", ["prepareAppend", "upcastEvent", "upcastPages", "check"], "what eventRegistry() builds"],
    ["personalData", ["encryptEvents", "decryptEvent"], "what personalData() builds"],
    ["telemetry", "boolean"],
  ] as const) {
    const value = given[key] as Record<string, unknown> | null | undefined;
    if (value === undefined) continue;
    const ok =
      typeof kind === "string"
        ? typeof value === kind
        : typeof value === "object" && value !== null && kind.every((method) => typeof value[method] === "function");
    if (!ok) issues.push({ path: [key], message: `must be ${what ?? `a ${kind}`}, got ${kindOf(value)}` });
  }
  return issues;
}

/**
 * The event store port. Subclasses implement storage (`commit`, `readStreamEvents`,
 * `readAllEvents`, `streamVersion`); this base validates every input, so each adapter gets the same
 * errors for the same mistakes, and publishes what was committed.
 */
export abstract class EventStore {
  abstract readonly capabilities: EventStoreCapabilities;
  readonly #bus: EventPublisher | undefined;
  readonly #onPublishError: PublishErrorHook;
  /** Woken after each commit with the highest global position it stored (undefined without a global order). */
  readonly #waiters = new Set<(committed: number | undefined) => void>();
  readonly #commitSteps = new Set<(events: readonly EventEnvelope[]) => Promise<void>>();
  /** The nesting limit of event data and metadata, as configured: adapters that check data themselves use it. */
  protected readonly maxJsonDepth: number;
  readonly #prepareOptions: { readonly maxJsonDepth: number };
  /** The configured event registry: stores that make other stores (transactions) pass it on. */
  protected readonly eventRegistry: EventRegistry | undefined;
  /** The configured crypto-shredding: stores that make other stores (transactions) pass it on. */
  protected readonly personalData: PersonalData | undefined;
  /** The backend, as OpenTelemetry's `db.system` names it on this store's spans: adapters set their own. */
  protected readonly dbSystem: string = "other";
  readonly #traced: boolean;
  /** Set while a follower (`readFeed`) asks for its next batch: `readAll` then skips its span and slow-call check. */
  #quietRead = false;

  constructor(given: EventStoreOptions = {}) {
    // null is taken as no options, as undefined is (a JavaScript caller's mistake gets no TypeError).
    const options = given ?? {};
    const issues = storeOptionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid event store options", issues);
    // A chain with a hole is refused now, not at the first append or read.
    options.eventRegistry?.check();
    this.#bus = options.bus;
    this.#traced = options.telemetry !== false;
    this.eventRegistry = options.eventRegistry;
    this.personalData = options.personalData;
    this.#onPublishError = options.onPublishError ?? defaultOnPublishError;
    // Only undefined is the default: a null was taken for it, where every other option refuses one.
    this.maxJsonDepth = options.maxJsonDepth === undefined ? DEFAULT_MAX_JSON_DEPTH : options.maxJsonDepth;
    assertMaxJsonDepth(this.maxJsonDepth);
    this.#prepareOptions = { maxJsonDepth: this.maxJsonDepth };
  }

  /**
   * Appends events atomically: all are stored, or none. An empty list writes nothing and returns
   * the stream's current version (still checking `expectedVersion`, and refusing a deleted stream).
   * @throws {ValidationError} bad stream id, events or expected version; nothing is written.
   * @throws {ConcurrencyError} the stream is not at the expected version; nothing is written.
   * @throws {StreamDeletedError} the stream is deleted (checked before the expected version); nothing is written.
   */
  appendToStream<E extends EventEnvelope = EventEnvelope>(
    streamId: string,
    events: readonly NewEvent[],
    given: AppendToStreamOptions = {},
  ): Promise<AppendToStreamResult<E>> {
    const options = given ?? {};
    const tracer = this.#traced ? activeTracer() : undefined;
    const slowMs = telemetryConfig().slowStoreCallMs;
    // Untraced, #append makes the slow-call check itself: a .then() here would be one more promise per append.
    if (tracer === undefined) return this.#append(streamId, events, options, undefined, slowMs);
    const started = performance.now();
    const count = eventCount(events);
    // One object literal, not a spread of a map grown key by key: the SDK copies and checks every
    // attribute, and a literal's fixed shape is the cheapest input to that (as for dispatch spans).
    const span = startSpan(tracer, "appendToStream", SpanKind.CLIENT, {
      "db.system": this.dbSystem,
      "db.operation.name": "appendToStream",
      "eventflows.stream_id": streamId,
      "eventflows.event_count": count,
      "eventflows.expected_version": String(options.expectedVersion ?? "any"),
    });
    const appended = withActiveSpan(span, () => this.#append<E>(streamId, events, options, span, false));
    return appended.then(
      (result) => {
        setSpanAttributes(span, {
          "eventflows.outcome": result.retried === true ? "retried" : this.appendsCommit ? "committed" : "written",
          "eventflows.stream_version": result.nextExpectedVersion,
        });
        this.#finish(span, performance.now() - started, slowMs, "append", streamId, count);
        return result;
      },
      (error: unknown) => {
        setSpanAttribute(span, "eventflows.outcome", isConcurrencyError(error) ? "conflict" : "error");
        recordError(span, error);
        this.#finish(span, performance.now() - started, slowMs, "append", streamId, count);
        throw error;
      },
    );
  }

  /**
   * Whether an append has committed when it returns. Not where appends join a transaction that
   * commits (or rolls back) later, as PostgreSQL's `withTransaction` and a store made on your own
   * transaction do: their spans say `written`, not `committed`.
   */
  protected get appendsCommit(): boolean {
    return true;
  }

  #dbAttributes(operation: string, streamId: string | undefined): Record<string, string> {
    const attributes: Record<string, string> = { "db.system": this.dbSystem, "db.operation.name": operation };
    if (streamId !== undefined) attributes["eventflows.stream_id"] = streamId;
    return attributes;
  }

  /** Ends a store call's span, and reports it when it took longer than the slow-call threshold. */
  #finish(
    span: Span | undefined,
    durationMs: number,
    slowMs: number | false,
    operation: string,
    streamId: string | undefined,
    events: number,
  ): void {
    if (slowMs !== false && durationMs > slowMs) {
      reportSlowPath(
        streamId === undefined
          ? { operation, durationMs, thresholdMs: slowMs, events }
          : { operation, streamId, durationMs, thresholdMs: slowMs, events },
        span,
      );
    }
    endSpan(span);
  }

  async #append<E extends EventEnvelope>(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendToStreamOptions,
    span: Span | undefined,
    slowMs: number | false,
  ): Promise<AppendToStreamResult<E>> {
    // The slow-call check of an untraced append (a traced one is timed around its span: slowMs false here).
    const started = slowMs === false ? 0 : performance.now();
    try {
      assertStreamId(streamId);
      assertAppendableStream(streamId);
      assertAppendOptions(options);
      const expectedVersion = options.expectedVersion === undefined ? "any" : options.expectedVersion;
      const prepared = prepareEvents(events, options.metadata, undefined, this.#prepareOptions);
      const registry = this.eventRegistry;
      const pending = registry === undefined ? prepared : await registry.prepareAppend(prepared);
      // The events carry the append's trace context, so whoever consumes them continues this trace.
      if (span !== undefined)
        stampTraceContext(
          span,
          pending.map((event) => event.metadata),
        );
      if (pending.length === 0) {
        // Refused as a non-empty append would be: a deleted stream before its expected version.
        const version = await this.appendableVersion(streamId);
        checkExpectedVersion(streamId, expectedVersion, version);
        return { streamId, nextExpectedVersion: version, events: [] };
      }
      const max = this.capabilities.maxEventsPerAppend;
      if (max !== undefined && pending.length > max) {
        throw new ValidationError("Too many events in one append", [
          { path: [], message: `${pending.length} events, this store appends at most ${max} atomically` },
        ]);
      }
      const personal = this.personalData;
      // Encrypted before anything is written: a key that cannot be had fails the append, never stores plaintext.
      const stored = personal === undefined ? pending : await personal.encryptEvents(streamId, pending);
      let commit: CommitResult;
      try {
        commit = await this.commit(streamId, stored, expectedVersion);
      } catch (error) {
        // Counted in a catch, not a .catch() on the promise: that would be one more promise per append.
        countAndRethrow(error);
      }
      const committed = (stored === pending ? commit.events : await this.#plaintext(commit, pending)) as readonly E[];
      const last = committed[committed.length - 1];
      const result = { streamId, nextExpectedVersion: last?.version ?? 0, events: committed };
      // A retried append that had committed already was published then; publishing again would duplicate.
      if (commit.retried) return { ...result, retried: true };
      const published = await this.afterCommit(committed);
      return published === undefined ? result : { ...result, published };
    } finally {
      if (slowMs !== false)
        this.#finish(undefined, performance.now() - started, slowMs, "append", streamId, eventCount(events));
    }
  }

  /**
   * The one step after a successful commit, for every store and transaction: wakes this store's
   * subscriptions, then publishes to the bus. A publishing failure goes to `onPublishError`, never to
   * the caller: the events are stored. Stores that commit outside `appendToStream` (a transaction
   * spanning several appends) call it once the commit is durable, with the events of each append.
   * Returns what the bus reported, or undefined without a bus or when publishing failed.
   */
  protected async afterCommit(events: readonly EventEnvelope[]): Promise<PublishResult | undefined> {
    if (events.length === 0) return undefined;
    // Counted here, not in appendToStream: transactions commit outside it and call this step too.
    countAppended(events);
    // A listener or step that throws (even synchronously) is logged: the events are committed, so the
    // append stands, and the listeners, steps and publishing after it still run.
    let committed: number | undefined;
    for (const event of events) {
      const position = event.globalPosition;
      if (position !== undefined && (committed === undefined || position > committed)) committed = position;
    }
    for (const wake of this.#waiters) {
      try {
        wake(committed);
      } catch (error) {
        callHook("watchAppends listener", reportListenerFailure, error);
      }
    }
    for (const step of this.#commitSteps) {
      // A step reports its own failures (a projection runner to its onFailure); the append stands.
      try {
        await step(events);
      } catch (error) {
        callHook("commit step", reportStepFailure, error);
      }
    }
    if (this.#bus === undefined) return undefined;
    const tracer = this.#traced ? activeTracer() : undefined;
    const span =
      tracer === undefined
        ? undefined
        : startSpan(tracer, "publish", SpanKind.PRODUCER, {
            "messaging.operation.type": "publish",
            "messaging.operation.name": "publish",
            "messaging.batch.message_count": events.length,
          });
    try {
      // Subscribers see what readers see: an event appended at an older schema version is upcast.
      const publish = () => this.#publish(events);
      const published = await (span === undefined ? publish() : withActiveSpan(span, publish));
      countPublished(events);
      return published;
    } catch (error) {
      countPublished(events, { error });
      if (span !== undefined) recordError(span, error);
      callHook("onPublishError", this.#onPublishError, error, events);
      return undefined;
    } finally {
      endSpan(span);
    }
  }

  /**
   * The committed events as the caller appended them (what the result and the bus carry): the
   * plaintext data put back, or, for a retried append, the stored events decrypted.
   */
  async #plaintext(commit: CommitResult, pending: readonly PendingEvent[]): Promise<readonly EventEnvelope[]> {
    if (commit.retried === true) {
      // The store compared the retry without the sealed bytes (fresh on every seal); the plaintexts
      // must agree too, or the same ids carry other personal values.
      const stored = await this.decryptList(commit.events);
      sealedData()?.assertSamePlaintexts(pending, stored);
      return stored;
    }
    return commit.events.map((event, i) => {
      const appended = pending[i];
      return appended !== undefined && appended.id === event.id ? { ...event, data: appended.data } : event;
    });
  }

  /** Events read from storage, their personal fields decrypted: for stores that publish stored events themselves. */
  protected async decryptList(events: readonly EventEnvelope[]): Promise<readonly EventEnvelope[]> {
    const personal = this.personalData;
    if (personal === undefined) return events;
    return Promise.all(events.map((event) => personal.decryptEvent(event)));
  }

  #publish(events: readonly EventEnvelope[]): Promise<PublishResult> {
    const bus = this.#bus as EventPublisher;
    return bus.publish(this.eventRegistry === undefined ? events : this.#upcastList(events));
  }

  /**
   * Reads one stream's events in order, upcast by the store's `eventRegistry` unless `raw`. A stream
   * that does not exist yields nothing.
   */
  readStream<E extends EventEnvelope = EventEnvelope>(
    streamId: string,
    given: ReadStreamOptions = {},
  ): AsyncGenerator<E, void, undefined> {
    const options = given ?? {};
    assertStreamId(streamId);
    assertReadStreamOptions(options);
    const pages = this.#plain(checked(this.readStreamPages(streamId, options), options), options.raw);
    return this.#observedRead("readStream", streamId, pages) as AsyncGenerator<E, void, undefined>;
  }

  /**
   * Reads every stream's events by global position, upcast by the store's `eventRegistry` unless `raw`.
   * A store without a global order (`capabilities.globalOrder` false) refuses it with a `ValidationError`.
   */
  readAll<E extends EventEnvelope = EventEnvelope>(given: ReadAllOptions = {}): AsyncGenerator<E, void, undefined> {
    const options = given ?? {};
    assertReadAllOptions(options);
    const pages = this.#feedPages(options);
    return this.#observedRead("readAll", undefined, pages, this.#quietRead) as AsyncGenerator<E, void, undefined>;
  }

  /** The feed's pages as `readAll` hands them out: soft-deleted streams passed by, decrypted and upcast unless `raw`. */
  #feedPages(options: ReadAllOptions, batch = false): EventPages {
    if (!this.capabilities.globalOrder) return this.#noFeed();
    const stored =
      this.capabilities.streamDeletion === true
        ? visibleFeed(
            (read) => this.readAllPages(read, batch),
            options,
            () => this.hiddenStreams(),
          )
        : this.readAllPages(options, batch);
    return this.#plain(checked(stored, options), options.raw);
  }

  /**
   * @internal What `readFeed({ after, maxCount })` yields, as one array read a page at a time: a
   * follower that takes the feed a batch at a time (the projection runner) pays no promise per event.
   * A store whose class overrides `readAll` or `readFeed` is read through them.
   */
  async readFeedBatch(after: number, maxCount: number): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    if (this.readAll !== EventStore.prototype.readAll || this.readFeed !== EventStore.prototype.readFeed) {
      for await (const event of this.readFeed({ after, maxCount })) events.push(event);
      return events;
    }
    assertNonNegativeInteger(after, "after");
    assertNonNegativeInteger(maxCount, "maxCount");
    for await (const page of this.#feedPages({ after, maxCount }, true)) for (const event of page) events.push(event);
    return events;
  }

  /**
   * `readAll` as a follower of the feed reads it (store subscriptions, projection runners): without a
   * `readAll` span or slow-call check. A follower polls, and a span per poll would bury the spans of
   * what it does with the events, which it traces itself.
   */
  readFeed<E extends EventEnvelope = EventEnvelope>(options: ReadAllOptions = {}): AsyncGenerator<E, void, undefined> {
    this.#quietRead = true;
    try {
      return this.readAll<E>(options);
    } finally {
      this.#quietRead = false;
    }
  }

  /**
   * The read's pages flattened into events, the one step per event of the whole read (read-pages.ts).
   * With a span (from the first event asked for to the last, so it includes the reader's own time
   * between events) and the slow-call check, which counts only the time spent waiting on the store,
   * when either is on (`quiet`: neither).
   */
  #observedRead(operation: string, streamId: string | undefined, pages: EventPages, quiet = false): EventReader {
    const tracer = this.#traced && !quiet ? activeTracer() : undefined;
    const slowMs = quiet ? false : telemetryConfig().slowStoreCallMs;
    if (tracer === undefined && slowMs === false) return eventsOf(pages);
    const attributes = this.#dbAttributes(operation, streamId);
    const finish = this.#finish.bind(this);
    let span: Span | undefined;
    return eventsOf(pages, {
      timed: slowMs !== false,
      start: () => {
        span = tracer === undefined ? undefined : startSpan(tracer, operation, SpanKind.CLIENT, attributes);
      },
      end: (outcome, count, storeMs, error) => {
        if (span !== undefined && outcome !== "stopped") {
          setSpanAttribute(span, "eventflows.outcome", outcome);
          if (outcome === "error") recordError(span, error);
        }
        setSpanAttribute(span, "eventflows.event_count", count);
        finish(span, storeMs, slowMs, operation, streamId, count);
      },
    });
  }

  /**
   * The stored pages as the reader sees them: decrypted and upcast, unless `raw`. Decryption works a
   * page at a time while every key is cached and synchronous, then event by event, reading ahead of
   * the reader so that Web Crypto calls run together (see `PersonalData.decryptingPages`).
   */
  #plain(pages: EventPages, raw: boolean | undefined): EventPages {
    if (raw === true) return pages;
    const personal = this.personalData;
    const plain = personal === undefined ? pages : personal.decryptingPages(pages);
    const registry = this.eventRegistry;
    return registry === undefined ? plain : registry.upcastPages(plain);
  }

  #decrypting(events: AsyncGenerator<EventEnvelope, void, undefined>): AsyncGenerator<EventEnvelope, void, undefined> {
    const personal = this.personalData;
    return personal === undefined ? events : personal.decrypting(events);
  }

  #upcastList(events: readonly EventEnvelope[]): readonly EventEnvelope[] {
    const registry = this.eventRegistry as EventRegistry;
    return events.flatMap((event) => registry.upcastEvent(event));
  }

  /** The stream's version: the number of its last event, 0 when it has none. */
  async getStreamVersion(streamId: string): Promise<number> {
    assertStreamId(streamId);
    return this.streamVersion(streamId);
  }

  /**
   * The global position of the newest event, 0 for an empty store: where a subscription that wants
   * only new events starts. This default scans the feed; adapters answer it with one query.
   */
  async getLastGlobalPosition(): Promise<number> {
    if (!this.capabilities.globalOrder) throw this.noGlobalOrder();
    let last = 0;
    for await (const event of this.readAllEvents({})) last = event.globalPosition ?? last;
    return last;
  }

  /**
   * The `ValidationError` that refuses the global feed of a store without one (`capabilities.globalOrder`
   * false): `readAll`, `readFeed` and the default `getLastGlobalPosition` (so `getHeadPosition`) throw it
   * before calling the adapter. An adapter may override it to say why in its own terms.
   */
  protected noGlobalOrder(): ValidationError {
    return new ValidationError("This store has no global order to read");
  }

  /** The feed's pages on a store without one: refused at the first page, as a failed read, before the adapter is asked. */
  // biome-ignore lint/correctness/useYield: it yields nothing, by design
  async *#noFeed(): EventPages {
    throw this.noGlobalOrder();
  }

  /**
   * The global position of the newest committed event, 0 for an empty store: what a follower that
   * must have taken in every append made so far waits for (`ProjectionRunner.whenCaughtUp`, `lag`).
   * The same as {@link getLastGlobalPosition} on every store but PostgreSQL, whose
   * `getLastGlobalPosition` stops below transactions still in flight (so that a subscription starting
   * there misses none of their events) and can be below an append that has already committed.
   */
  getHeadPosition(): Promise<number> {
    return this.getLastGlobalPosition();
  }

  /**
   * The head position and the stored event there (raw: neither decrypted nor upcast), read together:
   * what the tenant layer checks before it answers `getHeadPosition`. This default reads the head,
   * then the event at it through `readAll`; a store whose `readAll` can hold back an event at its head
   * (PostgreSQL, while an older transaction is open) reads both in one query, so the check is never
   * left without the event. `event` is absent when the head is 0, or when no event is readable there.
   */
  async feedHead(): Promise<{ readonly position: number; readonly event?: EventEnvelope }> {
    const position = await this.getHeadPosition();
    if (position <= 0) return { position };
    for await (const event of this.readAll({ after: position - 1, maxCount: 1, raw: true })) {
      return event.globalPosition === position ? { position, event } : { position };
    }
    return { position };
  }

  /**
   * Resolves when the backend answers, for health checks. This default reads the version of a stream
   * that need not exist (one single-key read); adapters answer it with their cheapest round trip.
   */
  async ping(_signal?: AbortSignal): Promise<void> {
    await this.streamVersion(HEALTH_CHECK_STREAM);
  }

  async streamExists(streamId: string): Promise<boolean> {
    return (await this.getStreamVersion(streamId)) > 0;
  }

  /**
   * The `$stream-deleted` event (as stored: neither decrypted nor upcast) of a stream that is deleted
   * now, soft or hard; `undefined` when it is not (live, restored, or never had events). What the
   * tenant layer checks to tell whose a stream that shows no event was. The stores of this package
   * look up the stream's own deletion record first, so a stream that is not deleted costs one lookup
   * whatever the store's history, and a deleted one's record says where its event is (read by key).
   * @throws {ValidationError} bad stream id.
   */
  async streamDeletionEvent(streamId: string): Promise<StreamLifecycleEvent | undefined> {
    assertStreamId(streamId);
    if (this.capabilities.streamDeletion !== true) return undefined;
    const event = await this.deletionEvent(streamId);
    return event !== undefined && isStreamLifecycleEvent(event) && event.type === StreamLifecycleEventType.Deleted
      ? event
      : undefined;
  }

  /**
   * What {@link EventStore.streamDeletionEvent} answers from: the stream's `$stream-deleted` event
   * while it is deleted (anything else counts as not deleted). Stores with `capabilities.streamDeletion`
   * override it with a lookup of the stream's deletion record; this default reads `$streams` backward
   * to the stream's newest lifecycle event, which costs more the more the store has deleted since.
   */
  protected async deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    for await (const event of this.readStream(STREAM_LIFECYCLE_STREAM, { direction: "backward", raw: true })) {
      if (isStreamLifecycleEvent(event) && event.data.streamId === streamId) return event;
    }
    return undefined;
  }

  /**
   * The version an empty append checks `expectedVersion` against, refusing a deleted stream first as
   * `commit` does a non-empty append. This default reads the version, then (with
   * `capabilities.streamDeletion`) the deletion record: in that order, since a hard delete is for good
   * and a soft one keeps the version, so a stream found live after the version read was live at it.
   * A store whose appends see the deletion state elsewhere than in `deletionEvent` overrides it.
   * @throws {StreamDeletedError} the stream is deleted.
   */
  protected async appendableVersion(streamId: string): Promise<number> {
    const version = await this.streamVersion(streamId);
    if (this.capabilities.streamDeletion !== true) return version;
    const event = await this.deletionEvent(streamId);
    if (event !== undefined && isStreamLifecycleEvent(event) && event.type === StreamLifecycleEventType.Deleted) {
      throw new StreamDeletedError(streamId, event.data.mode === "hard" ? "hard" : "soft");
    }
    return version;
  }

  /**
   * Follows the global feed from a checkpoint: catches up, then waits for new events (woken at once
   * by appends through this instance, otherwise by polling). A handler that throws is retried on the
   * same event after `retryDelayMs`; the position advances only past handled events.
   */
  subscribeToAll<E extends EventEnvelope = EventEnvelope>(options: SubscribeToAllOptions<E>): StoreSubscription {
    const registry = this.eventRegistry;
    // The subscription reads stored events and upcasts each itself, so that its checkpoint moves
    // past a stored event only once every event a split made of it is handled.
    // A wrapping store's check (a tenant's) runs in the read, before an event is decrypted, traced or
    // handed to the handler or to onError: a refused event ends the read as a read failure. Looked up
    // at the read, once startSubscription has checked the options: options whose keys cannot be read
    // are its ValidationError, not the error of the Proxy trap the look-up would call first.
    const source = {
      capabilities: this.capabilities,
      getLastGlobalPosition: () => this.getLastGlobalPosition(),
      readAll: (read: ReadAllOptions) => {
        const check = readCheckOf(options);
        return this.#decrypting(
          this.readFeed({ ...read, raw: true, ...(check === undefined ? {} : { [READ_CHECK]: check }) }),
        );
      },
    };
    const register = (wake: (committed: number | undefined) => void) => {
      this.#waiters.add(wake);
      return () => this.#waiters.delete(wake);
    };
    const expand = registry === undefined ? undefined : (stored: EventEnvelope) => registry.upcastEvent(stored);
    return startSubscription(source, options as SubscribeToAllOptions, register, expand);
  }

  /**
   * Calls `listener` after every commit through this instance (before publishing), until the
   * returned function is called: how runners and subscriptions wake at once instead of waiting for
   * their next poll. Appends made by other processes are not seen here.
   */
  watchAppends(listener: () => void): () => void {
    // Refused here: taken, it failed (logged) after every append from then on.
    assertFunction(listener, "listener", "watchAppends listener");
    const waiter = () => listener();
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  /**
   * Runs `step` in the after-commit step of every append through this instance, before publishing,
   * and makes the append wait for it, until the returned function is called: how inline projection
   * runners update their read model before `appendToStream` returns. The events are committed
   * whatever the step does.
   */
  afterEachCommit(step: (events: readonly EventEnvelope[]) => Promise<void>): () => void {
    assertFunction(step, "step", "afterEachCommit step");
    this.#commitSteps.add(step);
    return () => this.#commitSteps.delete(step);
  }

  /**
   * Soft-deletes (default) or hard-deletes a stream. Soft: its events stay stored but every read
   * (`readStream`, `readAll`, subscriptions, projections) passes them by, and appends are refused
   * with `StreamDeletedError` until `restoreStream`. Hard: its events are removed, and the id is
   * retired (appends refused for good). Either way a `$stream-deleted` event is recorded in the
   * `$streams` system stream, so followers of the feed learn of it. Idempotent: deleting again
   * changes nothing (`changed: false`).
   * @throws {ValidationError} bad stream id (or a `$` system stream), mode or expected version, or an
   *   option it does not take.
   * @throws {StreamNotFoundError} the stream never had events.
   * @throws {ConcurrencyError} the stream is not at `expectedVersion`; nothing changed.
   * @throws {StreamDeletionNotSupportedError} the store has no stream deletion.
   */
  async deleteStream(streamId: string, options: DeleteStreamOptions = {}): Promise<StreamChangeResult> {
    assertStreamChangeOptions(options, "delete");
    const mode = options?.mode ?? "soft";
    assertDeletionMode(mode);
    return this.#changeStream(
      mode === "hard" ? "hard-delete" : "soft-delete",
      streamId,
      options?.expectedVersion,
      undefined,
      options?.metadata,
    );
  }

  /**
   * Undoes a soft delete: the stream reads and takes appends again, and a `$stream-restored` event is
   * recorded. A stream that is not deleted is left as it is (`changed: false`).
   * @throws {StreamDeletedError} the stream was hard-deleted: there is nothing to restore.
   */
  async restoreStream(streamId: string, options: RestoreStreamOptions = {}): Promise<StreamChangeResult> {
    assertStreamChangeOptions(options, "restore");
    return this.#changeStream("restore", streamId, options?.expectedVersion, undefined, options?.metadata);
  }

  /**
   * Removes the stream's events below version `before`; the stream keeps its version and its later
   * events, and a `$stream-truncated` event is recorded. Truncating again at the same or a lower
   * version removes nothing (`changed: false`). Snapshots older than `before - 1` no longer have the
   * events that follow them: delete them too (`SnapshotStore`), as `applyRetention` does.
   * @throws {ValidationError} `before` is not an integer from 1 to the stream's version, or an option it
   *   does not take.
   * @throws {StreamDeletedError} the stream is deleted.
   */
  async truncateStream(streamId: string, options: TruncateStreamOptions): Promise<StreamChangeResult> {
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid truncate options", [
        { path: [], message: "options with before are required" },
      ]);
    }
    assertStreamChangeOptions(options, "truncate");
    assertPositiveInteger(options.before, "before");
    return this.#changeStream("truncate", streamId, options.expectedVersion, options.before, options.metadata);
  }

  async #changeStream(
    kind: StreamChangeKind,
    streamId: string,
    expected: ExpectedVersion | undefined,
    before?: number,
    metadata?: EventMetadata,
  ): Promise<StreamChangeResult> {
    assertStreamId(streamId);
    assertUserStream(streamId);
    const expectedVersion = expected ?? "any";
    assertExpectedVersion(expectedVersion);
    if (this.capabilities.streamDeletion !== true) throw new StreamDeletionNotSupportedError(this.constructor.name);
    this.personalData?.checkChangeMetadata(metadata);
    const change = newStreamChange(kind, streamId, expectedVersion, before, metadata);
    const commit = await this.commitStreamChange(change);
    const base = { streamId, operation: kind, version: commit.version, removed: commit.removed };
    if (commit.event === undefined) return { ...base, changed: false };
    // Followers wake and the bus hears of it, as after any append.
    await this.afterCommit([commit.event]);
    return { ...base, changed: true, event: commit.event as StreamLifecycleEvent };
  }

  /**
   * Commits one deletion, restore or truncation atomically: decides with `planStreamChange` from the
   * stream's deletion state and version, then writes the deletion state, removes events, and appends
   * the lifecycle event (`lifecycleEvent`) to `$streams`, all or nothing, serialized against appends
   * to the stream. Stores with `capabilities.streamDeletion` override it; this default refuses.
   */
  protected commitStreamChange(_change: StreamChange): Promise<StreamChangeCommit> {
    return Promise.reject(new StreamDeletionNotSupportedError(this.constructor.name));
  }

  /**
   * The ids of the soft-deleted streams, whose events `readAll` passes by: read once per `readAll`
   * call. Stores with `capabilities.streamDeletion` override it, unless their `readAllPages` leaves
   * those events out itself (PostgreSQL and SQLite do, in each page's statement); `readStream` hides them in the store.
   */
  protected hiddenStreams(): Promise<ReadonlySet<string>> {
    return Promise.resolve(new Set());
  }

  /**
   * Stores the events if the stream is at the expected version and returns them with versions and
   * positions. Stores with idempotent appends return the stored events with `retried: true` when all
   * of the ids were committed to this stream before.
   */
  protected abstract commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult>;
  protected abstract readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined>;
  protected abstract readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined>;
  /**
   * The stream's events as pages, what `readStream` reads. This default takes `readStreamEvents`
   * event by event; a store that fetches pages overrides it to hand them on whole, so that every
   * layer of the read costs a step per page instead of a promise per event (its `readStreamEvents`
   * then flattens these pages; a subclass that overrides `readStreamEvents` must override this too).
   */
  protected readStreamPages(streamId: string, options: ReadStreamOptions): EventPages {
    return pagesOf(this.readStreamEvents(streamId, options));
  }
  /**
   * The feed as pages, what `readAll` reads: as {@link EventStore.readStreamPages}, over `readAllEvents`.
   * `batch`: the caller takes the whole read at once (`readFeedBatch`), not event by event, so a store
   * that reads in pages may read `maxCount` events in one page rather than a small first one.
   */
  protected readAllPages(options: ReadAllOptions, _batch?: boolean): EventPages {
    return pagesOf(this.readAllEvents(options));
  }
  protected abstract streamVersion(streamId: string): Promise<number>;
}

function reportStepFailure(error: unknown): void {
  getLogger().error("an after-commit step failed; the events are stored", { error });
}

function reportListenerFailure(error: unknown): void {
  getLogger().error("a watchAppends listener failed; the events are stored", { error });
}

/**
 * @internal Whether `value` has an event store's methods: what a tenant's store wraps, and what
 * `applyRetention` and a tenancy factory's `eventStore` are checked with.
 */
export function isEventStore(value: unknown): value is EventStore {
  if (typeof value !== "object" || value === null) return false;
  const store = value as Record<string, unknown>;
  return ["appendToStream", "readStream", "readAll", "getStreamVersion", "subscribeToAll"].every(
    (method) => typeof store[method] === "function",
  );
}

/** @internal Refuses what {@link isEventStore} does not take: a ValidationError titled `title`, naming `path`. */
export function assertEventStore(value: unknown, path: string, title: string): asserts value is EventStore {
  if (!isEventStore(value)) {
    throw new ValidationError(title, [{ path: [path], message: `must be an event store, got ${kindOf(value)}` }]);
  }
}

export function assertExpectedVersion(value: unknown): asserts value is ExpectedVersion {
  if (value === "any" || value === "no-stream" || value === "stream-exists") return;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return;
  throw new ValidationError("Invalid expected version", [
    {
      path: ["expectedVersion"],
      message: `expected a non-negative integer, "no-stream", "stream-exists" or "any", got ${kindOf(value)}`,
    },
  ]);
}

/** Throws {@link ConcurrencyError} unless a stream at `actual` satisfies `expected`. Adapters call this. */
export function checkExpectedVersion(streamId: string, expected: ExpectedVersion, actual: number): void {
  if (matchesExpectedVersion(expected, actual)) return;
  throw new ConcurrencyError(streamId, expected, actual);
}

export function matchesExpectedVersion(expected: ExpectedVersion, actual: number): boolean {
  switch (expected) {
    case "any":
      return true;
    case "no-stream":
      return actual === 0;
    case "stream-exists":
      return actual > 0;
    default:
      return actual === expected;
  }
}

function assertRaw(raw: unknown): void {
  if (raw !== undefined && typeof raw !== "boolean") {
    throw new ValidationError("Invalid read options", [
      { path: ["raw"], message: `raw must be a boolean, got ${kindOf(raw)}` },
    ]);
  }
}

const APPEND_OPTIONS: readonly (keyof AppendToStreamOptions)[] = ["expectedVersion", "metadata"];

/**
 * @internal Refuses an append's options as `appendToStream` does: a key it does not take, an expected
 * version that is none. A wrapping store (a tenant's) asks it before it counts the append.
 */
export function assertAppendOptions(options: unknown): void {
  assertKnownOptions(options, APPEND_OPTIONS, "append options");
  const expected = (options as AppendToStreamOptions | null | undefined)?.expectedVersion;
  if (expected !== undefined) assertExpectedVersion(expected);
}
const READ_STREAM_OPTIONS: readonly (keyof ReadStreamOptions)[] = ["direction", "fromVersion", "maxCount", "raw"];
const READ_ALL_OPTIONS: readonly (keyof ReadAllOptions)[] = ["after", "maxCount", "raw"];

/**
 * @internal Refuses a read's options as `readStream` does (`readAll`: {@link assertReadAllOptions}). A
 * wrapping store (a tenant's) asks it before it copies them to add its check: the copy reads every
 * field, so a getter on a key the read does not take, or keys a Proxy cannot list, threw its own error.
 */
export function assertReadStreamOptions(options: ReadStreamOptions): void {
  assertKnownOptions(options, READ_STREAM_OPTIONS, "read options");
  assertRaw(options.raw);
  if (options.direction !== undefined && options.direction !== "forward" && options.direction !== "backward") {
    throw new ValidationError("Invalid read options", [
      { path: ["direction"], message: `direction must be "forward" or "backward", got ${kindOf(options.direction)}` },
    ]);
  }
  if (options.fromVersion !== undefined) assertPositiveInteger(options.fromVersion, "fromVersion");
  if (options.maxCount !== undefined) assertNonNegativeInteger(options.maxCount, "maxCount");
}

/** @internal See {@link assertReadStreamOptions}. */
export function assertReadAllOptions(options: ReadAllOptions): void {
  assertKnownOptions(options, READ_ALL_OPTIONS, "read options");
  if (options.after !== undefined) assertNonNegativeInteger(options.after, "after");
  if (options.maxCount !== undefined) assertNonNegativeInteger(options.maxCount, "maxCount");
  assertRaw(options.raw);
}

/** Counts a failed commit (a conflict, a backend error) by its code, then lets it go on. */
function countAndRethrow(error: unknown): never {
  countError("append", error);
  throw error;
}

/**
 * How many events an append was given, for its span and slow-call line: 0 for what is not an array,
 * or whose length cannot be read (a Proxy's trap that throws must not replace the append's own error).
 */
function eventCount(events: unknown): number {
  try {
    return Array.isArray(events) ? events.length : 0;
  } catch {
    return 0;
  }
}

/**
 * The stored pages through the reader's {@link ReadCheck} (a tenant's), when it gave one: run on each
 * event as stored, before it is decrypted or upcast, so that an event refused is never handed to an
 * upcaster or a key store.
 */
function checked(pages: EventPages, options: ReadStreamOptions | ReadAllOptions): EventPages {
  const check = readCheckOf(options);
  return check === undefined ? pages : check.pages(pages);
}
