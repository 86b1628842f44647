import { AbortedError, type Issue } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import { functionIssues, kindOf, MAX_DELAY_MS } from "../internal/validate.js";

/** How far a long pass over the feed (a rebuild, a replay) is: what a progress bar shows. */
export interface Progress {
  /** Events read so far by this run (a resumed rebuild counts from where it resumed). */
  readonly done: number;
  /** Where the run is: a global position, or a stream version when replaying one stream. */
  readonly position: number;
  /**
   * Where the feed (or the replayed stream) ended when the run started, or a replay's `to` if lower;
   * raised to `position` once the run passes it (the end is not read again).
   */
  readonly head: number;
  /** Positions still to go: `head - position` (an estimate of events: global positions may have gaps). */
  readonly remaining: number;
  /** Events read per second by this run so far (less than a millisecond counts as one). */
  readonly eventsPerSecond: number;
  /**
   * Estimated milliseconds to `head`, at the rate this run has covered global positions so far (not
   * events: positions may have gaps, a PostgreSQL transaction takes a whole block); undefined before
   * the first position is covered, 0 once at `head`.
   */
  readonly etaMs: number | undefined;
  /** Milliseconds since this run started. */
  readonly elapsedMs: number;
}

/** @internal Counts events and time for `Progress` reports. */
export class ProgressMeter {
  readonly #started: number;
  readonly #from: number;
  #done = 0;
  #position: number;
  #head: number;

  constructor(position: number, head: number, now: number = Date.now()) {
    this.#started = now;
    this.#from = position;
    this.#position = position;
    this.#head = Math.max(head, position);
  }

  get head(): number {
    return this.#head;
  }

  /** Whether the position has passed the head seen so far (time to look at the feed's head again). */
  get pastHead(): boolean {
    return this.#position > this.#head;
  }

  set head(head: number) {
    this.#head = Math.max(head, this.#position);
  }

  advance(read: number, position: number): void {
    this.#done += read;
    this.#position = Math.max(this.#position, position);
  }

  report(now: number = Date.now()): Progress {
    const elapsedMs = Math.max(0, now - this.#started);
    const head = Math.max(this.#head, this.#position);
    const remaining = head - this.#position;
    // Under a millisecond counts as one (Date.now() has no finer grain): a fast store's first batch
    // reports a rate and an ETA, as a slower store's does, not 0 and undefined.
    const timed = Math.max(1, elapsedMs);
    const eventsPerSecond = this.#done === 0 ? 0 : (this.#done * 1000) / timed;
    const covered = this.#position - this.#from;
    const etaMs = covered > 0 ? Math.round((remaining * timed) / covered) : undefined;
    return { done: this.#done, position: this.#position, head, remaining, eventsPerSecond, etaMs, elapsedMs };
  }
}

/**
 * @internal Where a pass over the feed starts counting, for `etaMs`: just before the first event
 * after `after` (PostgreSQL's positions do not start at 1: counted from 0, the first batch seemed
 * to cover hundreds of millions of positions and the ETA read 0 from then on), or `after` itself for
 * one stream's versions. The ETA alone depends on it: a read that fails here leaves `after`, and
 * the pass meets the failure itself.
 */
export async function feedOrigin(
  eventStore: Pick<EventStore, "readAll">,
  after: number,
  stream?: string,
): Promise<number> {
  if (stream !== undefined) return after;
  try {
    for await (const event of eventStore.readAll({ after, maxCount: 1 })) {
      return Math.max(after, (event.globalPosition ?? after + 1) - 1);
    }
  } catch {
    // Not this function's to report (see above).
  }
  return after;
}

/**
 * @internal `work`, or an `AbortedError` for `operation` as soon as `signal` fires: for the reads
 * before a pass (a checkpoint, the feed's head), which take no signal, so that a database that does
 * not answer does not hold a cancelled run (a Ctrl-C) until its connect timeout. `work` is left to
 * settle on its own; what it settles with then is dropped.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, operation: string): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(operation, { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** @internal Throws an `AbortedError` for `operation` if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted) throw new AbortedError(operation, { cause: signal.reason });
}

/** @internal Waits `ms`, or rejects with an `AbortedError` as soon as `signal` fires. */
export async function abortableSleep(ms: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
  // A timer fires at once past 2^31-1 ms (a replay paced under one event in 24.8 days): longer waits go in steps.
  let left = ms;
  for (; left > MAX_DELAY_MS; left -= MAX_DELAY_MS) await timerSleep(MAX_DELAY_MS, signal, operation);
  return timerSleep(left, signal, operation);
}

function timerSleep(ms: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError(operation, { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError(operation, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * @internal The `signal` and `onProgress` options a rebuild or replay takes: an AbortSignal and a
 * function. Checked with the other options, so a wrong one is a ValidationError before anything is
 * read, not a TypeError after the first batch committed (or a signal that was never listened to).
 */
export function progressOptionIssues(options: { readonly signal?: unknown; readonly onProgress?: unknown }): Issue[] {
  const issues: Issue[] = [];
  const { signal, onProgress } = options;
  if (
    signal !== undefined &&
    (typeof signal !== "object" ||
      signal === null ||
      typeof (signal as { aborted?: unknown }).aborted !== "boolean" ||
      typeof (signal as { addEventListener?: unknown }).addEventListener !== "function")
  ) {
    issues.push({ path: ["signal"], message: `signal must be an AbortSignal, got ${kindOf(signal)}` });
  }
  issues.push(...functionIssues(onProgress, "onProgress"));
  return issues;
}
