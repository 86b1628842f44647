import { type Issue, StreamNotFoundError, ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { AppendToStreamResult } from "../event-store/types.js";
import type { EventEnvelope, EventMetadata } from "../events/envelope.js";
import type { EventStream } from "../events/stream.js";
import { conflictRetry, retryConflicts } from "../internal/conflict-retry.js";
import { assertFunction, functionIssues, isArray, kindOf, UNREADABLE, unknownKeyIssues } from "../internal/validate.js";
import type {
  RepositorySnapshotOptions,
  RepositorySnapshotStore,
  RepositorySnapshots,
} from "../snapshot/repository-snapshots.js";
import { telemetryConfig } from "../telemetry/config.js";
import { rehydrationTimer } from "../telemetry/metrics.js";
import { reportSlowPath } from "../telemetry/slow-paths.js";
import { inSpan, type Span, SpanKind, setSpanAttributes } from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";
import type { AnyAggregate } from "./aggregate-root.js";

export interface AggregateRepositoryOptions<A extends AnyAggregate> {
  readonly store: EventStore;
  /** The aggregate type's streams, from `defineStream`, or a function from id to stream name. */
  readonly stream: EventStream | ((id: string) => string);
  /** A fresh aggregate in its initial state. */
  readonly create: (id: string) => A;
  /** Load from the newest snapshot plus later events, and take snapshots by policy after saves. */
  readonly snapshots?: RepositorySnapshotOptions<A>;
  /** `false` turns the `rehydrate` span off (slow loads are still logged). Defaults to true. */
  readonly telemetry?: boolean;
}

export interface SaveOptions {
  /** Added to every saved event's metadata (correlation and causation ids, for instance). */
  readonly metadata?: EventMetadata;
}

export interface UpdateOptions extends SaveOptions {
  /**
   * Attempts in all when the save meets a concurrent change. Defaults to 6: with the default backoff,
   * enough for ten concurrent updates of one aggregate on PostgreSQL to all get through.
   */
  readonly maxAttempts?: number;
  /**
   * Base wait before a retry, in milliseconds; doubled each retry, with full jitter (a random wait
   * from 0 up to it), so that writers that collided do not collide again. The first attempt never
   * waits. Defaults to 10; 0 retries at once.
   */
  readonly baseDelayMs?: number;
  /** Start from a new aggregate when the stream does not exist, instead of throwing. */
  readonly createIfMissing?: boolean;
}

export interface UpdateResult<A, R> {
  readonly aggregate: A;
  readonly result: R;
  readonly appended: AppendToStreamResult<EventEnvelope>;
  readonly attempts: number;
}

/** Loads aggregates from their streams and saves what they raised, with optimistic concurrency. */
export class AggregateRepository<A extends AnyAggregate> {
  readonly #store: EventStore;
  readonly #streamOf: (id: string) => string;
  readonly #create: (id: string) => A;
  readonly #snapshots: RepositorySnapshots<A> | undefined;
  readonly #traced: boolean;

  constructor(options: AggregateRepositoryOptions<A>) {
    assertRepositoryOptions(options);
    this.#store = options.store;
    const stream = options.stream;
    this.#streamOf = typeof stream === "function" ? stream : (id) => stream.name(id);
    const create = options.create;
    this.#create = (id) => {
      const aggregate = create(id);
      if (!isAggregate(aggregate)) {
        throw new ValidationError("Invalid repository options", [
          { path: ["create"], message: `must return an aggregate (an AggregateRoot), got ${kindOf(aggregate)}` },
        ]);
      }
      return aggregate;
    };
    this.#traced = options.telemetry !== false;
    this.#snapshots = options.snapshots === undefined ? undefined : snapshotsOf(options.snapshots);
  }

  streamIdOf(id: string): string {
    return this.#streamOf(id);
  }

  /**
   * The aggregate, or `undefined` when its stream has no events. With a provider registered, a
   * `rehydrate` span carries the stream, the events replayed and whether a snapshot was used; a
   * load slower than `configureTelemetry`'s `slowRehydrationMs` logs a warning.
   */
  async find(id: string): Promise<A | undefined> {
    const timer = rehydrationTimer();
    const streamId = this.#streamOf(id);
    const tracer = this.#traced ? activeTracer() : undefined;
    const slowMs = telemetryConfig().slowRehydrationMs;
    if (tracer === undefined) return this.#rehydrate(id, streamId, undefined, slowMs, timer);
    const attributes = { "eventflows.stream_id": streamId };
    return inSpan(tracer, "rehydrate", SpanKind.INTERNAL, attributes, (span) =>
      this.#rehydrate(id, streamId, span, slowMs, timer),
    );
  }

  async #rehydrate(
    id: string,
    streamId: string,
    span: Span | undefined,
    slowMs: number | false,
    timer: ReturnType<typeof rehydrationTimer>,
  ) {
    const started = slowMs === false && span === undefined ? 0 : performance.now();
    let aggregate = this.#create(id);
    if (this.#snapshots === undefined) await aggregate.rehydrateAsync(this.#store.readStream(streamId));
    else aggregate = await this.#snapshots.load(aggregate, () => this.#create(id), streamId, this.#store);
    if (timer !== undefined || slowMs !== false || span !== undefined) {
      const from = this.#snapshots?.snapshotVersionOf(aggregate) ?? 0;
      const replayed = aggregate.version - from;
      // The aggregate's class names it: a label the code defines, one series per aggregate type.
      timer?.(aggregate.constructor.name, replayed);
      setSpanAttributes(span, {
        "eventflows.events_replayed": replayed,
        "eventflows.snapshot_version": from,
        "eventflows.stream_version": aggregate.version,
      });
      const durationMs = performance.now() - started;
      if (slowMs !== false && durationMs > slowMs) {
        reportSlowPath({ operation: "rehydration", streamId, durationMs, thresholdMs: slowMs, events: replayed }, span);
      }
    }
    return aggregate.version === 0 ? undefined : aggregate;
  }

  /** @throws {StreamNotFoundError} when the aggregate has no events. */
  async load(id: string): Promise<A> {
    const aggregate = await this.find(id);
    if (aggregate === undefined) throw new StreamNotFoundError(this.#streamOf(id));
    return aggregate;
  }

  /**
   * Appends the aggregate's new events, expecting the stream at the version it was loaded at.
   * @throws {ConcurrencyError} someone else appended in between; reload and decide again.
   */
  async save(aggregate: A, given?: SaveOptions | null): Promise<AppendToStreamResult<EventEnvelope>> {
    if (!isAggregate(aggregate)) {
      throw new ValidationError("Invalid aggregate", [
        { path: [], message: `save takes an aggregate (an AggregateRoot), got ${kindOf(aggregate)}` },
      ]);
    }
    // Checked only when given: a save without options does no more work than before.
    if (given !== undefined && given !== null) {
      if (typeof given !== "object" || isArray(given) !== false) {
        throw new ValidationError("Invalid save options", [
          { path: [], message: `must be an object, got ${kindOf(given)}` },
        ]);
      }
      // A misspelt `metdata` was dropped: the events were saved without their correlation ids.
      const unknown = unknownKeyIssues(given, SAVE_OPTIONS);
      if (unknown.length > 0) throw new ValidationError("Invalid save options", unknown);
    }
    return this.#append(aggregate, given?.metadata);
  }

  /** The save itself, of an aggregate and options already checked (by `save`, or by `update` for its own). */
  async #append(aggregate: A, metadata: EventMetadata | undefined): Promise<AppendToStreamResult<EventEnvelope>> {
    const previousVersion = aggregate.persistedVersion;
    // The version every save is checked against: anything else (a subclass's own getter) would have
    // appended with no check at all, as an expected version that is none is "any".
    if (!Number.isSafeInteger(previousVersion) || previousVersion < 0) {
      throw new ValidationError("Invalid aggregate", [
        { path: ["persistedVersion"], message: `must be a non-negative integer, got ${kindOf(previousVersion)}` },
      ]);
    }
    const expectedVersion = previousVersion === 0 ? "no-stream" : previousVersion;
    const streamId = this.#streamOf(aggregate.id);
    // A copy: events the aggregate raises while the append is in flight are not part of it, and stay
    // uncommitted (for the next save) instead of being cleared with the saved ones.
    const events = aggregate.uncommittedEvents.slice();
    const result = await this.#store.appendToStream(streamId, events, {
      expectedVersion,
      ...(metadata === undefined ? {} : { metadata }),
    });
    aggregate.markCommitted(result.nextExpectedVersion, events.length);
    // Never awaited and never throws: a snapshot is an optimisation, the events are saved. Not while
    // events raised during the append are unsaved: the state holds them, the saved version does not.
    if (!aggregate.hasChanges) this.#snapshots?.afterSave(aggregate, streamId, previousVersion, result);
    return result;
  }

  /**
   * Waits for the snapshot writes started by earlier saves. Call it before a Lambda handler returns
   * (or pass `snapshots.waitUntil` on Workers) so that the writes are not frozen mid-flight.
   */
  async flushSnapshots(): Promise<void> {
    await this.#snapshots?.flush();
  }

  /**
   * Load, decide, save, retrying on a concurrent change: on a `ConcurrencyError` the aggregate is
   * loaded afresh and `decide` runs again, after a short random wait (`baseDelayMs`), up to
   * `maxAttempts` times in all. `decide` must therefore have no side effects beyond raising events.
   */
  async update<R>(
    id: string,
    decide: (aggregate: A) => R | Promise<R>,
    given?: UpdateOptions | null,
  ): Promise<UpdateResult<A, R>> {
    // null is no options, as undefined is: never a TypeError.
    const options = given ?? {};
    // A misspelt `createIfMising` was dropped: update threw StreamNotFoundError instead of creating.
    // Checked only when given, as save's are, and before any field is read: options whose keys cannot
    // be read (a trap that throws) are refused here rather than throw from the first field read. Not an
    // object (an array, a revoked Proxy): conflictRetry's check below says so.
    if (typeof given === "object" && given !== null && isArray(given) === false) {
      const unknown = unknownKeyIssues(given, UPDATE_OPTIONS);
      if (unknown.length > 0) throw new ValidationError("Invalid update options", unknown);
    }
    const retry = conflictRetry(options, "update options");
    assertFunction(decide, "decide", "update");
    return retryConflicts(retry, async (attempts) => {
      const aggregate = options.createIfMissing ? ((await this.find(id)) ?? this.#create(id)) : await this.load(id);
      const result = await decide(aggregate);
      // Made by `create` (checked to be an aggregate) or loaded: nothing for `save` to check again.
      const appended = await this.#append(aggregate, options.metadata);
      return { aggregate, result, appended, attempts };
    });
  }
}

