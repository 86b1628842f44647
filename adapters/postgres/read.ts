import {
  type EventEnvelope,
  type EventPages,
  type ReadAllOptions,
  type ReadStreamOptions,
  STREAM_LIFECYCLE_STREAM,
  StreamLifecycleEventType,
} from "../../src/index.js";
import type { StoreContext } from "./append.js";
import type { PostgresQueryable } from "./client.js";
import { guardReconnecting } from "./errors.js";
import { MAX_VERSION } from "./position.js";
import { type FeedRow, fromFeedRow, fromStreamRow, type StreamRow } from "./rows.js";

// Every read takes \`retry\`: whether a statement whose connection was lost runs once more on a
// fresh one (a client, yes; a transaction, whose connection is gone, no).

/**
 * How pages grow: each page after the first asks for `PAGE_GROWTH` times as many rows as the one
 * before, up to `PAGE_GROWTH_LIMIT` times `readPageSize`. A long read then makes few round trips
 * (10,000 events: 1,000 + 9,000, two instead of ten at the default), the first events still come
 * after one small page, and at most two pages (the one being consumed and the next) are held. A read
 * with `maxCount` asks for no more than it has left, so the last page is exact and no empty page
 * follows it. The second page jumps straight to the limit: every further page cost a round trip
 * and a bubble in which neither side worked, and growing 4 times per page (1,000 + 4,000 + 5,000)
 * kept a 10,000-event feed read at 80-83% of a bare SELECT of the same rows where 16 times reached
 * 84-97% (the stream read 83-87% and 91-95%; Bun and Node, interleaved in one process, 41 rounds,
 * load 3.9-5.9). The bound on memory is unchanged.
 */
export const PAGE_GROWTH = 16;
export const PAGE_GROWTH_LIMIT = 16;

/**
 * Reads in pages (keyset pagination from the last event read, so no connection is held while the
 * caller works through a page) and fetches the next page while the caller consumes the current one. Each row is turned
 * into an envelope as it arrives (`pageOf`), and pages are what the core's read layers pass on (see
 * the core's read-pages.ts): the reader's events are flattened once, at the outermost layer.
 */
async function* paged(
  fetch: (last: EventEnvelope | undefined, limit: number) => Promise<EventEnvelope[]>,
  pageSize: number,
  maxCount: number,
  firstPage = pageSize,
): EventPages {
  let remaining = maxCount;
  let size = firstPage;
  let limit = Math.min(size, remaining);
  let next = limit > 0 ? fetch(undefined, limit) : undefined;
  while (next !== undefined) {
    const events = await next;
    remaining -= events.length;
    const full = events.length === limit;
    size = Math.min(size * PAGE_GROWTH, pageSize * PAGE_GROWTH_LIMIT);
    limit = Math.min(size, remaining);
    next = full && remaining > 0 ? fetch(events[events.length - 1], limit) : undefined;
    // A caller that stops early never awaits the prefetch; its failure must not go unhandled.
    next?.catch(() => undefined);
    if (events.length > 0) yield events;
  }
}

/**
 * One page's statement, each row made an envelope as postgres.js parses it (`forEach`) instead of
 * all rows kept until the last one arrives and mapped then: a row's text columns (the event's JSON
 * among them) are garbage at once, not held through a page of 10,000, which on a catch-up kept the
 * garbage collector copying them. A page read again after a lost connection starts a new list. A
 * query without `forEach` (a tenant-scoped client's, which runs in a transaction of its own) is
 * awaited whole and mapped.
 */
async function pageOf<Row extends readonly unknown[]>(
  sql: PostgresQueryable,
  statement: string,
  parameters: unknown[],
  toEnvelope: (row: Row) => EventEnvelope | undefined,
): Promise<EventEnvelope[]> {
  const query = sql.unsafe(statement, parameters as never[], { prepare: true }).values() as unknown as PromiseLike<
    Row[]
  > & { forEach?: (take: (row: Row) => void) => PromiseLike<unknown> };
  const events: EventEnvelope[] = [];
  // A row that is no event (an EventCorruptError) is thrown once the statement has settled, not from
  // the callback: postgres.js gives an error thrown there the statement's text, its parameters (stream
  // ids) and their types as properties, which a logger that copies them would print.
  let failed = false;
  let failure: unknown;
  const take = (row: Row) => {
    if (failed) return;
    try {
      const event = toEnvelope(row);
      if (event !== undefined) events.push(event);
    } catch (error) {
      failed = true;
      failure = error;
    }
  };
  if (typeof query.forEach === "function") await query.forEach(take);
  else for (const row of await query) take(row);
  if (failed) throw failure;
  return events;
}

/**
 * A page of the feed: readAll, which leaves up to HASHED_HIDDEN soft-deleted streams out and
 * yields one row with a NULL stream id instead when more are; then readAllProbing, which leaves
 * any number out. Once a page has found that many, the store's later pages run readAllProbing at once.
 */
