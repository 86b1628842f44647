import type { AnyAggregate } from "../aggregate/aggregate-root.js";
import {
  type Issue,
  isEventFlowsError,
  isRehydrationError,
  isSnapshotCorruptError,
  isValidationError,
  SnapshotCorruptError,
  ValidationError,
} from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { AppendToStreamResult } from "../event-store/types.js";
import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import { functionIssues, kindOf, unknownKeyIssues } from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import { snapshotTime } from "./created-at.js";
import { everyNEvents, type SnapshotPolicy } from "./policies.js";
import type { NewSnapshot, Snapshot } from "./types.js";

export type SnapshotOperation = "load" | "restore" | "policy" | "save";

export interface SnapshotErrorContext {
  /** What failed: reading the snapshot, restoring it into the aggregate, the policy, or writing one. */
  readonly operation: SnapshotOperation;
  readonly streamId: string;
  readonly version?: number;
}

/**
 * What a repository's snapshots ask of their store: a `SnapshotStore`'s (declared here, as the store's
 * class makes them: see `SnapshotStore.repositorySnapshots`).
 */
export interface RepositorySnapshotStore {
  load<State = unknown>(streamId: string): Promise<Snapshot<State> | undefined>;
  save<State>(snapshot: NewSnapshot<State>): Promise<unknown>;
  delete(streamId: string): Promise<unknown>;
  repositorySnapshots<A extends AnyAggregate>(options: RepositorySnapshotOptions<A>): RepositorySnapshots<A>;
}

/** The `snapshots` option of an `AggregateRepository`: snapshots for one aggregate type. */
export interface RepositorySnapshotOptions<A extends AnyAggregate = AnyAggregate> {
  /** A `SnapshotStore`. */
  readonly store: RepositorySnapshotStore;
  /** When to take a snapshot after a save. Defaults to `everyNEvents(100)`. */
  readonly policy?: SnapshotPolicy<A>;
  /**
   * The version of the state's shape (what `toSnapshot()` returns). Bump it when the shape changes:
   * older snapshots are then ignored, the aggregate is replayed from its events and snapshotted
   * again. Defaults to 1.
   */
  readonly schemaVersion?: number;
  /**
   * Snapshot failures never fail a load or a save: loading falls back to replaying the events, a
   * failed write is dropped. They are reported here. Defaults to an error line on the library's logger.
   */
  readonly onError?: (error: unknown, context: SnapshotErrorContext) => void;
  /**
   * Receives each background snapshot write, for runtimes that end work when the response is sent:
   * pass a Worker's `ctx.waitUntil.bind(ctx)`. Elsewhere, `repository.flushSnapshots()` awaits them.
   */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  /** The clock policies see, ms since the epoch. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/**
 * A snapshot the store could not read. `version` is its row's, when the store named it in a
 * `SnapshotCorruptError` (its state did not decode, the row itself did), else 0.
 */
class Unreadable {
  constructor(readonly version: number) {}
}

interface KnownSnapshot {
  readonly version: number;
  readonly at: number | undefined;
}

/** Snapshot-aware loading and automatic snapshots, for one repository. */
export class RepositorySnapshots<A extends AnyAggregate> {
  readonly #store: RepositorySnapshotStore;
  readonly #policy: SnapshotPolicy<A>;
  readonly #schemaVersion: number;
  readonly #onError: (error: unknown, context: SnapshotErrorContext) => void;
  readonly #waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly #now: () => number;
  readonly #known = new WeakMap<A, KnownSnapshot>();
  /**
   * The newest snapshot write started for each stream and not finished yet: the policy counts from
   * it, so the next command's save (on a fresh load, which found the older snapshot) does not take
   * another one a version later while a slower store is still writing the last. Holds only writes
   * in flight: each entry goes when its write ends (into `#known` if it succeeded).
   */
  readonly #writing = new Map<string, KnownSnapshot>();
  /** Aggregates loaded past a snapshot of a newer schema version (a rolling deploy): never snapshotted here. */
  readonly #newerSchema = new WeakSet<A>();
  readonly #pending = new Set<Promise<void>>();

