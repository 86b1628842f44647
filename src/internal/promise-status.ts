/** Where a promise stands, read synchronously. */
export type PromiseStatus = "pending" | "fulfilled" | "rejected";

/**
 * A synchronous reader of a native promise's state where the runtime offers one (Bun's
 * `Bun.peek.status`), else undefined. No web API reads a promise's state without a reaction, and a
 * reaction per promise is what a caller of this avoids: it may keep promises and read them later.
 */
export function promiseStatusReader(): ((promise: Promise<unknown>) => PromiseStatus) | undefined {
  const peek = (globalThis as { Bun?: { peek?: { status?: unknown } } }).Bun?.peek;
  return typeof peek?.status === "function" ? (peek.status as (promise: Promise<unknown>) => PromiseStatus) : undefined;
}
