import {
  type EventEnvelope,
  type EventPages,
  eventsOf,
  type ReadAllOptions,
  type ReadStreamOptions,
} from "../../src/index.js";
import type { SqliteStoreContext } from "./append.js";
import type { SqliteRow } from "./driver.js";
import { fromRow } from "./encode.js";
import { guard } from "./errors.js";

/** SQLite integers are 64-bit; a bound past any real version keeps the parameter an integer. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

type Fetch = (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>;

function streamFetch(context: SqliteStoreContext, streamId: string, options: ReadStreamOptions): Fetch {
  const backward = options.direction === "backward";
  const statement = backward ? context.statements.readBackward : context.statements.readForward;
  const first = Math.min(options.fromVersion ?? (backward ? MAX_VERSION : 1), MAX_VERSION);
  const budget = context.readPageBytes;
  return (cursor, limit) =>
    guard("readStream", context.driver.name, () => {
      const from = cursor === undefined ? first : backward ? cursor.version - 1 : cursor.version + 1;
      return context.driver.all(statement, [
        ...[streamId, from, limit],
        ...[streamId, from, streamId],
        ...[budget, streamId, from, limit, budget],
      ]);
    });
}

function feedFetch(context: SqliteStoreContext, options: ReadAllOptions): Fetch {
  const budget = context.readPageBytes;
  return (cursor, limit) =>
    guard("readAll", context.driver.name, () => {
      const after = cursor?.globalPosition ?? options.after ?? 0;
      return context.driver.all(context.statements.readAll, [after, limit, after, budget, after, limit, budget]);
    });
}

/** The stream's events one by one (what `readStreamEvents` gives). */
export function readStreamEvents(
  context: SqliteStoreContext,
  streamId: string,
  options: ReadStreamOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return eventsOf(readStreamPages(context, streamId, options));
}

/** The feed's events one by one (what `readAllEvents` gives). */
export function readAllEvents(
  context: SqliteStoreContext,
  options: ReadAllOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return eventsOf(readAllPages(context, options));
}

/**
 * Reads in pages by keyset (the last row's version or position), so no statement stays open while
 * the caller works through a page: a synchronous driver's connection is free between pages. A page
 * holds at most `readPageSize` events and ends early at `readPageBytes` (see the statements).
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
    // Short of `limit`: the end, unless the byte budget cut the page before rows still there.
    if (rows.length < limit && rows.length >= Number(rows[0]?.available ?? 0)) return;
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
