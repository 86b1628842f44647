/**
 * Clock readings that are no time, which the dedup and idempotency contracts feed a store's `now`:
 * each must be a ValidationError naming `now`. The last two are not numbers at all (a clock wired to
 * the wrong field): coerced, `null` would read as 1970 and `"1000000"` as a time long past, so every
 * key would look expired, silently.
 */
export const NO_TIME_READINGS: readonly number[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 60,
  null as unknown as number,
  "1000000" as unknown as number,
];