/** An aggregate as the repository uses it: what `AggregateRoot` gives every subclass. */
/**
 * The repository's snapshots, made by the store it was given (see `SnapshotStore.repositorySnapshots`),
 * which checks the options. A `store` that is no SnapshotStore (one of the port's classes) is refused here.
 */
function snapshotsOf<A extends AnyAggregate>(options: RepositorySnapshotOptions<A>): RepositorySnapshots<A> {
  let store: Partial<RepositorySnapshotStore> | undefined;
  try {
    store = (options as { store?: Partial<RepositorySnapshotStore> } | null)?.store;
    if (typeof store?.repositorySnapshots !== "function") store = undefined;
  } catch {
    // A revoked Proxy, a getter that throws: refused as unreadable, not with its own error.
    throw new ValidationError("Invalid snapshot options", [{ path: [], message: UNREADABLE }]);
  }
  if (store === undefined) {
    throw new ValidationError("Invalid snapshot options", [
      typeof options === "object" && options !== null
        ? { path: ["store"], message: "must be a SnapshotStore" }
        : { path: [], message: `expected { store, policy? }, got ${kindOf(options)}` },
    ]);
  }
  return (store as RepositorySnapshotStore).repositorySnapshots(options);
}

/** Whether `value` is an aggregate as the repository takes one (also the test helpers' check). Not exported from the package. */
export function isAggregate(value: unknown): value is AnyAggregate {
  const candidate = value as Partial<AnyAggregate> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.rehydrateAsync === "function" &&
    typeof candidate.markCommitted === "function"
  );
}

