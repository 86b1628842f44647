import { type EventPages, type EventReader, eventsOf, pagesOf } from "../event-store/read-pages.js";
import type { EventEnvelope } from "../events/envelope.js";

/** Events a decrypting reader reads and decrypts ahead of its consumer once decryption needs promises. */
const READ_AHEAD = 16;

/** One event decrypted: without a promise when its keys are cached and usable synchronously. */
export type DecryptEvent = (event: EventEnvelope) => EventEnvelope | Promise<EventEnvelope>;
/** One event decrypted without a promise, or `undefined` (nothing started) when it needs one. */
export type DecryptEventNow = (event: EventEnvelope) => EventEnvelope | undefined;

type Result = IteratorResult<EventEnvelope, void>;
type PageResult = IteratorResult<readonly EventEnvelope[], void>;
const DONE: IteratorReturnResult<void> = { value: undefined, done: true };

/**
 * A store's pages decrypted. While every event decrypts without a promise, each page is decrypted
 * in one step: no promise per event (on a 1,000-event read the per-event reader's promises cost more
 * than the AES-GCM calls). From the first event that needs a promise (a key to fetch, Web Crypto),
 * the rest of the read goes event by event through {@link decryptingEvents}, reading ahead. A failed
 * decryption hands out the events before it, then releases the store's read and reports the error.
 */
export function decryptingPages(pages: EventPages, now: DecryptEventNow, later: DecryptEvent): EventPages {
  let rest: EventPages | undefined;
  let failure: { readonly error: unknown } | undefined;
  let ended = false;
  const fail = (error: unknown): Promise<never> => {
    ended = true;
    const rethrow = () => Promise.reject(error);
    return pages.return(undefined).then(rethrow, rethrow);
  };
  const decrypted = (result: PageResult): PageResult | Promise<PageResult> => {
    if (result.done === true) return result;
    const page = result.value;
    const out: EventEnvelope[] = [];
    for (let i = 0; i < page.length; i++) {
      let event: EventEnvelope | undefined;
      try {
        event = now(page[i] as EventEnvelope);
      } catch (error) {
        if (out.length === 0) return fail(error);
        failure = { error };
        return { value: out, done: false };
      }
      if (event === undefined) {
        rest = pagesOf(decryptingEvents(eventsOf(startingWith(page.slice(i), pages)), later));
        return out.length > 0 ? { value: out, done: false } : rest.next();
      }
      out.push(event);
    }
    return { value: out, done: false };
  };
  const reader = {
    next: (): Promise<PageResult> => {
      if (rest !== undefined) return rest.next();
      if (failure !== undefined) return fail(failure.error).finally(() => (failure = undefined));
      if (ended) return Promise.resolve(DONE);
      return pages.next().then(decrypted);
    },
    return: (): Promise<PageResult> => {
      ended = true;
      return (rest ?? pages).return(undefined);
    },
    throw: (error?: unknown) => reader.return().then(() => Promise.reject(error)),
    [Symbol.asyncIterator]: () => reader,
  };
  return reader as unknown as EventPages;
}

/** `first` as a page of its own, then `pages`; returning returns `pages`. */
function startingWith(first: readonly EventEnvelope[], pages: EventPages): EventPages {
  let given = false;
  const out = {
    next: (): Promise<PageResult> => {
      if (given) return pages.next();
      given = true;
      return Promise.resolve({ value: first, done: false });
    },
    return: () => pages.return(undefined),
    throw: (error?: unknown) => pages.throw(error),
    [Symbol.asyncIterator]: () => out,
  };
  return out as unknown as EventPages;
}

/**
 * `decrypt` over a reader, in order. While every event decrypts without a promise (its keys cached,
 * synchronous AES-GCM here), each is read and decrypted in turn. From the first that needs one (a key
 * to fetch, Web Crypto), it reads up to {@link READ_AHEAD} events ahead and decrypts them at once: each
 * Web Crypto call is an asynchronous hop that costs far more than the AES itself, and calls in flight
 * together share that cost (one at a time, reads took 2-4x as long). The store's reader is still asked
 * for one event at a time.
 */
export function decryptingEvents(events: EventReader, decrypt: DecryptEvent): EventReader {
  const queue: Promise<Result>[] = [];
  let reads: Promise<unknown> = Promise.resolve();
  let ended = false;
  let failed = false;
  let ahead = false;
  const read = (): Promise<Result> => {
    const next = reads.then((): Promise<Result> | Result => (ended ? DONE : events.next()));
    reads = next.then(
      (result) => {
        if (result.done === true) ended = true;
      },
      () => {
        ended = true;
      },
    );
    return next;
  };
  const pull = () => {
    const decrypted = read().then((result): Promise<Result> | Result =>
      result.done === true ? result : settled(decrypt(result.value)),
    );
    // Read ahead, so possibly never asked for: its failure is reported when (if) it is.
    decrypted.catch(() => undefined);
    queue.push(decrypted);
  };
  const stop = (): Promise<Result> => {
    ended = true;
    queue.length = 0;
    return reads.then(() => events.return(undefined));
  };
  const fail = (error: unknown): Promise<Result> => {
    // A failed decryption ends the read: release the store's cursor, then report it.
    failed = true;
    const rethrow = () => Promise.reject(error);
    return stop().then(rethrow, rethrow);
  };
  const inTurn = (result: Result): Promise<Result> | Result => {
    if (result.done === true) return result;
    const event = decrypt(result.value);
    if (!(event instanceof Promise)) return { value: event, done: false };
    ahead = true;
    return settled(event);
  };
  const reader = {
    next: (): Promise<Result> => {
      if (failed) return Promise.resolve(DONE);
      if (!ahead) return read().then(inTurn).catch(fail);
      while (queue.length < READ_AHEAD && !ended) pull();
      const head = queue.shift();
      if (head === undefined) return Promise.resolve(DONE);
      return head.catch(fail);
    },
    return: stop,
    throw: (error?: unknown) => stop().then(() => Promise.reject(error)),
    [Symbol.asyncIterator]: () => reader,
  };
  return reader as unknown as EventReader;
}

/** A decrypted event as a reader's result, whether it came with or without a promise. */
function settled(event: EventEnvelope | Promise<EventEnvelope>): Result | Promise<Result> {
  return event instanceof Promise ? event.then((value) => ({ value, done: false })) : { value: event, done: false };
}
