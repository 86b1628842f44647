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
  /**
   * Refuse U+0000 (NUL) in strings and keys, as event data, metadata and read-model documents do:
   * PostgreSQL's jsonb cannot hold it, so no store takes it. Off by default.
   */
  readonly refuseNul?: boolean;
}

/** The issue for a string holding U+0000 (with `refuseNul`); the path names where, never the text. */
export const NUL_STRING = "a string contains U+0000 (NUL), which the stores cannot hold; encode such text first";
/** The issue for a key holding U+0000 (with `refuseNul`), at the object holding it: the key is never quoted. */
export const NUL_KEY = "a key contains U+0000 (NUL), which the stores cannot hold; encode such text first";

/** Checks a configured nesting limit: an integer from 1 to {@link MAX_JSON_DEPTH_LIMIT}. */
export function assertMaxJsonDepth(value: unknown, what = "maxJsonDepth"): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > MAX_JSON_DEPTH_LIMIT) {
    throw new ValidationError(`Invalid ${what}`, [
      { path: [what], message: `${what} must be an integer from 1 to ${MAX_JSON_DEPTH_LIMIT}, got ${String(value)}` },
    ]);
  }
}

// A container being walked. Paths are kept as parent links and spelled out only for an issue, so a
// deep value costs one small object per level, not a copy of the path per level.
interface Frame {
  readonly value: object;
  readonly key: string | number | undefined;
  readonly parent: Frame | undefined;
  readonly depth: number;
  /** The object's keys; undefined for an array. */
  readonly keys: readonly string[] | undefined;
  /** The next child to look at. */
  next: number;
}

const MAX_ISSUES = 10;

/**
 * Finds what in a value would not survive a JSON round trip: BigInt, functions, symbols, cycles,
 * non-finite numbers, objects that are not plain (Date, Map, Set, class instances), which JSON
 * would silently turn into something else, strings and keys with lone surrogates (or, with
 * `refuseNul`, U+0000), and nesting deeper than `maxDepth`. Returns at most 10 issues, in document order; an empty list means the
 * value is JSON. Iterative (a stack of containers, each with a cursor) and linear in the size of
 * the value, whatever its depth.
 */
export function jsonIssues(
  value: unknown,
  basePath: readonly (string | number)[] = [],
  options: JsonIssuesOptions = {},
): Issue[] {
  try {
    return walkJson(value, basePath, options);
  } catch {
    // A getter, a Proxy trap or an iterator of the caller's that throws while the value is read:
    // that value can be neither checked nor stored, so it is an issue, not the caller's raw error.
    return [{ path: [...basePath], message: "could not be read as JSON data: reading it threw" }];
  }
}

function walkJson(value: unknown, basePath: readonly (string | number)[], options: JsonIssuesOptions): Issue[] {
  const refuseNul = options.refuseNul === true;
  if (isFlatJson(value, refuseNul)) return [];
  const walk: Walk = {
    basePath,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH,
    refuseNul,
    issues: [],
    ancestors: new Set(),
    stack: [],
  };
  enter(walk, value, undefined, undefined);
  const { stack, issues } = walk;
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const frame = stack[stack.length - 1] as Frame;
    const { keys } = frame;
    if (keys === undefined) {
      const array = frame.value as unknown[];
      if (frame.next < array.length) {
        const index = frame.next++;
        enter(walk, array[index], frame, index);
        continue;
      }
    } else if (frame.next < keys.length) {
      const key = keys[frame.next++] as string;
      if (!isWellFormed(key)) report(walk, frame, key, `a key ${LONE_SURROGATE}`);
      else if (walk.refuseNul && key.includes("\0")) {
        // Named by the object that holds it, and not entered: the key would be in every path below.
        report(walk, frame, undefined, NUL_KEY);
        continue;
      }
      enter(walk, (frame.value as Record<string, unknown>)[key], frame, key);
      continue;
    }
    // Every child is done: the container is no longer an ancestor of what comes next.
    stack.pop();
    walk.ancestors.delete(frame.value);
  }
  return issues.length > MAX_ISSUES ? issues.slice(0, MAX_ISSUES) : issues;
}

/**
 * The common case without the walk's allocations: a scalar, or a plain object or array holding only
 * good scalars (`{ n: 1, name: "x" }`), is JSON. False means "walk it", not "not JSON": true is
 * what makes {@link jsonIssues} return no issues at once, so hot paths ask this first (with the
 * same `refuseNul`).
 */
export function isFlatJson(value: unknown, refuseNul = false): boolean {
  // A getter or Proxy trap of the caller's that throws means "walk it": jsonIssues then reports it at
  // the value's own path (`0.data`), and no caller's fast path lets the caller's own error out.
  try {
    return flatJson(value, refuseNul);
  } catch {
    return false;
  }
}

function flatJson(value: unknown, refuseNul: boolean): boolean {
  if (typeof value !== "object" || value === null) return scalarIssue(value, true, refuseNul) === undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (scalarIssue(value[i], true, refuseNul) !== undefined) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    if (!isWellFormed(key) || (refuseNul && key.includes("\0"))) return false;
    if (scalarIssue((value as Record<string, unknown>)[key], false, refuseNul) !== undefined) return false;
  }
  return true;
}

/**
 * Whether `value` comes back from a JSON round trip as it is, as far as its values go: finite
 * numbers, strings, booleans, null, and plain objects and arrays of them, at most `maxDepth` levels
 * deep, no `undefined` in an array. Strings are not looked into (a lone surrogate or U+0000 survives
 * JSON; the stores refuse them where they write). A cycle is deeper than any limit: false. For hot
 * paths that check what an application's function made (an upcaster's output), cheaper than
 * {@link isFlatJson}; on false, {@link jsonIssues} says what and where.
 */
