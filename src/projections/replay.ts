import { MAX_CHECKPOINT_ID_LENGTH } from "../checkpoint/checkpoint-store.js";
import {
  type Issue,
  isAbortedError,
  isProjectionFailedError,
  isReadModelTransactionTooLargeError,
  isServiceError,
  ReplayFailedError,
  ValidationError,
} from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { categoryOf } from "../events/stream.js";
import { parseIsoTime } from "../internal/iso-time.js";
import { functionIssues, MAX_STREAM_ID_LENGTH, nameIssues, unknownKeyIssues } from "../internal/validate.js";
import { commitInHalves } from "./batch-split.js";
import {
  abortableSleep,
  feedOrigin,
  type Progress,
  ProgressMeter,
  progressOptionIssues,
  throwIfAborted,
  untilAborted,
} from "./progress.js";
import { assertDocument, assertKey, type ReadModelStore, type ReadModelWriter } from "./read-model-store.js";

/** What a replay's handler gets besides the event. */
export interface ReplayContext {
  /** Whether this is a dry run: then nothing the handler writes through `readModels` is written. */
  readonly dryRun: boolean;
  /**
   * Read models: reads see the store (`readModels` option) and, in a dry run, the writes the replay
   * has recorded so far; writes are made in the batch's transaction, or in a dry run only recorded.
   */
  readonly readModels: ReadModelWriter;
}

/** A write a dry run recorded instead of making: `document` undefined is a delete. */
export interface RecordedWrite {
  readonly collection: string;
  readonly id: string;
  readonly document: unknown;
}

export interface ReplayOptions<E extends EventEnvelope = EventEnvelope> {
  readonly eventStore: EventStore;
  /** Replay this one stream, in version order. */
  readonly stream?: string;
  /** Replay the streams of this category (`Cart` for `Cart-01J...`), over the global feed. */
  readonly category?: string;
  /**
   * Start after this position (exclusive): a stream version with `stream`, a global position
   * otherwise. Defaults to 0, the start.
   */
  readonly after?: number;
  /**
   * Stop at this position (inclusive): a stream version with `stream`, a global position otherwise.
   * Defaults to the end of the stream or feed. A dry run's `position` given here on the confirming
   * run replays exactly the events the dry run saw, not those appended since.
   */
  readonly to?: number;
  /**
   * Only events whose timestamp is at or after this time: a `Date`, or ISO 8601 text, a date (UTC
   * midnight) or a date-time with a zone (`Z`, `+01:00`, `+0100` or `+01`). The feed is still read from `after`:
   * this filters, it does not seek (give `after` as well to skip reading old history).
   */
  readonly since?: Date | string;
  readonly handle: (event: E, context: ReplayContext) => void | Promise<void>;
  /** Where the handler's writes go when `dryRun` is false (and what its reads see). */
  readonly readModels?: ReadModelStore;
  /** Defaults to true: the handler gets the events, nothing is written and no checkpoint moves. */
  readonly dryRun?: boolean;
  /**
   * A checkpoint in `readModels`: the replay starts after it (or after `after`, if further on) and,
   * not in a dry run, moves it after each batch (in the batch's transaction), so a replay started
   * again with it resumes there. A dry run reads it and leaves it. Not with `stream`.
   */
  readonly checkpoint?: string;
  /** At most this many events per second reach the handler. Unlimited when absent. */
  readonly eventsPerSecond?: number;
  /** Events read per batch (and per transaction when writing). Defaults to 100, at most 10,000. */
  readonly batchSize?: number;
  /** Stops the replay between two events with an `AbortedError`; what committed stays. */
  readonly signal?: AbortSignal;
  /** Called after each batch. */
  readonly onProgress?: (progress: Progress) => void;
}

export interface ReplayResult {
  /** Events read (after `after`). */
  readonly read: number;
  /** Events handed to the handler (those `since` let through). */
  readonly handled: number;
  /** Where the replay ended: a stream version with `stream`, a global position otherwise. */
  readonly position: number;
  readonly dryRun: boolean;
  /** Writes the handler made (or, in a dry run, would have made). */
  readonly writes: number;
  /** In a dry run, the first 1,000 writes recorded, in order; empty otherwise. */
  readonly recorded: readonly RecordedWrite[];
  readonly elapsedMs: number;
}

/** The most writes a dry run keeps in `recorded`. */
export const MAX_RECORDED_WRITES = 1000;

