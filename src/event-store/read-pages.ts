/**
 * Reads as pages of events inside the core, flattened into events once, at the outermost layer.
 * Each layer a read passes through (the store's paging, the deletion filter, upcasting, the span and
 * slow-call timing) would otherwise cost every event another round of promises: an async generator
 * wrapping another takes several microtask hops per event, which on Node made a 10,000-event
 * PostgreSQL read a third slower than the store's own pages. Over pages a layer costs one step per
 * page, and the one flattening step costs one resolved promise per event.
 */
import type { EventEnvelope } from "../events/envelope.js";

/** A read as pages of events, in read order. Like any store reader, one `next()` at a time. */
export type EventPages = AsyncGenerator<readonly EventEnvelope[], void, undefined>;
/** A read event by event: what `readStream` and `readAll` return. */
export type EventReader = AsyncGenerator<EventEnvelope, void, undefined>;

const DONE: IteratorReturnResult<void> = { value: undefined, done: true };

/**
 * An event-by-event reader as pages of one event, for stores that read one event at a time: an
 * iterator object (one `then` per event), not a generator.
 */
export function pagesOf(events: EventReader): EventPages {
  const toPage = (result: IteratorResult<EventEnvelope, void>): IteratorResult<readonly EventEnvelope[], void> =>
    result.done === true ? result : { value: [result.value], done: false };
  const pages = {
    next: () => events.next().then(toPage),
    return: () => events.return(undefined).then(() => DONE),
    throw: (error?: unknown) => events.throw(error).then(toPage),
    [Symbol.asyncIterator]: () => pages,
  };
  return pages as unknown as EventPages;
}

/**
 * Pages made synchronously by `take`, one call per page, until it returns undefined: for stores that
 * hold their events in memory, whose reads then cost no promise per event below the reader (an async
 * generator yielding event by event costs several, which made in-memory reads ~4x slower).
 */
export function pagesFrom(take: () => readonly EventEnvelope[] | undefined): EventPages {
  let done = false;
  const pages = {
    next: (): Promise<IteratorResult<readonly EventEnvelope[], void>> => {
      if (done) return Promise.resolve(DONE);
      try {
        const page = take();
        if (page !== undefined) return Promise.resolve({ value: page, done: false });
        done = true;
        return Promise.resolve(DONE);
      } catch (error) {
        done = true;
        return Promise.reject(error);
      }
    },
    return: () => {
      done = true;
      return Promise.resolve(DONE);
    },
    throw: (error?: unknown) => {
      done = true;
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]: () => pages,
  };
  return pages as unknown as EventPages;
}

/** A page that failed midway: the events made before the failure, then the error. */
export class PageFailure {
  constructor(
    readonly before: readonly EventEnvelope[],
    readonly error: unknown,
  ) {}
}

/**
 * Each page of `pages` through `map`. A map that fails midway returns a {@link PageFailure}: the
 * events before the failure are handed out, then the store's read is released and the error reported,
 * as an event-by-event reader would have.
 */
export function mapPages(
  pages: EventPages,
  map: (page: readonly EventEnvelope[]) => readonly EventEnvelope[] | PageFailure,
): EventPages {
  let failure: unknown;
  let failed = false;
  const fail = (error: unknown): Promise<never> => {
    const rethrow = () => Promise.reject(error);
    return pages.return(undefined).then(rethrow, rethrow);
  };
  const mapped = (result: IteratorResult<readonly EventEnvelope[], void>) => {
    if (result.done === true) return result;
    const value = map(result.value);
    if (!(value instanceof PageFailure)) return { value, done: false as const };
    if (value.before.length === 0) return fail(value.error);
    failed = true;
    failure = value.error;
    return { value: value.before, done: false as const };
  };
  const out = {
    next: () => (failed ? fail(failure) : pages.next().then(mapped)),
    return: () => pages.return(undefined),
    throw: (error?: unknown) => pages.throw(error),
    [Symbol.asyncIterator]: () => out,
  };
  return out as unknown as EventPages;
}

/**
 * Each stored event of `pages` through a reader's `check` (a tenant's, `TenantEventStore`), before
 * anything else sees it: an event the check refuses is never decrypted or upcast (an upcaster, the
 * application's code, would be handed it, and its error would name it). The events before a refused
 * one are handed out, then the store's read is released and the refusal reported.
 */
export function checkedPages(pages: EventPages, check: (event: EventEnvelope) => void): EventPages {
  return mapPages(pages, (page) => {
    for (let i = 0; i < page.length; i++) {
      try {
        check(page[i] as EventEnvelope);
      } catch (error) {
        return new PageFailure(page.slice(0, i), error);
      }
    }
    return page;
  });
}

/** What a flattened read reports, for its span and slow-call check (see `EventStore#observedRead`). */
export interface ReadObserver {
  /** Whether to time the waits on pages (`storeMs`). */
  readonly timed: boolean;
  /** Called when the first event is asked for. */
  start(): void;
  /**
   * Called once, when a started read ends: `"read"` to its end, `"stopped"` by the reader, or
   * `"error"` with the error. `storeMs` is the time spent waiting on pages, `count` the events handed out.
   */
  end(outcome: "read" | "stopped" | "error", count: number, storeMs: number, error?: unknown): void;
}

/**
 * The pages as one event reader. An iterator object rather than an async generator: within a page
 * an event costs one resolved promise. With an observer, it hears when the read starts and ends.
 */
export function eventsOf(pages: EventPages, observer?: ReadObserver): EventReader {
  let page: readonly EventEnvelope[] = [];
  let index = 0;
  let count = 0;
  let storeMs = 0;
  let started = false;
  let ended = false;
  const timed = observer?.timed === true;
  const end = (outcome: "read" | "stopped" | "error", error?: unknown) => {
    if (ended) return;
    ended = true;
    page = [];
    if (started) observer?.end(outcome, count, storeMs, error);
  };
  const next = (): Promise<IteratorResult<EventEnvelope, void>> => {
    if (ended) return Promise.resolve(DONE);
    if (index < page.length) {
      const event = page[index++] as EventEnvelope;
      count++;
      return Promise.resolve({ value: event, done: false });
    }
    if (!started) {
      started = true;
      observer?.start();
    }
    const asked = timed ? performance.now() : 0;
    return pages.next().then(
      (result) => {
        if (timed) storeMs += performance.now() - asked;
        if (result.done === true) {
          end("read");
          return DONE;
        }
        page = result.value;
        index = 0;
        return next();
      },
      (error: unknown) => {
        end("error", error);
        throw error;
      },
    );
  };
  const stop = (): Promise<IteratorResult<EventEnvelope, void>> => {
    if (ended) return Promise.resolve(DONE);
    return pages.return(undefined).then(
      () => {
        end("stopped");
        return DONE;
      },
      (error: unknown) => {
        end("stopped");
        throw error;
      },
    );
  };
  const reader = {
    next,
    return: stop,
    throw: (error?: unknown) => stop().then(() => Promise.reject(error)),
    [Symbol.asyncIterator]: () => reader,
  };
  return reader as unknown as EventReader;
}
