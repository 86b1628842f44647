import { type Issue, ValidationError } from "../errors.js";
import { isWellFormed, LONE_SURROGATE } from "./unicode.js";

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. Stores keep event data as this. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * How deeply arrays and objects may nest in event data and metadata, by default: `{ a: [1] }` is 2
 * levels deep. Deeper data is refused with a {@link ValidationError}, so no store, serializer or
 * reader (`JSON.stringify`, `JSON.parse`, a driver) recurses far enough to exhaust its stack.
 */
export const DEFAULT_MAX_JSON_DEPTH = 64;
/** The highest `maxJsonDepth` a store accepts: deep enough for any document, shallow enough for every runtime's `JSON.stringify`. */
export const MAX_JSON_DEPTH_LIMIT = 1000;

export interface JsonIssuesOptions {
  /** How deeply arrays and objects may nest. Defaults to {@link DEFAULT_MAX_JSON_DEPTH}. */
  readonly maxDepth?: number;
}

/** Checks a configured nesting limit: an integer from 1 to {@link MAX_JSON_DEPTH_LIMIT}. */
export function assertMaxJsonDepth(value: unknown, what = "maxJsonDepth"): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > MAX_JSON_DEPTH_LIMIT) {
    throw new ValidationError(`Invalid ${what}`, [
      { path: [what], message: `${what} must be an integer from 1 to ${MAX_JSON_DEPTH_LIMIT}, got ${String(value)}` },
    ]);
  }
}

// One value waiting to be checked. Paths are kept as parent links and spelled out only for an issue,
// so a deep value costs one small object per level, not a copy of the path per level.
interface Frame {
  readonly value: unknown;
  readonly key: string | number | undefined;
  readonly parent: Frame | undefined;
  readonly depth: number;
}

// Pushed after a container's children: the container is no longer an ancestor once they are done.
interface Leave {
  readonly leave: object;
}

const MAX_ISSUES = 10;

/**
 * Finds what in a value would not survive a JSON round trip: BigInt, functions, symbols, cycles,
 * non-finite numbers, objects that are not plain (Date, Map, Set, class instances), which JSON
 * would silently turn into something else, strings and keys with lone surrogates, and nesting
 * deeper than `maxDepth`. Returns at most 10 issues; an empty list means the value is JSON.
 * Iterative and linear in the size of the value, whatever its depth.
 */
export function jsonIssues(
  value: unknown,
  basePath: readonly (string | number)[] = [],
  options: JsonIssuesOptions = {},
): Issue[] {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const issues: Issue[] = [];
  const ancestors = new Set<object>();
  const report = (frame: Frame, message: string, key?: string): void => {
    const path: (string | number)[] = key === undefined ? [] : [key];
    for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) path.push(at.key);
    path.reverse();
    issues.push({ path: [...basePath, ...path], message });
  };
  const stack: (Frame | Leave)[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const frame = stack.pop() as Frame | Leave;
    if ("leave" in frame) {
      ancestors.delete(frame.leave);
      continue;
    }
    const current = frame.value;
    switch (typeof current) {
      case "boolean":
        continue;
      case "string":
        if (!isWellFormed(current)) report(frame, `a string ${LONE_SURROGATE}`);
        continue;
      case "number":
        if (!Number.isFinite(current)) report(frame, `${current} is not a JSON number`);
        continue;
      case "bigint":
        report(frame, "BigInt is not JSON; encode it as a string");
        continue;
      case "function":
      case "symbol":
        report(frame, `a ${typeof current} is not JSON data`);
        continue;
      case "undefined":
        // JSON drops an undefined property, which is harmless; at the top or in an array it is not.
        if (frame.key === undefined || typeof frame.key === "number") report(frame, "undefined is not JSON data");
        continue;
    }
    if (current === null) continue;
    const obj = current as object;
    if (ancestors.has(obj)) {
      report(frame, "circular reference");
      continue;
    }
    const isArray = Array.isArray(obj);
    if (!isArray) {
      const proto = Object.getPrototypeOf(obj);
      if (proto !== Object.prototype && proto !== null) {
        const kind =
          obj instanceof Date
            ? "a Date (use toISOString())"
            : `an instance of ${proto?.constructor?.name ?? "a class"}`;
        report(frame, `${kind} is not plain JSON data`);
        continue;
      }
    }
    const depth = frame.depth + 1;
    if (depth > maxDepth) {
      report(frame, `nested deeper than the limit of ${maxDepth} levels of arrays and objects`);
      continue;
    }
    ancestors.add(obj);
    stack.push({ leave: obj });
    // Children go on the stack last first, so issues come out in document order.
    if (isArray) {
      for (let i = obj.length - 1; i >= 0; i--) stack.push({ value: obj[i], key: i, parent: frame, depth });
    } else {
      const keys = Object.keys(obj);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        if (!isWellFormed(key)) report(frame, `a key ${LONE_SURROGATE}`, key);
        stack.push({ value: (obj as Record<string, unknown>)[key], key, parent: frame, depth });
      }
    }
  }
  return issues;
}

/** UTF-8 length of a string without allocating the encoded bytes. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
