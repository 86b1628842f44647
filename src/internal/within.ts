/** What {@link within} resolves with when the work has not settled in time. */
export const STUCK: unique symbol = Symbol("stuck");

/**
 * What `work` settles with, or STUCK when it has not within `ms` (it goes on; its outcome is not
 * awaited, and a late rejection is handled here, so it is never an unhandled one). The timer is
 * cleared as soon as the work settles: nothing is left to keep a process alive.
 */
export function within<T>(work: Promise<T>, ms: number): Promise<T | typeof STUCK> {
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(() => resolve(STUCK), ms);
    work.then(
      (value) => {
        clearTimeout(watchdog);
        resolve(value);
      },
      (error) => {
        clearTimeout(watchdog);
        reject(error);
      },
    );
  });
}
