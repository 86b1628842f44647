import { getLogger } from "../logging/library-logger.js";

/**
 * Calls an application hook that observes something (an error, a failure, an outcome). A hook that
 * throws must never change what the library does next, so its own error is caught and logged here,
 * in one place, with the hook's name.
 */
export function callHook<A extends unknown[]>(name: string, hook: (...args: A) => unknown, ...args: A): void {
  try {
    const returned = hook(...args);
    // An async hook that rejects is reported the same way, without making the caller wait for it.
    if (returned instanceof Promise) returned.catch((error: unknown) => reportHookFailure(name, error));
  } catch (error) {
    reportHookFailure(name, error);
  }
}

function reportHookFailure(name: string, error: unknown): void {
  // The logger is the application's too: one that throws here must not turn the hook's failure into
  // the library's (for callHook's caller) or into an unhandled rejection (for an async hook).
  try {
    getLogger().error(`the ${name} hook itself threw`, { hook: name, error });
  } catch {
    // Nothing is left to report it to.
  }
}
