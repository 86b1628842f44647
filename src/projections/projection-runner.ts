import { MAX_CHECKPOINT_ID_LENGTH } from "../checkpoint/checkpoint-store.js";
import {
  type Issue,
  isPayloadTooLargeError,
  isProjectionFailedError,
  isReadModelTransactionTooLargeError,
  isServiceError,
  isValidationError,
  ProjectionFailedError,
  ValidationError,
} from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import { readablePosition } from "../event-store/readable.js";
import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import { functionIssues, kindOf, MAX_DELAY_MS, nameIssues, unknownKeyIssues } from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import { commitInHalves } from "./batch-split.js";
import type { Projection } from "./projection.js";
import { InMemoryProjectionLock, lockIssues, type ProjectionLock } from "./projection-lock.js";
import { recordBatchLag, traceBatch } from "./projection-telemetry.js";
import { assertKey, type ReadModelKey, type ReadModelStore, type ReadModelTransaction } from "./read-model-store.js";

/**
 * How long an inline step waits for an append's events to become readable (on PostgreSQL, behind
 * transactions in flight on the server) before the append returns without them: such waits last
 * milliseconds, and only a transaction left open elsewhere reaches this bound.
 */
export const INLINE_WAIT_MS = 5_000;

/** Where a stateful projection's state is kept: in its read-model store, committed with its checkpoint. */
export const PROJECTION_STATE_COLLECTION = "projection-state";

export interface ProjectionRunnerOptions<E extends EventEnvelope = EventEnvelope, S = undefined> {
  readonly projection: Projection<E, S>;
  /** The store whose global feed (`readAll`) the projection follows. It must have a global order. */
  readonly eventStore: EventStore;
  /** Where the handler writes, and where the checkpoint and state are kept, in the same transaction. */
  readonly readModels: ReadModelStore;
  /**
   * The lease that keeps one runner of this projection active: share it between the runners that
   * compete (a backend lock across processes). Defaults to an in-memory lock of this runner's own.
   */
  readonly lock?: ProjectionLock;
  /** This runner's name in the lock. Defaults to a random UUID. */
  readonly owner?: string;
  /**
   * Events read and applied per transaction once caught up, and by inline steps; given without
   * `maxBatchSize`, every batch's size. At most 10,000. Defaults to the read-model store's
   * `capabilities.defaultBatchSize` (PostgreSQL: 1,000), else 100.
   */
  readonly batchSize?: number;
  /**
   * How large catch-up batches are: `catchUp()`, and a started runner once it holds the lease, read
   * this many events at first; a batch that comes back short (caught up) sets the size back to
   * `batchSize`, so batches while following the feed stay `batchSize` events, and after a full batch
   * (the feed had more) the next one reads twice as many events, up to this. At most 10,000, at
   * least `batchSize`. Defaults to `batchSize` when that is given; with neither, to the read-model
   * store's `capabilities.maxBatchSize` (PostgreSQL: 10,000) when that is above the default
   * `batchSize`, else `batchSize` (every batch one size). Inline steps read `batchSize`.
   * A catch-up holds two batches at a time (the one applied, the next read ahead), and `stop()` waits
   * for the batch in hand: a larger cap holds more events in memory and may take longer to stop.
   */
  readonly maxBatchSize?: number;
  /** How often to look for events appended by other processes when caught up. Defaults to 500 ms. */
  readonly pollIntervalMs?: number;
  /** How often a standby runner tries to take the lease. Defaults to 1,000 ms. */
  readonly standbyPollMs?: number;
  /** How long a lease lasts unless renewed (the active runner renews it once a third has passed). Defaults to 30,000 ms; at most 2,147,483,647. */
  readonly leaseMs?: number;
  /** Wait before retrying after a transient failure (the store, a lost race). Defaults to 1,000 ms. */
  readonly retryDelayMs?: number;
  /** Told when the handler fails and the runner stops. Defaults to an error line on the library's logger. */
  readonly onFailure?: (error: ProjectionFailedError) => void;
  /** Told about transient failures, which are retried. Defaults to an error line on the library's logger. */
  readonly onError?: (error: unknown) => void;
  /** Called after each committed batch. */
  readonly onBatch?: (batch: BatchResult) => void;
  /**
   * Inline: while this runner is started and active, every append through `eventStore` (this
   * instance) waits in its after-commit step until the projection has taken it in, so the read model
   * is current when `appendToStream` returns (on PostgreSQL that waits, as `whenCaughtUp` does, for
   * older transactions still in flight on the server). The events are committed first either way: a
   * handler failure stops the runner (`onFailure`), it does not fail the append. Defaults to false.
   */
  readonly inline?: boolean;
  /**
   * `false` turns this runner's spans off. Defaults to true: each batch that reads events gets a
   * `projection <name>` span whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

export interface BatchResult {
  /** Events read: the checkpoint moved past them, whether the filters took them or not. */
  readonly read: number;
  /** Events the handler handled. */
  readonly handled: number;
  /** The checkpoint after the batch. */
  readonly position: number;
}

