import { ValidationError } from "../../src/index.js";

/**
 * A store's clock in whole milliseconds, as its bigint columns hold time: a clock such as
 * `performance.timeOrigin + performance.now()` reads fractions, which PostgreSQL refused on every
 * call. A reading that is no time at all (NaN, Infinity, past 2^53) is a ValidationError naming the
 * option, not the server's refusal of the statement.
 */
export function wholeMillisecondClock(now: (() => number) | undefined): () => number {
  const clock = now ?? Date.now;
  return () => {
    const ms = Math.floor(clock());
    if (!Number.isSafeInteger(ms)) {
      throw new ValidationError("Invalid clock reading", [
        { path: ["now"], message: "now() must return epoch milliseconds, a finite number" },
      ]);
    }
    return ms;
  };
}
