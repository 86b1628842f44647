import type { EventEnvelope } from "../events/envelope.js";
import { recordError, type Span } from "../telemetry/spans.js";
import type { ReadCheck } from "./read-check.js";

/** What an observed read reports when it ends: the span (if any), the time spent waiting on the store, the count. */
export type ReadFinish = (span: Span | undefined, storeMs: number, count: number) => void;

const DONE: IteratorResult<EventEnvelope, void> = Object.freeze({ value: undefined, done: true });

/**
 * A store's read with its span (started at the first event asked for, ended after the last, so it
 * includes the reader's own time between events), the time spent waiting on the store, and the
 * caller's {@link ReadCheck} on each event. An async generator by hand, not an `async function*`:
 * each event costs one promise reaction on the store's `next()` instead of a generator's suspend,
 * resume and await of the yielded value (on Node 22, a 10,000-event SQLite read spent more in that
 * layer than in the store's own reader). Stopped early (`return()`), or failing a check, it releases
 * the store's cursor; a reader stopped before it asked for anything never started, as a generator.
 */
export class ObservedRead implements AsyncGenerator<EventEnvelope, void, undefined> {
  readonly #events: AsyncGenerator<EventEnvelope, void, undefined>;
  readonly #check: ReadCheck | undefined;
  readonly #start: () => Span | undefined;
  readonly #finish: ReadFinish;
  #span: Span | undefined;
  #started = false;
  #ended = false;
  #count = 0;
  #storeMs = 0;

  constructor(
    events: AsyncGenerator<EventEnvelope, void, undefined>,
    check: ReadCheck | undefined,
    start: () => Span | undefined,
    finish: ReadFinish,
  ) {
    this.#events = events;
    this.#check = check;
    this.#start = start;
    this.#finish = finish;
  }

  next(): Promise<IteratorResult<EventEnvelope, void>> {
    if (this.#ended) return Promise.resolve(DONE);
    if (!this.#started) {
      this.#started = true;
      this.#span = this.#start();
    }
    const asked = performance.now();
    return this.#events.next().then(
      (next) => {
        this.#storeMs += performance.now() - asked;
        if (next.done === true) {
          this.#span?.setAttribute("eventflows.outcome", "read");
          this.#end();
          return DONE;
        }
        try {
          this.#check?.(next.value);
        } catch (error) {
          // A refused event is never handed out; the store's cursor is released, then the error thrown.
          return this.#fail(error, true);
        }
        this.#count++;
        return next as IteratorResult<EventEnvelope, void>;
      },
      (error: unknown) => {
        this.#storeMs += performance.now() - asked;
        return this.#fail(error, false);
      },
    );
  }

  async return(): Promise<IteratorResult<EventEnvelope, void>> {
    if (this.#started && !this.#ended) {
      this.#ended = true;
      try {
        await this.#events.return(undefined);
      } finally {
        this.#report();
      }
    }
    this.#ended = true;
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<EventEnvelope, void>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async #fail(error: unknown, release: boolean): Promise<never> {
    this.#ended = true;
    if (this.#span !== undefined) {
      this.#span.setAttribute("eventflows.outcome", "error");
      recordError(this.#span, error);
    }
    try {
      if (release) await this.#events.return(undefined);
    } finally {
      this.#report();
    }
    throw error;
  }

  #end(): void {
    this.#ended = true;
    this.#report();
  }

  #report(): void {
    this.#span?.setAttribute("eventflows.event_count", this.#count);
    this.#finish(this.#span, this.#storeMs, this.#count);
  }
}
