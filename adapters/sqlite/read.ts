import type { EventEnvelope, EventPages, ReadAllOptions, ReadStreamOptions } from "../../src/index.js";
import type { SqliteStoreContext } from "./append.js";
import type { SqliteRow } from "./driver.js";
import { fromRow } from "./encode.js";
import { guard } from "./errors.js";

/** SQLite integers are 64-bit; a bound past any real version keeps the parameter an integer. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

/**
 * Reads in pages by keyset (the last row's version or position), so no statement stays open while
 * the caller works through a page: a synchronous driver's connection is free between pages.
 */
function paged(
  fetch: (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>,
  pageSize: number,
  maxCount: number,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return new PagedReader(fetch, pageSize, maxCount);
}

/**
 * The reader {@link paged} returns: an async generator by hand, not an `async function*`. Every
 * event of a page already fetched comes from a `next()` that resolves at once, without a
 * generator's suspend, resume and await of each yielded value: measured on bun:sqlite, a 10,000-event
 * stream read 10% faster. Rows become envelopes as they are handed out. Calls that overlap (which
 * for-await never makes) wait for the one before them, as a generator's queue would.
 */
class PagedReader implements AsyncGenerator<EventEnvelope, void, undefined> {
  readonly #fetch: (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>;
  readonly #pageSize: number;
  #remaining: number;
  #rows: SqliteRow[] = [];
  #index = 0;
  #cursor: EventEnvelope | undefined;
  /** No page after the current one: the last was short, the count is reached, or the reader was closed. */
  #last = false;
  #pending: Promise<unknown> | undefined;

  constructor(
    fetch: (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>,
    pageSize: number,
    maxCount: number,
  ) {
    this.#fetch = fetch;
    this.#pageSize = pageSize;
    this.#remaining = maxCount;
    this.#last = maxCount <= 0;
  }

  next(): Promise<IteratorResult<EventEnvelope, void>> {
    if (this.#pending !== undefined) return this.#after(this.#pending, () => this.next());
    if (this.#index < this.#rows.length) return Promise.resolve(this.#take());
    if (this.#last) return Promise.resolve(DONE);
    const limit = Math.min(this.#pageSize, this.#remaining);
    const page = this.#fetch(this.#cursor, limit).then(
      (rows) => {
        this.#rows = rows;
        this.#index = 0;
        if (rows.length < limit || limit === this.#remaining) this.#last = true;
      },
      (error: unknown) => {
        this.#close();
        throw error;
      },
    );
    this.#pending = page;
    return page.then(
      () => {
        this.#pending = undefined;
        return this.#index < this.#rows.length ? this.#take() : DONE;
      },
      (error: unknown) => {
        this.#pending = undefined;
        throw error;
      },
    );
  }

  return(): Promise<IteratorResult<EventEnvelope, void>> {
    this.#close();
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<EventEnvelope, void>> {
    this.#close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #take(): IteratorResult<EventEnvelope, void> {
    const event = fromRow(this.#rows[this.#index++] as SqliteRow);
    this.#cursor = event;
    this.#remaining -= 1;
    return { value: event, done: false };
  }

  #close(): void {
    this.#last = true;
    this.#rows = [];
    this.#index = 0;
  }

  #after<T>(pending: Promise<unknown>, then: () => Promise<T>): Promise<T> {
    return pending.then(then, then);
  }
}

const DONE: IteratorResult<EventEnvelope, void> = Object.freeze({ value: undefined, done: true });

type Fetch = (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>;

function streamFetch(context: SqliteStoreContext, streamId: string, options: ReadStreamOptions): Fetch {
  const backward = options.direction === "backward";
  const statement = backward ? context.statements.readBackward : context.statements.readForward;
  const first = Math.min(options.fromVersion ?? (backward ? MAX_VERSION : 1), MAX_VERSION);
  return (cursor, limit) =>
    guard("readStream", context.driver.name, () => {
      const from = cursor === undefined ? first : backward ? cursor.version - 1 : cursor.version + 1;
      return context.driver.all(statement, [streamId, from, streamId, limit]);
    });
}

function feedFetch(context: SqliteStoreContext, options: ReadAllOptions): Fetch {
  return (cursor, limit) =>
    guard("readAll", context.driver.name, () =>
      context.driver.all(context.statements.readAll, [cursor?.globalPosition ?? options.after ?? 0, limit]),
    );
}

/** The stream's events one by one (what `readStreamEvents` gives). */
export function readStreamEvents(
  context: SqliteStoreContext,
  streamId: string,
  options: ReadStreamOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return paged(
    streamFetch(context, streamId, options),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

/** The feed's events one by one (what `readAllEvents` gives). */
export function readAllEvents(
  context: SqliteStoreContext,
  options: ReadAllOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return paged(feedFetch(context, options), context.readPageSize, options.maxCount ?? Number.POSITIVE_INFINITY);
}

/**
 * Pages as fetched, for the core's read layers, which then take a step per page instead of a
 * promise per event (see `EventStore.readStreamPages`).
 */
async function* pages(fetch: Fetch, pageSize: number, maxCount: number): EventPages {
  let remaining = maxCount;
  let cursor: EventEnvelope | undefined;
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining);
    const rows = await fetch(cursor, limit);
    if (rows.length === 0) return;
    const page = rows.map(fromRow);
    cursor = page[page.length - 1];
    remaining -= page.length;
    yield page;
    if (rows.length < limit) return;
  }
}

export function readStreamPages(context: SqliteStoreContext, streamId: string, options: ReadStreamOptions): EventPages {
  return pages(
    streamFetch(context, streamId, options),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

export function readAllPages(context: SqliteStoreContext, options: ReadAllOptions): EventPages {
  return pages(feedFetch(context, options), context.readPageSize, options.maxCount ?? Number.POSITIVE_INFINITY);
}

export function lastPosition(context: SqliteStoreContext): Promise<number> {
  return guard("getLastGlobalPosition", context.driver.name, async () => {
    const [row] = await context.driver.all(context.statements.lastPosition);
    return Number(row?.position ?? 0);
  });
}