const SAVE_OPTIONS = ["metadata"] as const satisfies readonly (keyof SaveOptions)[];
const UPDATE_OPTIONS = [
  ...SAVE_OPTIONS,
  "maxAttempts",
  "baseDelayMs",
  "createIfMissing",
] as const satisfies readonly (keyof UpdateOptions)[];

const REPOSITORY_OPTIONS = [
  "store",
  "stream",
  "create",
  "snapshots",
  "telemetry",
] as const satisfies readonly (keyof AggregateRepositoryOptions<AnyAggregate>)[];

/** A JavaScript caller's mistakes (TypeScript refuses them), refused when the repository is made. */
function assertRepositoryOptions(options: unknown): void {
  const o = options as Partial<AggregateRepositoryOptions<AnyAggregate>> | null;
  const issues: Issue[] = [];
  if (typeof o !== "object" || o === null) {
    issues.push({ path: [], message: `expected { store, stream, create }, got ${kindOf(o)}` });
  } else {
    // A misspelt key was dropped: `snapshot: {...}` loaded every aggregate by a full replay.
    issues.push(...unknownKeyIssues(o, REPOSITORY_OPTIONS));
    const store = o.store as Partial<EventStore> | undefined;
    if (typeof store?.readStream !== "function" || typeof store.appendToStream !== "function") {
      issues.push({ path: ["store"], message: `must be an EventStore, got ${kindOf(o.store)}` });
    }
    const stream = o.stream as Partial<EventStream> | ((id: string) => string) | undefined;
    if (typeof stream !== "function" && typeof stream?.name !== "function") {
      issues.push({
        path: ["stream"],
        message: `must be defineStream(...) or a function from id to stream name, got ${kindOf(o.stream)}`,
      });
    }
    issues.push(...functionIssues(o.create, "create", true));
    if (o.telemetry !== undefined && typeof o.telemetry !== "boolean") {
      issues.push({ path: ["telemetry"], message: `must be a boolean, got ${kindOf(o.telemetry)}` });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid repository options", issues);
}
