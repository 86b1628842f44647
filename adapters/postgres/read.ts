import type { EventEnvelope, ReadAllOptions, ReadStreamOptions } from "../../src/index.js";
import type { StoreContext } from "./append.js";
import type { PostgresQueryable } from "./client.js";
import { guardReconnecting } from "./errors.js";
import { type FeedRow, fromFeedRow, fromStreamRow, type StreamRow } from "./rows.js";

const MAX_VERSION = 2 ** 31 - 1;

// Every read takes \`retry\`: whether a statement whose connection was lost runs once more on a
// fresh one (a client, yes; a transaction, whose connection is gone, no).

/**
 * How far pages grow: each page after the first asks for twice as many rows as the one before, up to
 * this many times `readPageSize`. A long read then makes a few round trips instead of one per
 * `readPageSize` events (10,000 events: 4 instead of 10 at the default), the first events still
 * come after one small page, and at most two pages (the one being consumed and the next) are held.
 */
export const PAGE_GROWTH_LIMIT = 4;

/**
 * Reads in pages (keyset pagination, so no connection is held while the caller works through a
 * page) and fetches the next page while the caller consumes the current one. Rows are turned into
 * envelopes here, in the one generator the caller iterates: a generator per layer would cost every
 * event another round of promises.
 */
async function* paged<Row extends readonly unknown[]>(
  fetch: (cursor: Row | undefined, limit: number) => Promise<Row[]>,
  toEnvelope: (row: Row) => EventEnvelope,
  pageSize: number,
  maxCount: number,
): AsyncGenerator<EventEnvelope, void, undefined> {
  let remaining = maxCount;
  let size = pageSize;
  let limit = Math.min(size, remaining);
  let next = limit > 0 ? fetch(undefined, limit) : undefined;
  while (next !== undefined) {
    const rows = await next;
    remaining -= rows.length;
    const full = rows.length === limit;
    size = Math.min(size * 2, pageSize * PAGE_GROWTH_LIMIT);
    limit = Math.min(size, remaining);
    next = full && remaining > 0 ? fetch(rows[rows.length - 1], limit) : undefined;
    // A caller that stops early never awaits the prefetch; its failure must not go unhandled.
    next?.catch(() => undefined);
    for (const row of rows) yield toEnvelope(row);
  }
}

export function readStreamPages(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  options: ReadStreamOptions,
  attempts: number,
): AsyncGenerator<EventEnvelope, void, undefined> {
  const backward = options.direction === "backward";
  const statement = backward ? context.statements.readBackward : context.statements.readForward;
  const first = options.fromVersion ?? (backward ? MAX_VERSION : 1);
  return paged<StreamRow>(
    (cursor, limit) =>
      guardReconnecting("readStream", attempts, async () => {
        const from = cursor === undefined ? first : backward ? cursor[1] - 1 : cursor[1] + 1;
        return (await sql
          .unsafe(statement, [streamId, Math.min(from, MAX_VERSION), limit], { prepare: true })
          .values()) as unknown as StreamRow[];
      }),
    (row) => fromStreamRow(streamId, row),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

export function readAllPages(
  sql: PostgresQueryable,
  context: StoreContext,
  options: ReadAllOptions,
  attempts: number,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return paged<FeedRow>(
    (cursor, limit) =>
      guardReconnecting("readAll", attempts, async () => {
        const after = cursor === undefined ? String(options.after ?? 0) : cursor[1];
        return (await sql
          .unsafe(context.statements.readAll, [after, limit], { prepare: true })
          .values()) as unknown as FeedRow[];
      }),
    fromFeedRow,
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
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

export async function lastGlobalPosition(
  sql: PostgresQueryable,
  context: StoreContext,
  attempts: number,
): Promise<number> {
  return guardReconnecting("getLastGlobalPosition", attempts, async () => {
    const [row] = (await sql
      .unsafe(context.statements.lastGlobalPosition, [], { prepare: true })
      .values()) as unknown as [[string]];
    return Number(row[0]);
  });
}