/**
 * Replays history to a handler: one stream, one category or the global feed, from a position and
 * optionally from a time. A dry run by default: the handler sees every event and its writes are
 * only recorded. Rate-limited with `eventsPerSecond`, cancellable with `signal`.
 * @throws {AbortedError} `signal` fired.
 * @throws {ReplayFailedError} the handler threw (its error is the `cause`); what committed before stays.
 * @throws {ValidationError} bad options.
 */
export async function replay<E extends EventEnvelope = EventEnvelope>(
  options: ReplayOptions<E>,
): Promise<ReplayResult> {
  const issues = replayIssues(options as unknown as ReplayOptions);
  if (issues.length > 0) throw new ValidationError("Invalid replay", issues);
  const { eventStore, stream, category, readModels, signal, checkpoint } = options;
  const dryRun = options.dryRun !== false;
  const batchSize = options.batchSize ?? 100;
  const since = options.since === undefined ? undefined : sinceTime(options.since);
  const operation = "replay";
  const started = Date.now();
  throwIfAborted(signal, operation);

  let position = options.after ?? 0;
  // A dry run starts from the checkpoint too (it previews the run that resumes there); only the writing
  // branch below moves it. What the checkpoint holds (none counts as 0): each batch's compare-and-set
  // expects it, not `after`, which may lie past it (a first run from a position, or one resumed further on).
  let saved = 0;
  if (checkpoint !== undefined && readModels !== undefined) {
    saved = (await untilAborted(readModels.checkpoints.load(checkpoint), signal, operation)) ?? 0;
    position = Math.max(position, saved);
  }
  const head = await untilAborted(
    stream === undefined ? eventStore.getLastGlobalPosition() : eventStore.getStreamVersion(stream),
    signal,
    operation,
  );
  const to = options.to;
  const meter = new ProgressMeter(
    await untilAborted(feedOrigin(eventStore, position, stream), signal, operation),
    to === undefined ? head : Math.min(head, to),
    started,
  );
  const recorder = new Recorder(readModels);
  const pacer = options.eventsPerSecond === undefined ? undefined : new Pacer(options.eventsPerSecond, started);
  let read = 0;
  let handled = 0;
  // Events per read: batchSize, or after a split the half that committed, growing back (doubling) as
  // the projection runner's batches do.
  let limit = batchSize;
  const positionOf = (event: EventEnvelope) => (stream === undefined ? (event.globalPosition ?? 0) : event.version);
  /** Hands the events to the handler through `writer`; resolves to how many it was handed. */
  const apply = async (events: readonly EventEnvelope[], writer: ReadModelWriter) => {
    let count = 0;
    for (const event of events) {
      throwIfAborted(signal, operation);
      if (category !== undefined && categoryOf(event.streamId) !== category) continue;
      if (since !== undefined && Date.parse(event.timestamp) < since) continue;
      await pacer?.next(signal);
      try {
        await options.handle(event as E, { dryRun, readModels: writer });
      } catch (error) {
        throw replayFailure(error, event, positionOf(event));
      }
      count++;
    }
    return count;
  };
  for (;;) {
    // No version follows the largest safe integer (and reading from one past it is refused).
    if (stream !== undefined && position >= Number.MAX_SAFE_INTEGER) break;
    const batch: EventEnvelope[] = [];
    const source =
      stream === undefined
        ? eventStore.readAll({ after: position, maxCount: limit })
        : eventStore.readStream(stream, { fromVersion: position + 1, maxCount: limit });
    let full = true;
    for await (const event of source) {
      if (to !== undefined && positionOf(event) > to) {
        full = false;
        break;
      }
      batch.push(event);
    }
    if (batch.length === 0) break;
    let events: readonly EventEnvelope[] = batch;
    if (dryRun || readModels === undefined) handled += await apply(batch, recorder.writer(dryRun));
    else {
      // One transaction per batch; one the store refuses as too large is committed in halves (the
      // rest read again next), as the projection runner does. Counted only once a part commits.
      const committed = await commitInHalves(
        batch,
        (part) =>
          readModels.transaction(async (tx) => {
            const writer = countingWriter(tx);
            const count = await apply(part, writer);
            const end = positionOf(part[part.length - 1] as EventEnvelope);
            if (checkpoint !== undefined) await tx.checkpoints.store(checkpoint, end, { expected: saved });
            return { count, writes: writer.writes };
          }),
        // One event's writes alone are more than the store commits at once: no split can help.
        (_event, error) => error,
      );
      events = committed.events;
      handled += committed.result.count;
      recorder.writes += committed.result.writes;
      saved = positionOf(events[events.length - 1] as EventEnvelope);
    }
    read += events.length;
    position = positionOf(events[events.length - 1] as EventEnvelope);
    meter.advance(events.length, position);
    if (meter.pastHead) meter.head = position;
    options.onProgress?.(meter.report());
    // Split: the rest of the batch is still to come, whatever this read's end said.
    if (events.length < batch.length) {
      limit = events.length;
      continue;
    }
    if (!full || batch.length < limit || (to !== undefined && position >= to)) break;
    limit = Math.min(batchSize, limit * 2);
  }
  return {
    read,
    handled,
    position,
    dryRun,
    writes: recorder.writes,
    recorded: recorder.recorded,
    elapsedMs: Date.now() - started,
  };
}

