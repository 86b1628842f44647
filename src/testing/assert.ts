import { EventFlowsError, ValidationError } from "../errors.js";
import { deepEqual } from "../internal/deep-equal.js";
import { assertDelayMs, kindOf } from "../internal/validate.js";

/**
 * Assertions without a test framework, so that the contract suites run unchanged under bun:test,
 * node:test, vitest, or inside a Worker.
 */
export class AssertionError extends EventFlowsError {
  override readonly name = "AssertionError";

  /** `ASSERTION_FAILED`: an EventFlowsError as every error the library throws, its code a literal (see errors.ts). */
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super("ASSERTION_FAILED", message, options);
  }
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
  assertDelayMs(timeoutMs, "timeoutMs", "Invalid eventually arguments");
  assertDelayMs(intervalMs, "intervalMs", "Invalid eventually arguments");
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

/** Longest rendering of a value in a failure message. */
const SHOWN_CHARS = 500;

/**
 * A value as a failure message shows it: JSON for plain data, and what JSON would hide or blur spelt
 * out (`undefined`, `-0`, `NaN`, `1n`, `Date(...)`, `Map {k => v}`, `Set {...}`, `Uint8Array [...]`, a
 * class's name, a cycle), so that two values `assertEqual` found different never both read `{}`.
 */
function show(value: unknown): string {
  const parts: string[] = [];
  let length = 0;
  const seen = new Set<object>();
  const put = (text: string) => {
    parts.push(text);
    length += text.length;
  };
  const walk = (item: unknown): void => {
    if (length > SHOWN_CHARS) return;
    if (typeof item !== "object" || item === null) {
      put(atom(item));
      return;
    }
    if (seen.has(item)) {
      put("[circular]");
      return;
    }
    seen.add(item);
    try {
      walkObject(item);
    } finally {
      seen.delete(item);
    }
  };
  const list = (open: string, items: Iterable<unknown>, close: string, each: (item: unknown) => void) => {
    put(open);
    let first = true;
    for (const item of items) {
      if (length > SHOWN_CHARS) break;
      if (!first) put(",");
      first = false;
      each(item);
    }
    put(close);
  };
  const walkObject = (item: object): void => {
    if (item instanceof Date) {
      put(`Date(${Number.isNaN(item.getTime()) ? "invalid" : item.toISOString()})`);
      return;
    }
    if (Array.isArray(item)) {
      list("[", item, "]", walk);
      return;
    }
    if (item instanceof Map) {
      list("Map {", item, "}", (entry) => {
        const [key, value] = entry as [unknown, unknown];
        walk(key);
        put(" => ");
        walk(value);
      });
      return;
    }
    if (item instanceof Set) {
      list("Set {", item, "}", walk);
      return;
    }
    if (ArrayBuffer.isView(item) && !(item instanceof DataView)) {
      const typed = item as unknown as ArrayLike<unknown>;
      list(`${item.constructor.name} [`, Array.from(typed), "]", walk);
      return;
    }
    const proto = Object.getPrototypeOf(item);
    if (proto === null) put("[null prototype] ");
    else if (proto !== Object.prototype)
      put(`${(proto as { constructor?: { name?: string } }).constructor?.name || "class"} `);
    list("{", Object.keys(item), "}", (key) => {
      put(`${JSON.stringify(key)}:`);
      walk((item as Record<string, unknown>)[key as string]);
    });
  };
  try {
    walk(value);
  } catch {
    // A getter or Proxy trap of the value's threw: say so, rather than fail the failure.
    return "(a value that cannot be read)";
  }
  const text = parts.join("");
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

/** A value that is no object, as `show` writes it. */
function atom(item: unknown): string {
  if (typeof item === "number") return Object.is(item, -0) ? "-0" : String(item);
  if (typeof item === "bigint") return `${item}n`;
  if (typeof item === "string") return JSON.stringify(item);
  if (typeof item === "function") return `[function ${item.name || "anonymous"}]`;
  return String(item);
}
