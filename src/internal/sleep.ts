/** Waits `ms` milliseconds; 0 or less resolves without a timer. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms <= 0 ? resolve() : setTimeout(resolve, ms)));
}