/**
 * What a handler's throw leaves `replay` as: a {@link ReplayFailedError} naming the event, its cause the
 * throw, as the projection runner names it in a `ProjectionFailedError`. As there, a retryable
 * `ServiceError` (the store, not the handler, failed: replay again from the checkpoint) and a transaction
 * too large (committed in halves) stay as they are, and so do an `AbortedError` (the signal, reported as
 * documented) and a `ProjectionFailedError` (a projection's handler run through replay, as the CLI does,
 * that already names its event).
 */
function replayFailure(error: unknown, event: EventEnvelope, position: number): unknown {
  if (
    (isServiceError(error) && error.retryable) ||
    isReadModelTransactionTooLargeError(error) ||
    isAbortedError(error) ||
    isProjectionFailedError(error)
  ) {
    return error;
  }
  return new ReplayFailedError(position, event.id, event.type, { cause: error });
}

/**
 * Hands events on at most `perSecond` a second: each is due one interval after the one before was
 * due, so a timer that fires a little late is made up for; one handed more than an interval late (a
 * slow handler or read) starts the schedule again from then. Time lost is not made up with a burst:
 * paced from the start alone, a handler that stalled for a minute got a minute's events at once.
 */
class Pacer {
  readonly #interval: number;
  #due: number;

  constructor(perSecond: number, started: number) {
    this.#interval = 1000 / perSecond;
    this.#due = started;
  }

  async next(signal: AbortSignal | undefined): Promise<void> {
    const wait = this.#due - Date.now();
    if (wait > 0) await abortableSleep(wait, signal, "replay");
    const now = Date.now();
    this.#due = (now - this.#due > this.#interval ? now : this.#due) + this.#interval;
  }
}

/** Counts writes; in a dry run keeps them in an overlay (so the handler reads its own) instead of writing. */
class Recorder {
  writes = 0;
  readonly recorded: RecordedWrite[] = [];
  readonly #overlay = new Map<string, RecordedWrite>();
  readonly #store: ReadModelStore | undefined;

  constructor(store: ReadModelStore | undefined) {
    this.#store = store;
  }

  /** A dry run's writer (or, without a store, one that refuses writes outside a dry run). */
  writer(dryRun: boolean): ReadModelWriter {
    const store = this.#store;
    const record = (collection: string, id: string, document: unknown) => {
      if (!dryRun) {
        throw new ValidationError("Replay without readModels", [
          { path: ["readModels"], message: "a replay that writes (dryRun: false) needs readModels" },
        ]);
      }
      const write = { collection, id, document: structuredClone(document) };
      this.#overlay.set(JSON.stringify([collection, id]), write);
      this.writes++;
      if (this.recorded.length < MAX_RECORDED_WRITES) this.recorded.push(write);
    };
    return {
      get: async <T>(collection: string, id: string) => {
        assertKey(collection, id);
        const staged = this.#overlay.get(JSON.stringify([collection, id]));
        if (staged !== undefined) return structuredClone(staged.document) as T | undefined;
        return store === undefined ? undefined : store.get<T>(collection, id);
      },
      // What the store would refuse is refused in a dry run too: it fails where the real run would.
      put: async (collection, id, document) => {
        // The store's own limits too (a document over DynamoDB's 400 KB): a store given as an object of
        // the port's shape, not the class, has the port's checks alone.
        if (typeof store?.checkPut === "function") await store.checkPut(collection, id, document);
        else assertDocument(collection, id, document);
        record(collection, id, document);
      },
      delete: async (collection, id) => {
        assertKey(collection, id);
        record(collection, id, undefined);
      },
    };
  }
}

