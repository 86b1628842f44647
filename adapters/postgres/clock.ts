import { checkedClock } from "../../src/index.js";

/**
 * A store's clock in whole milliseconds, as its bigint columns hold time: a clock such as
 * `performance.timeOrigin + performance.now()` reads fractions, which PostgreSQL refused on every
 * call. The reading goes through the core's `checkedClock` first, as the DynamoDB and in-memory
 * stores' do, so a reading that is no time (NaN, Infinity, past 2^53, or no number at all, which
 * `Math.floor` would have coerced: `null` to 1970) is the same ValidationError naming `now` on
 * every backend, before any statement.
 */
export function wholeMillisecondClock(now: (() => number) | undefined): () => number {
  const clock = checkedClock(now);
  return () => Math.floor(clock());
}
