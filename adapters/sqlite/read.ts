import type { EventEnvelope, ReadAllOptions, ReadStreamOptions } from "../../src/index.js";
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
async function* paged(
  fetch: (cursor: EventEnvelope | undefined, limit: number) => Promise<SqliteRow[]>,
  pageSize: number,
  maxCount: number,
): AsyncGenerator<EventEnvelope, void, undefined> {
  let remaining = maxCount;
  let cursor: EventEnvelope | undefined;
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining);
    const rows = await fetch(cursor, limit);
    for (const row of rows) {
      cursor = fromRow(row);
      remaining -= 1;
      yield cursor;
    }
    if (rows.length < limit) return;
  }
}

export function readStreamPages(
  context: SqliteStoreContext,
  streamId: string,
  options: ReadStreamOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  const backward = options.direction === "backward";
  const statement = backward ? context.statements.readBackward : context.statements.readForward;
  const first = Math.min(options.fromVersion ?? (backward ? MAX_VERSION : 1), MAX_VERSION);
  return paged(
    (cursor, limit) =>
      guard("readStream", context.driver.name, () => {
        const from = cursor === undefined ? first : backward ? cursor.version - 1 : cursor.version + 1;
        return context.driver.all(statement, [streamId, from, streamId, limit]);
      }),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

export function readAllPages(
  context: SqliteStoreContext,
  options: ReadAllOptions,
): AsyncGenerator<EventEnvelope, void, undefined> {
  return paged(
    (cursor, limit) =>
      guard("readAll", context.driver.name, () =>
        context.driver.all(context.statements.readAll, [cursor?.globalPosition ?? options.after ?? 0, limit]),
      ),
    context.readPageSize,
    options.maxCount ?? Number.POSITIVE_INFINITY,
  );
}

export function lastPosition(context: SqliteStoreContext): Promise<number> {
  return guard("getLastGlobalPosition", context.driver.name, async () => {
    const [row] = await context.driver.all(context.statements.lastPosition);
    return Number(row?.position ?? 0);
  });
}