/** Passes writes to `writer` and counts them in `writes` (a transaction's: counted once it commits). */
function countingWriter(writer: ReadModelWriter): ReadModelWriter & { writes: number } {
  const counting = {
    writes: 0,
    get: <T>(collection: string, id: string) => writer.get<T>(collection, id),
    put: async (collection: string, id: string, document: unknown) => {
      await writer.put(collection, id, document);
      counting.writes++;
    },
    delete: async (collection: string, id: string) => {
      await writer.delete(collection, id);
      counting.writes++;
    },
  };
  return counting;
}

const REPLAY_OPTIONS = [
  "eventStore",
  "stream",
  "category",
  "after",
  "to",
  "since",
  "handle",
  "readModels",
  "dryRun",
  "checkpoint",
  "eventsPerSecond",
  "batchSize",
  "signal",
  "onProgress",
] as const satisfies readonly (keyof ReplayOptions)[];

function replayIssues(options: ReplayOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  // A misspelt key was dropped for its default: `dryrun: false` ran a dry run, `categroy` replayed every category.
  const issues: Issue[] = unknownKeyIssues(options, REPLAY_OPTIONS);
  if (typeof options.eventStore?.readAll !== "function") {
    issues.push({ path: ["eventStore"], message: "eventStore must be an EventStore" });
  }
  issues.push(...functionIssues(options.handle, "handle", true));
  if (options.stream !== undefined && options.category !== undefined) {
    issues.push({ path: ["category"], message: "give a stream or a category, not both" });
  }
  if (options.stream !== undefined)
    issues.push(...nameIssues(options.stream, "stream id", MAX_STREAM_ID_LENGTH, ["stream"]));
  if (options.category !== undefined)
    issues.push(...nameIssues(options.category, "category", MAX_STREAM_ID_LENGTH, ["category"]));
  if (options.stream === undefined && options.eventStore?.capabilities?.globalOrder === false) {
    issues.push({ path: ["eventStore"], message: "this event store has no global feed: replay one stream" });
  }
  if (options.after !== undefined && (!Number.isSafeInteger(options.after) || options.after < 0)) {
    issues.push({ path: ["after"], message: "after must be a non-negative integer" });
  }
  if (options.to !== undefined && (!Number.isSafeInteger(options.to) || options.to < 0)) {
    issues.push({ path: ["to"], message: "to must be a non-negative integer" });
  } else if (options.to !== undefined && options.after !== undefined && options.to < options.after) {
    // An empty range is a mistake (the two swapped), not a replay that quietly handles nothing.
    issues.push({ path: ["to"], message: "to must not be below after" });
  }
  if (options.since !== undefined && Number.isNaN(sinceTime(options.since))) {
    issues.push({
      path: ["since"],
      message:
        "since must be a valid Date or an ISO 8601 date or date-time with a zone (2026-11-01, 2026-11-01T09:30:00Z)",
    });
  }
  const rate = options.eventsPerSecond;
  if (rate !== undefined && (typeof rate !== "number" || !Number.isFinite(rate) || rate <= 0)) {
    issues.push({ path: ["eventsPerSecond"], message: "eventsPerSecond must be a positive number" });
  }
  const size = options.batchSize;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 1 || size > 10_000)) {
    issues.push({ path: ["batchSize"], message: "batchSize must be an integer from 1 to 10,000" });
  }
  if (options.checkpoint !== undefined) {
    issues.push(...nameIssues(options.checkpoint, "checkpoint id", MAX_CHECKPOINT_ID_LENGTH, ["checkpoint"]));
    if (options.stream !== undefined)
      issues.push({ path: ["checkpoint"], message: "a stream replay has no checkpoint" });
    if (options.readModels === undefined)
      issues.push({ path: ["checkpoint"], message: "a checkpoint needs readModels" });
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
    issues.push({ path: ["dryRun"], message: "dryRun must be a boolean" });
  }
  if (options.readModels !== undefined && typeof options.readModels?.transaction !== "function") {
    issues.push({ path: ["readModels"], message: "readModels must be a ReadModelStore" });
  }
  issues.push(...progressOptionIssues(options));
  return issues;
}

/** `since` in milliseconds: a Date's time, or an ISO 8601 text's (NaN for anything else, as an invalid Date). */
function sinceTime(since: Date | string): number {
  if (since instanceof Date) return since.getTime();
  return typeof since === "string" ? (parseIsoTime(since) ?? Number.NaN) : Number.NaN;
}
