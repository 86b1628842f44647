/**
 * An OpenTelemetry context manager over an `AsyncLocalStorage` the application hands in, so that the
 * active span survives `await`s where `@opentelemetry/context-async-hooks` cannot be bundled: on
 * Cloudflare Workers, `AsyncLocalStorage` comes from `node:async_hooks` under the `nodejs_compat`
 * flag. Taking the instance keeps this module free of Node built-ins. Without a context manager every
 * span is the root of its own trace (or the child of its message's `traceparent`).
 */
import { type Context, type ContextManager, ROOT_CONTEXT } from "@opentelemetry/api";

/** What the context manager needs of `AsyncLocalStorage`. */
export interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, callback: () => R): R;
  disable?(): void;
}

export function asyncLocalContextManager(storage: AsyncLocalStorageLike<Context>): ContextManager {
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with(context, fn, thisArg, ...args) {
      return storage.run(context, () => fn.call(thisArg, ...args));
    },
    bind(context, target) {
      if (typeof target !== "function") return target;
      const fn = target as unknown as (...args: unknown[]) => unknown;
      return function (this: unknown, ...args: unknown[]) {
        return storage.run(context, () => fn.apply(this, args));
      } as unknown as typeof target;
    },
    enable: () => manager,
    disable() {
      storage.disable?.();
      return manager;
    },
  };
  return manager;
}