export function isJsonData(value: unknown, maxDepth = MAX_JSON_DEPTH_LIMIT): boolean {
  return jsonItem(value, maxDepth, false);
}

function jsonItem(item: unknown, depth: number, inArray: boolean): boolean {
  const type = typeof item;
  if (type === "string" || type === "boolean") return true;
  if (type === "number") return (item as number) - (item as number) === 0; // false for NaN and ±Infinity
  if (type === "object") return item === null || jsonContainer(item as object, depth);
  return type === "undefined" && !inArray; // a property holding undefined is left out, as JSON leaves it out
}

function jsonContainer(value: object, depth: number): boolean {
  if (depth === 0) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!jsonItem(value[i], depth - 1, true)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    // The common values checked here, without a call: most of a chain's output is flat.
    const item = (value as Record<string, unknown>)[key];
    const type = typeof item;
    if (type === "string" || type === "boolean") continue;
    if (type === "number") {
      if ((item as number) - (item as number) !== 0) return false;
    } else if (!jsonItem(item, depth - 1, false)) return false;
  }
  return true;
}

// The state of one check, passed to plain functions: no closures made per call on the hot path.
interface Walk {
  readonly basePath: readonly (string | number)[];
  readonly maxDepth: number;
  readonly refuseNul: boolean;
  readonly issues: Issue[];
  readonly ancestors: Set<object>;
  readonly stack: Frame[];
}

// Checks one value; a container that passes is entered (pushed), everything else is settled here.
function enter(walk: Walk, child: unknown, parent: Frame | undefined, key: string | number | undefined): void {
  const problem = scalarIssue(child, key === undefined || typeof key === "number", walk.refuseNul);
  if (problem !== CONTAINER) {
    if (problem !== undefined) report(walk, parent, key, problem);
    return;
  }
  const obj = child as object;
  if (walk.ancestors.has(obj)) {
    report(walk, parent, key, "circular reference");
    return;
  }
  const isArray = Array.isArray(obj);
  if (!isArray) {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const kind =
        obj instanceof Date ? "a Date (use toISOString())" : `an instance of ${proto?.constructor?.name ?? "a class"}`;
      report(walk, parent, key, `${kind} is not plain JSON data`);
      return;
    }
  }
  const depth = (parent === undefined ? 0 : parent.depth) + 1;
  if (depth > walk.maxDepth) {
    report(walk, parent, key, `nested deeper than the limit of ${walk.maxDepth} levels of arrays and objects`);
    return;
  }
  walk.ancestors.add(obj);
  walk.stack.push({ value: obj, key, parent, depth, keys: isArray ? undefined : Object.keys(obj), next: 0 });
}

function report(walk: Walk, parent: Frame | undefined, key: string | number | undefined, message: string): void {
  const path: (string | number)[] = key === undefined ? [] : [key];
  for (let at = parent; at?.key !== undefined; at = at.parent) path.push(at.key);
  path.reverse();
  walk.issues.push({ path: [...walk.basePath, ...path], message });
}

const CONTAINER = Symbol("container");

/**
 * What is wrong with a value that is not an array or object, CONTAINER for one that is (its own
 * checks need the walk), undefined for a good scalar. `undefined` is dropped by JSON as a property,
 * which is harmless; at the top or in an array it is not. The NUL test is made here, in the one
 * pass over the value, on the strings the walk meets anyway.
 */
function scalarIssue(
  value: unknown,
  topOrArrayItem: boolean,
  refuseNul: boolean,
): string | undefined | typeof CONTAINER {
  switch (typeof value) {
    case "boolean":
      return undefined;
    case "string":
      if (!isWellFormed(value)) return `a string ${LONE_SURROGATE}`;
      return refuseNul && value.includes("\0") ? NUL_STRING : undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case "bigint":
      return "BigInt is not JSON; encode it as a string";
    case "function":
    case "symbol":
      return `a ${typeof value} is not JSON data`;
    case "undefined":
      return topOrArrayItem ? "undefined is not JSON data" : undefined;
    default:
      return value === null ? undefined : CONTAINER;
  }
}

/**
 * `target[key] = value` as an own property for every key: JSON.parse makes "__proto__" an own key,
 * which a plain assignment would turn into a change of `target`'s prototype (and lose the key).
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
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

/**
 * Whether a JSON round trip would give back something else than `value`, which {@link jsonIssues}
 * accepted: a -0 (written as 0), a property holding `undefined` (left out), an object without a
 * prototype (read back as a plain one). False for the common value, without allocating: an append
 * copies data and metadata ({@link jsonRoundTrip}) only when this is true, so that what it returns
 * and publishes is what every reader gets. Recursive: the value's depth is checked first.
 */
export function changedByJson(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return value === 0 && 1 / value < 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (changedByJson(value[i])) return true;
    return false;
  }
  if (Object.getPrototypeOf(value) === null) return true;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || changedByJson(item)) return true;
  }
  return false;
}

/**
 * A deep copy of a value {@link jsonIssues} accepts, equal to `JSON.parse(JSON.stringify(value))`
 * (object properties holding `undefined` are left out, as JSON leaves them out) without making and
 * parsing the text: for small documents copied often, such as a saga's initial state per instance.
 */
export function jsonRoundTrip<T>(value: T): T {
  if (typeof value !== "object" || value === null) return (value === 0 ? 0 : value) as T; // -0 is written as 0
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    // JSON writes a hole or an undefined item as null.
    for (let i = 0; i < value.length; i++) copy[i] = value[i] === undefined ? null : jsonRoundTrip(value[i]);
    return copy as T;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    setOwn(copy, key, jsonRoundTrip(item));
  }
  return copy as T;
}