async function feedPage(
  sql: PostgresQueryable,
  context: StoreContext,
  after: string,
  limit: number,
): Promise<EventEnvelope[]> {
  const { feed, statements } = context;
  if (!feed.probing) {
    let many = false;
    const events = await pageOf(sql, statements.readAll, [after, limit], (row: FeedRow | readonly [null]) => {
      if (row[0] !== null) return fromFeedRow(row);
      many = true;
      return undefined;
    });
    if (!many) return events;
    feed.probing = true;
  }
  return pageOf(sql, statements.readAllProbing, [after, limit], fromFeedRow);
}

export function readStreamPages(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  options: ReadStreamOptions,
  attempts: number,
): EventPages {
  const backward = options.direction === "backward";
  const statement = backward ? context.statements.readBackward : context.statements.readForward;
  const first = options.fromVersion ?? (backward ? MAX_VERSION : 1);
  const toEnvelope = (row: StreamRow) => fromStreamRow(streamId, row);
  return paged(
    (last, limit) =>
      guardReconnecting("readStream", attempts, () => {
        const from = last === undefined ? first : backward ? last.version - 1 : last.version + 1;
        return pageOf(sql, statement, [streamId, Math.min(from, MAX_VERSION), limit], toEnvelope);
      }),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

/**
 * The feed after `options.after`, in pages. A `batch` read (`readFeedBatch`: the caller takes every
 * event at once, a projection runner's batch) asks for its `maxCount` in one page, up to the largest
 * page a read grows to: a 10,000-event batch is one round trip, not 1,000 then 9,000, and the read a
 * runner makes ahead while a batch commits is one statement that the server works on throughout.
 */
export function readAllPages(
  sql: PostgresQueryable,
  context: StoreContext,
  options: ReadAllOptions,
  attempts: number,
  batch = false,
): EventPages {
  const maxCount = options.maxCount ?? Number.POSITIVE_INFINITY;
  const largest = context.readPageSize * PAGE_GROWTH_LIMIT;
  return paged(
    (last, limit) =>
      guardReconnecting("readAll", attempts, () => {
        // The last event's position, as the text it was read from (positions stay below 2^53).
        const after = String(last === undefined ? (options.after ?? 0) : last.globalPosition);
        return feedPage(sql, context, after, limit);
      }),
    context.readPageSize,
    maxCount,
    batch ? Math.max(context.readPageSize, Math.min(maxCount, largest)) : context.readPageSize,
  );
}

export async function streamVersionOf(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  attempts: number,
): Promise<number> {
  return guardReconnecting("getStreamVersion", attempts, async () => {
    const [row] = (await sql
      .unsafe(context.statements.streamVersion, [streamId], { prepare: true })
      .values()) as unknown as [[number]];
    return row[0];
  });
}

/** The stream's `$stream-deleted` event while it is deleted, in one statement (see `deletion.event`). */
export async function deletionEventOf(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  attempts: number,
): Promise<EventEnvelope | undefined> {
  return guardReconnecting("streamDeletionEvent", attempts, async () => {
    const [row] = (await sql
      .unsafe(
        context.statements.deletion.event,
        [streamId, STREAM_LIFECYCLE_STREAM, StreamLifecycleEventType.Deleted],
        {
          prepare: true,
        },
      )
      .values()) as unknown as StreamRow[];
    return row === undefined ? undefined : fromStreamRow(STREAM_LIFECYCLE_STREAM, row);
  });
}

export function lastGlobalPosition(sql: PostgresQueryable, context: StoreContext, attempts: number): Promise<number> {
  return positionOf(sql, context.statements.lastGlobalPosition, "getLastGlobalPosition", attempts);
}

/** The newest committed position: every committed event's, in flight or not before it (one index probe). */
export function headPosition(sql: PostgresQueryable, context: StoreContext, attempts: number): Promise<number> {
  return positionOf(sql, context.statements.headPosition, "getHeadPosition", attempts);
}

/** The head and the event stored there (raw), in one query: see `EventStore.feedHead`. */
export function headEvent(
  sql: PostgresQueryable,
  context: StoreContext,
  attempts: number,
): Promise<{ readonly position: number; readonly event?: EventEnvelope }> {
  return guardReconnecting("feedHead", attempts, async () => {
    const [row] = (await sql.unsafe(context.statements.headEvent, [], { prepare: true }).values()) as unknown as [
      FeedRow?,
    ];
    if (row === undefined) return { position: 0 };
    const event = fromFeedRow(row);
    return { position: event.globalPosition ?? 0, event };
  });
}

function positionOf(sql: PostgresQueryable, statement: string, operation: string, attempts: number): Promise<number> {
  return guardReconnecting(operation, attempts, async () => {
    const [row] = (await sql.unsafe(statement, [], { prepare: true }).values()) as unknown as [[string]];
    return Number(row[0]);
  });
}