export interface ProjectionLag {
  /** The projection's checkpoint: the global position of the last event it has taken into account. */
  readonly position: number;
  /** The global position of the newest event in the store. */
  readonly head: number;
  /** Positions still to process: `head - position`. */
  readonly behind: number;
}

/**
 * Runs a projection asynchronously over the store's global feed: reads a batch after the
 * checkpoint, hands the events its filters take to the handler, and commits the handler's writes,
 * the state and the new checkpoint (compare-and-set) in one read-model transaction. A handler that
 * throws rolls its batch back and stops the runner with a `ProjectionFailedError`: no event is
 * skipped. `start()` follows the feed until `stop()`, as the active runner or as a standby;
 * `catchUp()` processes what is there and returns (for schedules and serverless functions).
 */
export class ProjectionRunner<E extends EventEnvelope = EventEnvelope, S = undefined> {
  readonly projection: Projection<E, S>;
  readonly #store: EventStore;
  readonly #readModels: ReadModelStore;
  readonly #lock: ProjectionLock;
  readonly #owner: string;
  readonly #checkpointId: string;
  readonly #settings: Settings;
  readonly #onFailure: (error: ProjectionFailedError) => void;
  readonly #onError: (error: unknown) => void;
  readonly #onBatch: ((batch: BatchResult) => void) | undefined;
  readonly #progress = new Set<() => void>();
  #position = 0;
  #active = false;
  /** When this runner last took or renewed the lease (while active). */
  #leasedAt = Number.NEGATIVE_INFINITY;
  #failure: ProjectionFailedError | undefined;
  #loop: Promise<void> | undefined;
  #stopped = true;
  #wake: (() => void) | undefined;
  /** Set by a commit through the store (watchAppends) since the loop's last batch began. */
  #woken = false;
  /** Batches run one at a time: the background loop and the inline step share this chain. */
  #serial: Promise<unknown> = Promise.resolve();
  /** Settles once the started loop has first tried for the lease: the inline step waits for it. */
  #firstTry: Promise<void> = Promise.resolve();
  #triedFirst: () => void = () => undefined;
  readonly #inline: boolean;
  readonly #traced: boolean;