  constructor(options: RepositorySnapshotOptions<A>) {
    assertOptions(options);
    this.#store = options.store;
    this.#policy = options.policy ?? (everyNEvents(100) as SnapshotPolicy<A>);
    this.#schemaVersion = options.schemaVersion ?? 1;
    this.#onError =
      options.onError ??
      ((error, context) =>
        getLogger().error(`snapshot ${context.operation} failed`, {
          operation: context.operation,
          streamId: context.streamId,
          ...(context.version === undefined ? {} : { version: context.version }),
          error,
        }));
    this.#waitUntil = options.waitUntil;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Restores the newest usable snapshot, then applies only the later events. Falls back to a full
   * replay when there is no snapshot, when it has another schema version, does not decode, is ahead
   * of the stream, or leaves a state the later events' handlers throw on; after a fallback from a bad or outdated snapshot it takes a fresh one. A
   * stream that reads as empty (deleted) loads as a fresh aggregate: no report, snapshots untouched.
   */
  async load(aggregate: A, create: () => A, streamId: string, store: EventStore): Promise<A> {
    const snapshot = await this.#latest(streamId);
    let resnapshot = snapshot instanceof Unreadable;
    let replaceAll = false;
    /** An older schema's snapshot: replaced after the replay, or deleted first if it is ahead of the stream. */
    let outdated: Snapshot | undefined;
    if (snapshot !== undefined && !(snapshot instanceof Unreadable)) {
      if (snapshot.schemaVersion === this.#schemaVersion) {
        const restored = await this.#fromSnapshot(aggregate, snapshot, streamId, store);
        if (typeof restored === "object") return restored;
        // The stream reads as empty (deleted, soft or hard): the load finds no aggregate, as without
        // snapshots. Not a snapshot fault, and a soft delete can be undone: the snapshots stay.
        if (restored === "absent") return create();
        resnapshot = true;
        // A snapshot ahead of its stream, or one the handlers cannot go on from, stays the newest until
        // deleted: every load would trip on it.
        replaceAll = restored === "stale";
        aggregate = create();
      } else {
        // Only an older shape is replaced: during a rolling deploy, old code must not overwrite the new one's,
        // neither now nor after a save of this aggregate (its policy would count from no snapshot at all).
        resnapshot = snapshot.schemaVersion < this.#schemaVersion;
        if (resnapshot) outdated = snapshot;
        else this.#newerSchema.add(aggregate);
      }
    }
    await aggregate.rehydrateAsync(store.readStream(streamId));
    if (outdated !== undefined && aheadOf(outdated, aggregate, streamId, this.#report.bind(this))) replaceAll = true;
    // Already reported as it failed to load; ahead of the stream, it would stay the newest like an outdated one.
    if (snapshot instanceof Unreadable && aggregate.version > 0 && snapshot.version > aggregate.version) {
      replaceAll = true;
    }
    if (replaceAll) this.#take(aggregate, streamId, true);
    else if (resnapshot && aggregate.version > 0) this.#take(aggregate, streamId);
    return aggregate;
  }

  /** The version of the snapshot the aggregate was restored from or last snapshotted at; 0 for none. */
  snapshotVersionOf(aggregate: A): number {
    return this.#known.get(aggregate)?.version ?? 0;
  }

  /** After a successful save: asks the policy, and takes a snapshot in the background if it says so. */
  afterSave(
    aggregate: A,
    streamId: string,
    previousVersion: number,
    result: AppendToStreamResult<EventEnvelope>,
  ): void {
    if (result.events.length === 0 || this.#newerSchema.has(aggregate)) return;
    const known = newer(this.#known.get(aggregate), this.#writing.get(streamId));
    let take: boolean;
    try {
      take = this.#policy({
        aggregate,
        streamId,
        version: result.nextExpectedVersion,
        previousVersion,
        events: result.events,
        lastSnapshotVersion: known?.version ?? 0,
        lastSnapshotAt: known?.at,
        now: this.#now(),
      });
    } catch (error) {
      this.#report(error, { operation: "policy", streamId, version: result.nextExpectedVersion });
      return;
    }
    // An async policy's promise is truthy: read as a yes, it snapshotted after every save.
    if (typeof take !== "boolean") {
      const message = `a policy returns true or false, got ${kindOf(take)}${(take as unknown) instanceof Promise ? " (policies are synchronous)" : ""}`;
      this.#report(new ValidationError("Invalid snapshot policy", [{ path: ["policy"], message }]), {
        operation: "policy",
        streamId,
        version: result.nextExpectedVersion,
      });
      return;
    }
    if (take) this.#take(aggregate, streamId);
  }

  /** Resolves once every snapshot write started so far has finished (or failed and been reported). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #latest(streamId: string): Promise<Snapshot | Unreadable | undefined> {
    try {
      return await this.#store.load(streamId);
    } catch (error) {
      // A bad stream id is the caller's mistake, not a snapshot failure: the event store says so too.
      if (isValidationError(error)) throw error;
      this.#report(error, { operation: "load", streamId });
      // A store of another copy of the library passes the code check: its version is only trusted as a number.
      return new Unreadable(isSnapshotCorruptError(error) && typeof error.version === "number" ? error.version : 0);
    }
  }

  async #fromSnapshot(
    aggregate: A,
    snapshot: Snapshot,
    streamId: string,
    store: EventStore,
  ): Promise<A | "failed" | "stale" | "absent"> {
    try {
      restoreOwned(aggregate, snapshot.version, snapshot.state);
    } catch (error) {
      this.#report(error, { operation: "restore", streamId, version: snapshot.version });
      return "failed";
    }
    // Reading from the snapshot's own version proves the stream still has that event: a snapshot
    // ahead of its stream (deleted, recreated, another store) would otherwise load a future state.
    // A stream truncated just after the snapshot (`before` = its version + 1, which applyRetention
    // keeps the snapshot for) starts at the next event instead: the snapshot holds what was removed.
    const events = store.readStream(streamId, { fromVersion: snapshot.version });
    const first = await events.next();
    const next = first.done ? undefined : first.value;
    if (next === undefined || (next.version !== snapshot.version && next.version !== snapshot.version + 1)) {
      await events.return(undefined);
      // A stream that reads as empty was deleted (soft: it may be restored, the snapshot with it), or it
      // never had events here (another store's snapshot, a wiped table): that snapshot is one ahead of
      // it, and once appends reach its version it would pass the check above with another history.
      const empty = next === undefined && (await isEmpty(store.readStream(streamId, { maxCount: 1 })));
      if (empty && (await store.streamDeletionEvent(streamId)) !== undefined) return "absent";
      const reason = empty
        ? "the stream has no events and was not deleted: the snapshot is of another history"
        : "the stream has no event at this version: was it truncated or recreated?";
      this.#report(new SnapshotCorruptError(streamId, snapshot.version, reason), {
        operation: "restore",
        streamId,
        version: snapshot.version,
      });
      return "stale";
    }
    try {
      await aggregate.rehydrateAsync(
        after(next.version === snapshot.version ? events : startingWith(next, events), snapshot.version),
      );
    } catch (error) {
      // The store's own errors (it is down, the stream is gone) are the load's, as without snapshots.
      // A handler that threw (a RehydrationError) met a state it cannot go on from (a value object
      // turned into a plain object by an older version, a shape changed without a schemaVersion bump):
      // reported, then the events decide. A fault of the handlers themselves fails the full replay
      // too, and reaches the caller.
      if (isEventFlowsError(error) && !isRehydrationError(error)) throw error;
      await events.return(undefined);
      this.#report(error, { operation: "restore", streamId, version: snapshot.version });
      return "stale";
    }
    this.#known.set(aggregate, { version: snapshot.version, at: Date.parse(snapshot.createdAt) });
    return aggregate;
  }

  /** Starts a snapshot write in the background; `replaceAll` first deletes the stream's other snapshots. */
  #take(aggregate: A, streamId: string, replaceAll = false): void {
    let snapshot: { version: number; state: unknown } | undefined;
    if (aggregate.version > 0) {
      try {
        snapshot = aggregate.toSnapshot();
      } catch (error) {
        this.#report(error, { operation: "save", streamId, version: aggregate.persistedVersion });
        // The snapshots to replace are still deleted: the loads after would trip on them again.
        if (!replaceAll) return;
      }
    }
    const version = snapshot?.version ?? 0;
    const at = this.#now();
    const started: KnownSnapshot = { version, at };
    if (snapshot !== undefined && (this.#writing.get(streamId)?.version ?? 0) < version) {
      this.#writing.set(streamId, started);
    }
    // Async so that a store whose save throws synchronously is reported like one that rejects.
    const write = (async () => {
      if (replaceAll) await this.#store.delete(streamId);
      if (snapshot === undefined) return;
      const createdAt = snapshotTime(at);
      await this.#store.save({
        streamId,
        version,
        state: snapshot.state,
        schemaVersion: this.#schemaVersion,
        // On the policies' clock: a later load reads it back as the last snapshot's time.
        ...(createdAt === undefined ? {} : { createdAt }),
      });
    })()
      .then(
        () => {
          if ((this.#known.get(aggregate)?.version ?? 0) < version) this.#known.set(aggregate, started);
        },
        (error: unknown) => this.#report(error, { operation: "save", streamId, version }),
      )
      .finally(() => {
        // A failed write is no snapshot: the policy counts from the last one stored again.
        if (this.#writing.get(streamId) === started) this.#writing.delete(streamId);
      });
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
    if (this.#waitUntil !== undefined) {
      try {
        this.#waitUntil(write);
      } catch (error) {
        this.#report(error, { operation: "save", streamId, version });
      }
    }
  }

  #report(error: unknown, context: SnapshotErrorContext): void {
    callHook("snapshot onError", this.#onError, error, context);
  }
}

/**
 * Whether an older-schema snapshot is ahead of the stream just replayed (its events were reset, say):
 * reported as stale, since the fresh snapshot, at a lower version, would never become the newest.
 */
function aheadOf(
  snapshot: Snapshot,
  aggregate: AnyAggregate,
  streamId: string,
  report: (error: unknown, context: SnapshotErrorContext) => void,
): boolean {
  if (aggregate.version === 0 || snapshot.version <= aggregate.version) return false;
  const reason = "the stream has no event at this version: was it truncated or recreated?";
  report(new SnapshotCorruptError(streamId, snapshot.version, reason), {
    operation: "restore",
    streamId,
    version: snapshot.version,
  });
  return true;
}

/**
 * The events after `version`. An upcaster that split the event at the snapshot's version yields
 * several events of that version: the snapshot holds them all, so none of them applies again.
 */
async function* after(events: AsyncGenerator<EventEnvelope>, version: number): AsyncGenerator<EventEnvelope> {
  for await (const event of events) if (event.version > version) yield event;
}

/** Whether `events` yields nothing; reads at most one. */
async function isEmpty(events: AsyncGenerator<EventEnvelope>): Promise<boolean> {
  const first = await events.next();
  await events.return(undefined);
  return first.done === true;
}

/** `first`, then the rest of `events`. */
async function* startingWith(
  first: EventEnvelope,
  events: AsyncGenerator<EventEnvelope>,
): AsyncGenerator<EventEnvelope> {
  yield first;
  yield* events;
}

/** The later of two snapshots (by version), either possibly absent. */
function newer(a: KnownSnapshot | undefined, b: KnownSnapshot | undefined): KnownSnapshot | undefined {
  return b === undefined || (a !== undefined && a.version >= b.version) ? a : b;
}

/** The state was just deserialized and belongs to nobody else: no defensive clone (it costs as much as decoding). */
function restoreOwned(aggregate: AnyAggregate, version: number, state: unknown): void {
  aggregate.restoreSnapshot({ version, state }, { owned: true });
}

const SNAPSHOT_OPTIONS = [
  "store",
  "policy",
  "schemaVersion",
  "onError",
  "waitUntil",
  "now",
] as const satisfies readonly (keyof RepositorySnapshotOptions)[];

function assertOptions(options: unknown): void {
  const o = options as Partial<RepositorySnapshotOptions> | null;
  const issues: Issue[] = [];
  if (typeof o !== "object" || o === null) {
    issues.push({ path: [], message: `expected { store, policy? }, got ${kindOf(o)}` });
  } else {
    // A misspelt key was dropped and its default taken: `polcy` snapshotted every 100 events.
    issues.push(...unknownKeyIssues(o, SNAPSHOT_OPTIONS));
    const store = o.store as Partial<RepositorySnapshotStore> | undefined;
    if (typeof store?.save !== "function" || typeof store.load !== "function") {
      issues.push({ path: ["store"], message: "must be a SnapshotStore" });
    }
    for (const key of ["policy", "onError", "waitUntil", "now"] as const) issues.push(...functionIssues(o[key], key));
    const schema = o.schemaVersion;
    if (schema !== undefined && !(typeof schema === "number" && Number.isSafeInteger(schema) && schema >= 0)) {
      issues.push({ path: ["schemaVersion"], message: `must be a non-negative integer, got ${kindOf(schema)}` });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid snapshot options", issues);
}
