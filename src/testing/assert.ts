import { ValidationError } from "../errors.js";
import { deepEqual } from "../internal/deep-equal.js";
import { assertDelayMs, kindOf } from "../internal/validate.js";

/**
 * Assertions without a test framework, so that the contract suites run unchanged under bun:test,
 * node:test, vitest, or inside a Worker.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertEqual<T>(actual: unknown, expected: T, message = "values differ"): asserts actual is T {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(`${message}\n  expected: ${show(expected)}\n  actual:   ${show(actual)}`);
  }
}

/** Awaits `action` and returns what it threw; fails when it resolved or threw without the code. */
export async function assertRejects(
  action: () => unknown,
  code: string,
  message = "expected a rejection",
): Promise<Error> {
  // A misused helper is refused, not taken as an assertion: with no code, any error without one passed.
  const issues = [
    ...(typeof action === "function"
      ? []
      : [{ path: ["action"], message: `must be a function, got ${kindOf(action)}` }]),
    ...(typeof code === "string" && code !== ""
      ? []
      : [{ path: ["code"], message: `must be the error code expected, got ${kindOf(code)}` }]),
  ];
  if (issues.length > 0) throw new ValidationError("Invalid assertRejects arguments", issues);
  let resolved: unknown;
  try {
    resolved = await action();
  } catch (error) {
    const actualCode = (error as { code?: unknown })?.code;
    if (actualCode !== code) {
      throw new AssertionError(`${message}: expected error code ${code}, got ${String(actualCode)} (${String(error)})`);
    }
    return error as Error;
  }
  throw new AssertionError(`${message}: expected error code ${code}, but it resolved to ${show(resolved)}`);
}

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const iterable = source as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
  if (typeof iterable?.[Symbol.asyncIterator] !== "function" && typeof iterable?.[Symbol.iterator] !== "function") {
    throw new ValidationError("Invalid collect argument", [
      { path: [], message: `must be an async iterable (a store read, say), got ${kindOf(source)}` },
    ]);
  }
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

/** Waits until `check` passes or the time is up; rethrows the last failure. For asynchronous delivery. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000, intervalMs = 10): Promise<void> {
  if (typeof check !== "function") {
    throw new ValidationError("Invalid eventually arguments", [
      { path: ["check"], message: `must be a function, got ${kindOf(check)}` },
    ]);
  }
  // A NaN deadline is never reached: a check that keeps failing would retry for ever.
  assertDelayMs(timeoutMs, "timeoutMs");
  assertDelayMs(intervalMs, "intervalMs");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await settledBefore(check(), deadline, timeoutMs);
      return;
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/**
 * What a check returned, awaited until the deadline at most: a check that never settles (a read that
 * hangs) fails `eventually` once its time is up instead of holding it for ever.
 */
function settledBefore(result: void | Promise<void>, deadline: number, timeoutMs: number): void | Promise<void> {
  if (typeof (result as PromiseLike<void> | undefined)?.then !== "function") return result;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AssertionError(`eventually: the check had not settled when its ${timeoutMs} ms were up`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  return Promise.race([result, late]).finally(() => clearTimeout(timer));
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${v}n` : v));
    return text === undefined ? String(value) : text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return String(value);
  }
}
