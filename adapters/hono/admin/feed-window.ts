/**
 * Paging back through a global feed that can only be read forward. Positions may have gaps (on
 * PostgreSQL each transaction takes a block of 4,096), so "the last 50 events" is not "after head -
 * 50": these functions search for the position to read after, with reads of at most `count` events.
 */
import type { EventStore } from "../../../src/index.js";

/** Events after `after`, up to and including `end`, counted up to `cap`. */
export async function countEvents(store: EventStore, after: number, end: number, cap: number): Promise<number> {
  let count = 0;
  for await (const event of store.readAll({ after, maxCount: cap })) {
    if ((event.globalPosition ?? 0) > end) break;
    count++;
  }
  return count;
}

/**
 * The position to read after for the `count` events up to `end` (or all of them, from 0, when there
 * are fewer): widening steps back from `end` until the window holds `count` events; then, when the
 * window holds at most {@link WINDOW_FACTOR}·`count` (the feed is about as dense there as nearer
 * the end), one read of it; else a binary search for the largest such start. About log2(end / count)
 * reads of at most `count` events, and one more (or log2 of the window) to place the start.
 */
export async function pageStartBefore(store: EventStore, end: number, count: number): Promise<number> {
  let high = end; // holds fewer than `count` events after it (none at all)
  let low = end;
  for (let width = count; ; width *= 2) {
    low = Math.max(0, end - width);
    if ((await countEvents(store, low, end, count)) >= count) break;
    if (low === 0) return 0;
    high = low;
  }
  const window = await positionsIn(store, low, end, WINDOW_FACTOR * count);
  if (window.length < WINDOW_FACTOR * count)
    return window.length === count ? low : (window[window.length - count - 1] as number);
  // Invariant: at least `count` events in (low, end], fewer in (high, end].
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if ((await countEvents(store, middle, end, count)) >= count) low = middle;
    else high = middle;
  }
  return low;
}

/** How many times `count` events one read of the found window may hold before a search is cheaper. */
const WINDOW_FACTOR = 4;

async function positionsIn(store: EventStore, after: number, end: number, cap: number): Promise<number[]> {
  const positions: number[] = [];
  for await (const event of store.readAll({ after, maxCount: cap })) {
    const position = event.globalPosition ?? 0;
    if (position > end) break;
    positions.push(position);
  }
  return positions;
}