  constructor(options: ProjectionRunnerOptions<E, S>) {
    const issues = optionIssues(options as Omit<ProjectionRunnerOptions, "projection"> & { projection: unknown });
    if (issues.length > 0) throw new ValidationError("Invalid projection runner", issues);
    this.projection = options.projection;
    this.#store = options.eventStore;
    this.#readModels = options.readModels;
    this.#lock = options.lock ?? new InMemoryProjectionLock();
    this.#owner = options.owner ?? crypto.randomUUID();
    this.#checkpointId = projectionCheckpointId(options.projection.name);
    const batchSize = options.batchSize ?? defaultBatchSize(options.readModels);
    this.#settings = {
      batchSize,
      maxBatchSize: options.maxBatchSize ?? catchUpBatchSize(options.readModels, options.batchSize, batchSize),
      pollIntervalMs: options.pollIntervalMs ?? 500,
      standbyPollMs: options.standbyPollMs ?? 1000,
      leaseMs: options.leaseMs ?? 30_000,
      retryDelayMs: options.retryDelayMs ?? 1000,
    };
    const name = options.projection.name;
    this.#onFailure =
      options.onFailure ?? ((error) => getLogger().error(`projection "${name}" stopped`, { projection: name, error }));
    this.#onError =
      options.onError ??
      ((error) => getLogger().error(`projection "${name}" failed; retrying`, { projection: name, error }));
    this.#onBatch = options.onBatch;
    this.#inline = options.inline === true;
    this.#traced = options.telemetry !== false;
  }

  /** Whether this runner holds the lease (is the active one). */
  get active(): boolean {
    return this.#active;
  }

  /** Whether `start()` was called and the runner has not stopped since. */
  get running(): boolean {
    return this.#loop !== undefined && !this.#stopped;
  }

  /** The checkpoint as this runner last saw it. */
  get position(): number {
    return this.#position;
  }

  /** The failure that stopped this runner, if one did; cleared by `start()` and `catchUp()`. */
  get failure(): ProjectionFailedError | undefined {
    return this.#failure;
  }

  /** Follows the feed in the background until `stop()` or a handler failure. */
  start(): void {
    if (this.#loop !== undefined) throw new ValidationError("This projection runner is already running");
    this.#stopped = false;
    this.#failure = undefined;
    this.#firstTry = new Promise((resolve) => {
      this.#triedFirst = resolve;
    });
    const unwatch = this.#store.watchAppends(() => {
      this.#woken = true;
      this.#wake?.();
    });
    const unstep = this.#inline
      ? this.#store.afterEachCommit((committed) => this.#inlineStep(committed))
      : () => undefined;
    const loop = this.#run().finally(() => {
      unwatch();
      unstep();
      // A loop that ended by itself (a handler failure) lets the runner be started again.
      if (this.#loop === loop) this.#loop = undefined;
    });
    this.#loop = loop;
  }

  /** Stops after the batch in hand commits (or rolls back), releases the lease, resolves when done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  /**
   * Takes the lease if it is free, processes every batch there is, releases it. Resolves to what was
   * done, or to undefined when another runner holds the lease.
   * @throws {ProjectionFailedError} the handler threw; the batch rolled back.
   */
  async catchUp(): Promise<{ readonly read: number; readonly position: number } | undefined> {
    if (this.#loop !== undefined) throw new ValidationError("This projection runner is running; stop() it first");
    this.#failure = undefined;
    if (!(await this.#lock.acquire(this.projection.name, this.#owner, this.#settings.leaseMs))) return undefined;
    this.#active = true;
    this.#leasedAt = Date.now();
    const { maxBatchSize, leaseMs } = this.#settings;
    try {
      let read = 0;
      let ahead: ReadAhead | undefined;
      // A catch-up starts at the largest batch: whoever calls it expects the projection to be behind,
      // and each batch pays a transaction (PostgreSQL: 2,000 events in one instead of two).
      let limit = maxBatchSize;
      for (;;) {
        let next: ReadAhead | undefined;
        // After the first batch the position is the one this runner committed: the next read starts
        // from it while the batch commits (the checkpoint's compare-and-set still guards the commit).
        const batch = await this.#batch(false, limit, ahead, (n) => {
          next = n;
        });
        ahead = next;
        read += batch.read;
        // A batch split in halves (too large for one transaction) is full at the size that committed.
        if (batch.read < batch.limit) return { read, position: this.#position };
        limit = this.#grown(batch.limit);
        // Renewed once a third of the lease has passed, not per batch: a round trip saved per batch,
        // and two thirds of the lease still to go when a batch starts (the checkpoint's
        // compare-and-set stops a batch whose lease was lost anyway); a batch that runs longer
        // renews it as it goes (#keepLease).
        if (Date.now() - this.#leasedAt >= leaseMs / 3) {
          this.#leasedAt = Date.now();
          await this.#lock.acquire(this.projection.name, this.#owner, leaseMs);
        }
      }
    } catch (error) {
      if (isProjectionFailedError(error)) this.#fail(error);
      throw error;
    } finally {
      this.#active = false;
      await this.#lock.release(this.projection.name, this.#owner);
    }
  }

  /**
   * Resolves once the projection's checkpoint (whichever runner moves it) has reached the newest
   * event committed at the time of the call (`getHeadPosition`): every append that returned before
   * the call is projected, on PostgreSQL too while older transactions are still in flight.
   * @throws {ProjectionFailedError} this runner stopped on a handler failure before getting there.
   */
  async whenCaughtUp(): Promise<void> {
    const target = await this.#store.getHeadPosition();
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      const position = (await this.#readModels.checkpoints.load(this.#checkpointId)) ?? 0;
      if (position >= target) return;
      await new Promise<void>((resolve) => {
        const progress = this.#progress;
        const timer = setTimeout(done, this.#settings.pollIntervalMs);
        function done() {
          clearTimeout(timer);
          progress.delete(done);
          resolve();
        }
        progress.add(done);
      });
    }
  }

  /** How far behind the newest committed event (`getHeadPosition`) the projection's checkpoint is, in global positions. */
  async lag(): Promise<ProjectionLag> {
    const [head, position] = await Promise.all([
      this.#store.getHeadPosition(),
      this.#readModels.checkpoints.load(this.#checkpointId),
    ]);
    const at = position ?? 0;
    return { position: at, head, behind: Math.max(0, head - at) };
  }

  async #run(): Promise<void> {
    const { name } = this.projection;
    const { batchSize, maxBatchSize, pollIntervalMs, standbyPollMs, leaseMs, retryDelayMs } = this.#settings;
    // The next batch, read while the last one committed (as in catchUp); dropped whenever the lease
    // is not held or a batch fails, and by #batch when another batch moved the checkpoint meanwhile.
    let ahead: ReadAhead | undefined;
    this.#leasedAt = Number.NEGATIVE_INFINITY;
    // Taking the lease starts a catch-up, at the largest batch (as catchUp does); the first short
    // batch sets the size back to batchSize, and full ones make it grow again while they come.
    let limit = maxBatchSize;
    try {
      while (!this.#stopped) {
        try {
          // Renewed once a third of the lease has passed while active, as in catchUp (not a round
          // trip per batch); a standby tries at every turn, and an error makes the next turn renew.
          // An inline runner renews at every turn as before: that wait is what lets the append's own
          // step take its events in ahead of the woken loop.
          if (this.#inline || !this.#active || Date.now() - this.#leasedAt >= leaseMs / 3) {
            try {
              this.#active = await this.#lock.acquire(name, this.#owner, leaseMs);
            } finally {
              this.#triedFirst();
            }
            if (this.#active) this.#leasedAt = Date.now();
          }
          if (!this.#active) {
            ahead = undefined;
            limit = maxBatchSize;
            await this.#pause(standbyPollMs);
            continue;
          }
          let next: ReadAhead | undefined;
          const told = this.#woken;
          this.#woken = false;
          const batch = await this.#serialBatch(false, limit, ahead, (n) => {
            next = n;
          });
          ahead = next;
          const full = batch.read === batch.limit;
          limit = full ? this.#grown(batch.limit) : batchSize;
          if (!full && !this.#woken) {
            // Caught up: wait for the next poll, or less when the lease is due for renewal first (a
            // poll longer than the lease let it lapse while the runner waited, and a standby took over).
            const waitMs = Math.min(pollIntervalMs, Math.max(0, this.#leasedAt + leaseMs / 3 - Date.now()));
            // Woken by a commit, and the batch found nothing: on PostgreSQL a transaction in flight
            // elsewhere can hide the commit from readers. Read again once readers reach the newest
            // committed event (short polls), for at most that wait, rather than at the next poll.
            // (One query more per such wake-up; none when the batch read anything.)
            const head = told && !this.#inline && batch.read === 0 ? await this.#store.getHeadPosition() : 0;
            if (head > batch.position) {
              await readablePosition(this.#store, head, Date.now() + waitMs, () => this.#stopped || this.#woken);
            } else await this.#pause(waitMs);
          }
        } catch (error) {
          ahead = undefined;
          limit = batchSize;
          this.#leasedAt = Number.NEGATIVE_INFINITY;
          if (isProjectionFailedError(error)) {
            this.#fail(error);
            break;
          }
          callHook("onError", this.#onError, error);
          await this.#pause(retryDelayMs);
        }
      }
    } finally {
      this.#triedFirst();
      this.#stopped = true;
      this.#active = false;
      await this.#lock.release(name, this.#owner).catch((error: unknown) => callHook("onError", this.#onError, error));
      this.#notify();
    }
  }

  /**
   * The inline step: catch up now, as the active runner, past the append's events; a standby leaves
   * it to the active one. On PostgreSQL the feed's readers stop below older transactions still in
   * flight (anyone's, on the same server), so the append's committed events may not be readable yet:
   * the step then reads again until they are, as `whenCaughtUp` waits (a transaction left open keeps
   * the append waiting; `stop()` or a lost lease ends the wait).
   */
  async #inlineStep(committed: readonly EventEnvelope[]): Promise<void> {
    const halted = () => this.#stopped || !this.#active;
    await this.#firstTry;
    if (halted()) return;
    const target = committed.reduce((last, event) => Math.max(last, event.globalPosition ?? 0), 0);
    try {
      await this.#inlineCatchUp();
      if (this.#position >= target || halted()) return;
      const readable = await readablePosition(this.#store, target, Date.now() + INLINE_WAIT_MS, halted);
      if (halted()) return;
      if (readable < target) {
        // Appends must not hang on someone else's long transaction: the loop takes the events in
        // once they are readable, and the warning says why the read model lagged this append.
        getLogger().warn(
          `projection "${this.projection.name}": an inline append returned before its events were readable`,
          {
            projection: this.projection.name,
            position: target,
            waitedMs: INLINE_WAIT_MS,
          },
        );
        return;
      }
      // Once a catch-up made after the readers passed the events has run, the step is done even short
      // of them (a stream soft-deleted meanwhile hides its events from the feed).
      await this.#inlineCatchUp();
    } catch (error) {
      if (isProjectionFailedError(error)) {
        this.#fail(error);
        this.#stopped = true;
        this.#wake?.();
      } else callHook("onError", this.#onError, error);
    }
  }

  /**
   * Inline batches until one comes back short: the feed as far as its readers see it now. After a
   * batch split in halves the next grows back, doubling, to `batchSize`.
   */
  async #inlineCatchUp(): Promise<void> {
    const { batchSize } = this.#settings;
    let batch = await this.#serialBatch(true, batchSize);
    while (batch.read === batch.limit && !this.#stopped) {
      batch = await this.#serialBatch(true, Math.min(batchSize, this.#grown(batch.limit)));
    }
  }

  #serialBatch(
    inline: boolean,
    limit: number,
    ahead?: ReadAhead,
    readNext?: (ahead: ReadAhead | undefined) => void,
  ): Promise<RanBatch> {
    // A read ahead from a position that is no longer this runner's (an inline step ran a batch
    // in between) is dropped: the batch reads from the checkpoint instead.
    const next = this.#serial.then(() =>
      this.#batch(inline, limit, ahead !== undefined && ahead.from === this.#position ? ahead : undefined, readNext),
    );
    this.#serial = next.catch(() => undefined);
    return next;
  }

  /**
   * One batch in one read-model transaction: read up to `limit` events after the checkpoint (`ahead`
   * holds them when they were read while the batch before committed), handle, move the checkpoint.
   * `readNext` is handed the next batch's read, started while this one commits, or undefined when
   * this one was split (that read is for a size that no longer applies).
   */
  async #batch(
    inline: boolean,
    limit: number,
    ahead?: ReadAhead,
    readNext?: (ahead: ReadAhead | undefined) => void,
  ): Promise<RanBatch> {
    // Once failed, no batch runs until the runner is started again.
    if (this.#failure !== undefined) throw this.#failure;
    const released = this.#keepLease();
    try {
      return await this.#runBatch(inline, limit, ahead, readNext);
    } finally {
      await released();
    }
  }

  async #runBatch(
    inline: boolean,
    asked: number,
    ahead: ReadAhead | undefined,
    readNext: ((ahead: ReadAhead | undefined) => void) | undefined,
  ): Promise<RanBatch> {
    const projection = this.projection;
    const from = ahead?.from ?? (await this.#readModels.checkpoints.load(this.#checkpointId)) ?? 0;
    let events: readonly EventEnvelope[] = await (ahead?.events ?? this.#read(from, asked));
    let limit = asked;
    let position = events[events.length - 1]?.globalPosition ?? from;
    if (readNext !== undefined && events.length === limit) {
      // The next batch's read runs while this one commits; if this one fails, it is dropped unseen.
      const next = this.#read(position, this.#grown(limit));
      next.catch(() => undefined);
      readNext({ from: position, events: next });
    }
    let handled = 0;
    if (events.length > 0) {
      const committed = await commitInHalves(
        events,
        (part) => {
          const to = part[part.length - 1]?.globalPosition ?? from;
          const bounds = { projection: projection.name, from, to, inline };
          return traceBatch(this.#traced, part, bounds, () => this.#apply(part, from, to));
        },
        // One event's writes alone are more than the store commits at once: no split can help, and
        // the same event would write the same again. The handler's failure, as a document too large.
        (event, error) =>
          new ProjectionFailedError(projection.name, event.globalPosition ?? 0, event.id, event.type, { cause: error }),
        // The read ahead was for the larger batch: the next one reads from the half's end instead.
        () => readNext?.(undefined),
      );
      handled = committed.result;
      // Split: the half that committed is the batch (the rest is read again by the next batch, which
      // grows back from this size as any batch does).
      if (committed.events.length < events.length) {
        events = committed.events;
        limit = events.length;
        position = events[events.length - 1]?.globalPosition ?? from;
      }
    }
    this.#position = position;
    const batch = { read: events.length, handled, position };
    await recordBatchLag(this.#store, projection.name, events, position, limit);
    this.#notify();
    // The batch has committed: a hook that throws must not make it look failed.
    if (batch.read > 0 && this.#onBatch !== undefined) callHook("onBatch", this.#onBatch, batch);
    return { ...batch, limit };
  }

  /**
   * Handles the events and commits the handler's writes, the state and the checkpoint (from `from`
   * to `position`) in one read-model transaction; resolves to the number of events handled.
   */
  #apply(events: readonly EventEnvelope[], from: number, position: number): Promise<number> {
    const projection = this.projection;
    return this.#readModels.transaction(async (tx) => {
      const move = () => tx.checkpoints.store(this.#checkpointId, position, { expected: from });
      // Where the checkpoint commits with the documents, its compare-and-set goes out with the
      // batch's first read (one round trip less on PostgreSQL, where the two are pipelined): a
      // conflict or a handler failure rolls both back alike. Elsewhere it must follow the writes.
      const early = this.#readModels.capabilities.atomicCheckpoints;
      if (early) await Promise.all([this.#preload(tx, events), move()]);
      else await this.#preload(tx, events);
      let state = (await this.#loadState(tx)) as S;
      // The last event whose handler returned the state: blamed if the state cannot be stored.
      let stateFrom: EventEnvelope | undefined;
      // The last event handled: blamed instead when no handler returned a state (one changed it in place).
      let last: EventEnvelope | undefined;
      let handled = 0;
      for (const event of events) {
        if (!projection.matches(event)) continue;
        try {
          const next = await projection.handle(event, { readModels: tx, state });
          if (projection.stateful && next !== undefined) {
            state = next as S;
            stateFrom = event;
          }
        } catch (error) {
          // A store that is briefly unavailable is retried, and one that counts writes as they come
          // refuses too many at the write that passes its limit: the batch is split, as at the commit.
          // Anything else is the handler's failure.
          if ((isServiceError(error) && error.retryable) || isReadModelTransactionTooLargeError(error)) throw error;
          const at = event.globalPosition ?? 0;
          throw new ProjectionFailedError(projection.name, at, event.id, event.type, { cause: error });
        }
        handled++;
        last = event;
      }
      if (projection.stateful && handled > 0) await this.#saveState(tx, state, stateFrom ?? last);
      if (!early) await move();
      return handled;
    });
  }

  /**
   * Renews the lease while a batch runs, once a third of it has passed since it was last taken or
   * renewed, as between batches: a large catch-up batch or a slow handler keeps it. The returned
   * function stops renewing and resolves once a renewal under way has landed, so none lands after
   * the runner releases the lease. A renewal that fails goes to `onError`; the batch goes on (its
   * checkpoint's compare-and-set still stops it if another runner took over).
   */
  #keepLease(): () => Promise<void> {
    const { leaseMs } = this.#settings;
    const third = leaseMs / 3;
    let renewing: Promise<unknown> = Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let released = false;
    const arm = () => {
      // At most a timer's limit ahead: past it, setTimeout would fire at once (tick checks again).
      const wait = Math.min(MAX_DELAY_MS, Math.max(0, this.#leasedAt + third - Date.now()));
      timer = setTimeout(tick, wait);
    };
    const tick = () => {
      if (Date.now() - this.#leasedAt < third) return arm();
      this.#leasedAt = Date.now();
      // One renewal at a time, the next timed from when this one settles: a lock slower than a third
      // of the lease queued one renewal per tick behind the last, and the release waited out them all.
      // Through a promise: a lock of the application's may answer, or throw, synchronously.
      renewing = Promise.resolve()
        .then(() => this.#lock.acquire(this.projection.name, this.#owner, leaseMs))
        .catch((error: unknown) => callHook("onError", this.#onError, error))
        .finally(() => {
          if (!released) arm();
        });
    };
    arm();
    return async () => {
      released = true;
      clearTimeout(timer);
      await renewing;
    };
  }

  /**
   * Stores the state the batch ended with. A state that is not JSON data (a NaN, a function) fails the
   * projection at the last event whose handler returned it, like a handler error: the same events would
   * make the same state, so retrying the batch could never succeed.
   */
  async #saveState(tx: ReadModelTransaction, state: S, from: EventEnvelope | undefined): Promise<void> {
    try {
      await tx.put(PROJECTION_STATE_COLLECTION, this.projection.name, state);
    } catch (error) {
      // Too large for the store (DynamoDB's item) is the same: the same events would make it again.
      if (!(isValidationError(error) || isPayloadTooLargeError(error)) || from === undefined) throw error;
      throw new ProjectionFailedError(this.projection.name, from.globalPosition ?? 0, from.id, from.type, {
        cause: error,
      });
    }
  }

  #read(after: number, limit: number): Promise<EventEnvelope[]> {
    return this.#store.readFeedBatch(after, limit);
  }

  /** The size of the batch after a full one of `limit` events: twice as many, up to `maxBatchSize`. */
  #grown(limit: number): number {
    return Math.min(limit * 2, this.#settings.maxBatchSize);
  }

  /**
   * Loads what the batch's handlers will read (the projection's `prefetch` keys and its state) in
   * one go, where the store has a bulk read. A `prefetch` that throws or answers something that is
   * not a valid key fails the projection at that event, like its handler would (not a failure to
   * retry: the same event would give the same key).
   */
  async #preload(tx: ReadModelTransaction, events: readonly EventEnvelope[]): Promise<void> {
    const projection = this.projection;
    const prefetch = projection.prefetch;
    if (prefetch === undefined || tx.preload === undefined) return;
    // Deduplicated by collection, then id: no key string built per event.
    const keys: ReadModelKey[] = [];
    const seen = new Map<string, Set<string>>();
    const add = (collection: string, id: string, check: boolean) => {
      let ids = seen.get(collection);
      if (ids?.has(id)) return;
      // A new key from `prefetch` is checked here, at its event, as the transaction's preload would.
      if (check) assertKey(collection, id);
      if (ids === undefined) {
        ids = new Set();
        seen.set(collection, ids);
      }
      ids.add(id);
      keys.push({ collection, id });
    };
    if (projection.stateful) add(PROJECTION_STATE_COLLECTION, projection.name, false);
    for (const event of events) {
      if (!projection.matches(event)) continue;
      try {
        const key = prefetch(event);
        if (key === undefined) continue;
        if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== "string" || typeof key[1] !== "string") {
          throw new ValidationError("Invalid prefetch key", [
            { path: ["prefetch"], message: "prefetch returns [collection, id] or undefined" },
          ]);
        }
        add(key[0], key[1], true);
      } catch (error) {
        throw new ProjectionFailedError(projection.name, event.globalPosition ?? 0, event.id, event.type, {
          cause: error,
        });
      }
    }
    if (keys.length > 0) await tx.preload(keys);
  }

  async #loadState(tx: ReadModelTransaction): Promise<unknown> {
    const projection = this.projection;
    if (!projection.stateful) return undefined;
    const saved = await tx.get(PROJECTION_STATE_COLLECTION, projection.name);
    return saved === undefined ? structuredClone(projection.initialState) : saved;
  }

  #fail(error: ProjectionFailedError): void {
    // The loop and the inline step may both meet the failure: report it once.
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#notify();
    callHook("onFailure", this.#onFailure, error);
  }

  #notify(): void {
    for (const done of this.#progress) done();
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const timer = setTimeout(done, ms);
      const wake = () => {
        clearTimeout(timer);
        done();
      };
      this.#wake = wake;
      function done() {
        resolve();
      }
    });
  }
}

/** A committed batch, and the size it was read at (`limit`: the size asked for, or the half it was split to). */
interface RanBatch extends BatchResult {
  readonly limit: number;
}

/** A batch read ahead: the position it reads after and the read under way. */
interface ReadAhead {
  readonly from: number;
  readonly events: Promise<EventEnvelope[]>;
}

interface Settings {
  readonly batchSize: number;
  readonly maxBatchSize: number;
  readonly pollIntervalMs: number;
  readonly standbyPollMs: number;
  readonly leaseMs: number;
  readonly retryDelayMs: number;
}

/** An integer from 1 to 10,000: what `batchSize` and `maxBatchSize` may be. */
export function isBatchSize(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1 && value <= 10_000;
}

/** The store's own default where it gives a valid one (a third-party store, or none given, may not), else 100. */
function defaultBatchSize(readModels: ReadModelStore): number {
  const size = (readModels as ReadModelStore | null | undefined)?.capabilities?.defaultBatchSize;
  return isBatchSize(size) ? size : 100;
}

/**
 * `maxBatchSize` when none is given: a `batchSize` given alone is every batch's size (what its caller
 * asked for); with neither, the store's `capabilities.maxBatchSize` where it gives a valid one above
 * the batch size, else the batch size (no larger catch-up batches).
 */
export function catchUpBatchSize(readModels: ReadModelStore, given: number | undefined, batchSize: number): number {
  if (given !== undefined) return batchSize;
  const size = (readModels as ReadModelStore | null | undefined)?.capabilities?.maxBatchSize;
  return isBatchSize(size) ? Math.max(size, batchSize) : batchSize;
}

/** The checkpoint id a projection's position is stored under. */
export function projectionCheckpointId(name: string): string {
  return `projection:${name}`;
}

/**
 * @internal What a runner runs: a projection made by `projection()`, an event store with a global
 * order, a read-model store. A rebuild asks too, before `restart` drops a shadow: the runner it
 * makes would refuse them only after that.
 */
export function runnerTargetIssues(options: {
  readonly projection?: unknown;
  readonly eventStore?: unknown;
  readonly readModels?: unknown;
}): Issue[] {
  const issues: Issue[] = [];
  const p = options.projection as { matches?: unknown; handle?: unknown } | undefined;
  if (typeof p?.matches !== "function" || typeof p.handle !== "function") {
    issues.push({ path: ["projection"], message: "projection must be made by projection({ ... })" });
  }
  const eventStore = options.eventStore as Partial<EventStore> | null | undefined;
  if (typeof eventStore?.readAll !== "function") {
    issues.push({ path: ["eventStore"], message: "eventStore must be an EventStore" });
  } else if (!eventStore.capabilities?.globalOrder) {
    issues.push({ path: ["eventStore"], message: "this event store has no global order to follow" });
  }
  if (typeof (options.readModels as Partial<ReadModelStore> | null | undefined)?.transaction !== "function") {
    issues.push({ path: ["readModels"], message: "readModels must be a ReadModelStore" });
  }
  return issues;
}

/**
 * Waits are timers: past setTimeout's limit one fires at once, and a runner (or a rebuild waiting for
 * the lease) would poll in a tight loop. The issue of each number of `keys` over {@link MAX_DELAY_MS};
 * what is no number is the caller's own issue.
 */
export function waitBoundIssues<K extends string>(
  options: { readonly [key in K]?: unknown },
  keys: readonly K[],
): Issue[] {
  const issues: Issue[] = [];
  for (const key of keys) {
    const value = options[key];
    if (typeof value === "number" && value > MAX_DELAY_MS) {
      issues.push({ path: [key], message: `${key} must be at most ${MAX_DELAY_MS} ms` });
    }
  }
  return issues;
}

const RUNNER_OPTIONS = [
  "projection",
  "eventStore",
  "readModels",
  "lock",
  "owner",
  "batchSize",
  "maxBatchSize",
  "pollIntervalMs",
  "standbyPollMs",
  "leaseMs",
  "retryDelayMs",
  "onFailure",
  "onError",
  "onBatch",
  "inline",
  "telemetry",
] as const satisfies readonly (keyof ProjectionRunnerOptions)[];

function optionIssues(options: Omit<ProjectionRunnerOptions, "projection"> & { projection: unknown }): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  // A misspelt key was dropped and its default taken: `maxBatch: 50` read 100 events a batch.
  const issues = [...unknownKeyIssues(options, RUNNER_OPTIONS), ...runnerTargetIssues(options)];
  for (const key of [
    "batchSize",
    "maxBatchSize",
    "pollIntervalMs",
    "standbyPollMs",
    "leaseMs",
    "retryDelayMs",
  ] as const) {
    const value = options[key];
    const min = key === "batchSize" || key === "maxBatchSize" || key === "leaseMs" ? 1 : 0;
    if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)) {
      issues.push({ path: [key], message: `${key} must be an integer of at least ${min}` });
    }
  }
  for (const key of ["batchSize", "maxBatchSize"] as const) {
    const value = options[key];
    if (typeof value === "number" && value > 10_000) {
      issues.push({ path: [key], message: `${key} must be at most 10,000` });
    }
  }
  // At least the batch size the runner will use (given, or the store's default); a bad one is its own issue.
  const { maxBatchSize } = options;
  const batchSize = options.batchSize ?? defaultBatchSize(options.readModels);
  if (isBatchSize(maxBatchSize) && isBatchSize(batchSize)) {
    if (maxBatchSize < batchSize) {
      issues.push({ path: ["maxBatchSize"], message: `maxBatchSize must be at least batchSize (${batchSize})` });
    }
  }
  // The lease too, as a rebuild's: a third of it is the renewal timer's wait.
  issues.push(...waitBoundIssues(options, ["pollIntervalMs", "standbyPollMs", "leaseMs", "retryDelayMs"]));
  issues.push(...collaboratorIssues(options));
  return issues;
}

/**
 * What the runner calls or branches on later, checked when it is made as a rebuild's are: a lock
 * without `acquire` failed the first catch-up with a TypeError, an empty owner failed every lease
 * attempt, a hook that is no function was logged as a throwing hook at every batch, and `inline:
 * "yes"` or `telemetry: "off"` were read as false and true.
 */
function collaboratorIssues(options: Omit<ProjectionRunnerOptions, "projection">): Issue[] {
  const issues = [...lockIssues(options.lock)];
  if (options.owner !== undefined) {
    issues.push(...nameIssues(options.owner, "owner", MAX_CHECKPOINT_ID_LENGTH, ["owner"]));
  }
  for (const key of ["onBatch", "onError", "onFailure"] as const) issues.push(...functionIssues(options[key], key));
  for (const key of ["inline", "telemetry"] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== "boolean") {
      issues.push({ path: [key], message: `${key} must be a boolean, got ${kindOf(value)}` });
    }
  }
  return issues;
}
