import { type Issue, ValidationError } from "../errors.js";
import { isWellFormed, LONE_SURROGATE } from "./unicode.js";

/** Longest stream id accepted, in characters. Fits a DynamoDB partition key and a btree index entry. */
export const MAX_STREAM_ID_LENGTH = 512;
/** Longest event, command or query type name accepted, in characters. */
export const MAX_TYPE_LENGTH = 256;

// Control characters: PostgreSQL text refuses NUL, and none of them belongs in a name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The one check of every name the core stores or routes by (stream ids, event/command/query types,
 * checkpoint ids, keys): a string, not blank, at most `maxLength` UTF-16 units, no control characters,
 * and well-formed Unicode (a lone surrogate has no UTF-8 form, so backends would merge or refuse it).
 */
export function nameIssues(value: unknown, what: string, maxLength: number, path: (string | number)[] = []): Issue[] {
  if (typeof value !== "string") return [{ path, message: `${what} must be a string, got ${kindOf(value)}` }];
  if (value.length === 0) return [{ path, message: `${what} must not be empty` }];
  if (value.trim().length === 0) return [{ path, message: `${what} must not be only whitespace` }];
  if (value.length > maxLength) return [{ path, message: lengthMessage(what, value.length, maxLength) }];
  if (CONTROL.test(value)) return [{ path, message: `${what} must not contain control characters` }];
  if (!isWellFormed(value)) return [{ path, message: `${what} ${LONE_SURROGATE}` }];
  return [];
}

/**
 * A name's length is its UTF-16 code units (JavaScript's `length`), as every limit on names counts it:
 * a character beyond U+FFFF (an emoji) takes 2. So a name at its limit is at most 3 UTF-8 bytes a
 * unit, which is what the stores are sized for (a 512-unit stream id: 1,536 bytes, inside a DynamoDB
 * partition key's 2,048 with a tenant prefix).
 */
function lengthMessage(what: string, units: number, maxLength: number): string {
  return `${what} is ${units} UTF-16 code units long, over ${maxLength} (a character beyond U+FFFF, such as an emoji, counts 2)`;
}

/**
 * Whether {@link nameIssues} finds nothing wrong, without building its (empty) list: for hot paths
 * that check a name per call and spell the issues out only when there are some.
 */
export function isName(value: unknown, maxLength: number): value is string {
  return (
    typeof value === "string" &&
    value.length > 0 &&
    value.length <= maxLength &&
    value.trim().length > 0 &&
    !CONTROL.test(value) &&
    isWellFormed(value)
  );
}

export function assertStreamId(streamId: unknown): asserts streamId is string {
  // Every append and read checks its stream id: the valid case without building an empty issue list.
  if (isName(streamId, MAX_STREAM_ID_LENGTH)) return;
  const issues = nameIssues(streamId, "stream id", MAX_STREAM_ID_LENGTH);
  if (issues.length > 0) throw new ValidationError("Invalid stream id", issues);
}

export function assertTypeName(type: unknown, what: string): asserts type is string {
  const issues = nameIssues(type, what, MAX_TYPE_LENGTH);
  if (issues.length > 0) throw new ValidationError(`Invalid ${what}`, issues);
}

export function assertNonNegativeInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`Invalid ${what}`, [
      { path: [], message: `${what} must be a non-negative integer, got ${kindOf(value)}` },
    ]);
  }
}

export function assertPositiveInteger(value: unknown, what: string): asserts value is number {
  assertNonNegativeInteger(value, what);
  if (value === 0) throw new ValidationError(`Invalid ${what}`, [{ path: [], message: `${what} must be at least 1` }]);
}

/** The longest delay `setTimeout` honours; a longer one fires at once on every runtime. */
export const MAX_DELAY_MS = 2_147_483_647;

/**
 * A wait in milliseconds: a finite number from 0 to {@link MAX_DELAY_MS}. `what` is the option's name
 * (the issue's path), `title` what it belongs to (`"Invalid retry options"`).
 */
export function assertDelayMs(value: unknown, what: string, title = "Invalid options"): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
    // Titled by what the option belongs to, as its other options' errors are ("Invalid retry options:
    // baseDelayMs: …"): titled by the option itself, the message said it twice ("Invalid baseDelayMs: baseDelayMs: …").
    throw new ValidationError(title, [
      { path: [what], message: `must be a number of milliseconds from 0 to ${MAX_DELAY_MS}, got ${kindOf(value)}` },
    ]);
  }
}

export function kindOf(value: unknown): string {
  if (value === null) return "null";
  // typeof says "object" for an array, and "must be an object, got object" contradicts itself.
  if (isArray(value)) return "an array";
  if (isArray(value) === undefined) return "a value that cannot be read";
  // A number past 2^53 - 1 fails "must be a non-negative integer" (a position, a version, a count) only
  // for being past it, and reads as one: "got 9007199254740992" alone contradicted the message.
  if (typeof value === "number")
    return value > Number.MAX_SAFE_INTEGER ? `${value}, over Number.MAX_SAFE_INTEGER` : `${value}`;
  if (typeof value === "string")
    return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  return typeof value;
}

/**
 * The issue of a callback that is not a function (`onError: must be a function, got "log"`), worded
 * alike by every part that takes one. An absent (`undefined`) callback passes unless `required`.
 */
export function functionIssues(value: unknown, path: string | readonly (string | number)[], required = false): Issue[] {
  if (typeof value === "function" || (value === undefined && !required)) return [];
  return [{ path: pathOf(path), message: `must be a function, got ${kindOf(value)}` }];
}

/**
 * A helper's `path` argument as an issue's path: a key, or a list of them. Anything else (a JavaScript
 * caller's slip: none, a number) is the value's own place, not a TypeError from the helper.
 */
function pathOf(path: unknown): readonly (string | number)[] {
  if (typeof path === "string") return [path];
  return isArray(path) === true ? (path as readonly (string | number)[]) : [];
}

/**
 * Throws a ValidationError (`Invalid <what>`, with {@link functionIssues}' issue) unless `value` is a
 * function; an absent one passes when not `required`.
 */
export function assertFunction(
  value: unknown,
  path: string | readonly (string | number)[],
  what: string,
  required = true,
): void {
  const issues = functionIssues(value, path, required);
  if (issues.length > 0) throw new ValidationError(`Invalid ${what}`, issues);
}

/**
 * The issue of an argument that must be an object (options, a layout, a descriptor) and is not
 * (`options: must be an object, got "name"`), worded alike by every part that takes one: for an
 * untyped caller who passed a string, null or an array instead. An absent (`undefined`) one passes
 * unless `required`.
 */
export function objectIssues(value: unknown, path: string | readonly (string | number)[], required = false): Issue[] {
  if (value === undefined && !required) return [];
  if (typeof value === "object" && value !== null && isArray(value) === false) return [];
  const got = value === undefined ? "nothing" : kindOf(value);
  return [{ path: pathOf(path), message: `must be an object, got ${got}` }];
}

/**
 * The issues of an options object's keys its reader does not take (`health.stroe: is not an option`),
 * one per key, each naming its path: a misspelt key was dropped without a word, and its default (no
 * probe, no auth hook) served instead of what was meant. Not an object: nothing to say here. Keys
 * that begin with `extensions` also pass (OpenAPI's `x-` fields, which a document may carry). From
 * JavaScript, `known` that is no list takes no key, and a `path` that is none is the value's own place.
 */
export function unknownKeyIssues(
  value: unknown,
  known: readonly string[],
  path: readonly (string | number)[] = [],
  extensions?: string,
): Issue[] {
  if (typeof value !== "object" || value === null) return [];
  const takes: readonly string[] = isArray(known) === true ? known : [];
  const at = pathOf(path);
  const issues: Issue[] = [];
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return [{ path: [...at], message: UNREADABLE }];
  }
  const extended = typeof extensions === "string";
  for (const key of keys) {
    if (!takes.includes(key) && (!extended || !key.startsWith(extensions))) {
      const options = extended ? `${takes.join(", ")}, or an extension named ${extensions}…` : takes.join(", ");
      issues.push({ path: [...at, key], message: `is not an option (the options are ${options})` });
    }
  }
  return issues;
}

/**
 * Throws a ValidationError (`Invalid <what>`) for options that are neither absent (undefined, null) nor an
 * object, or that have a key outside `known`: a misspelt `expectedVersion` would otherwise append with no
 * version check at all, a misspelt `mode` soft-delete what was meant to be erased.
 */
export function assertKnownOptions(options: unknown, known: readonly string[], what: string): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object" || isArray(options) !== false) {
    throw new ValidationError(`Invalid ${what}`, [{ path: [], message: `must be an object, got ${kindOf(options)}` }]);
  }
  let unknown = false;
  try {
    // On every append and read: no key list or issue list is made unless a key is unknown.
    for (const key in options) {
      if (Object.hasOwn(options, key) && !known.includes(key)) unknown = true;
    }
  } catch {
    // A Proxy trap of the caller's threw: refused like a wrong value, without its error, whose text
    // (a credential, a row) the library cannot vouch for.
    throw new ValidationError(`Invalid ${what}`, [{ path: [], message: UNREADABLE }]);
  }
  if (unknown) throw new ValidationError(`Invalid ${what}`, unknownKeyIssues(options, known));
}

/** The issue of a value whose reading threw (a revoked Proxy, a Proxy trap or getter of the caller's). */
export const UNREADABLE = "could not be read: reading it threw";

/**
 * Throws a ValidationError (`Invalid <what>`) when `issues` (from {@link unknownKeyIssues}) say the
 * options' keys could not be read: their fields would throw the caller's own error next.
 */
export function assertReadable(issues: readonly Issue[], what: string): void {
  if (issues.some((issue) => issue.message === UNREADABLE)) throw new ValidationError(`Invalid ${what}`, [...issues]);
}

/**
 * `Array.isArray`, or undefined for a value it throws on: a revoked Proxy, whose TypeError is no
 * EventFlowsError and would leave the library in place of the ValidationError the value deserves.
 */
export function isArray(value: unknown): boolean | undefined {
  try {
    return Array.isArray(value);
  } catch {
    return undefined;
  }
}

/** {@link assertKnownOptions}, then `options` as given: for a derived class's `super(...)` argument. */
export function knownOptions<T>(options: T, known: readonly string[], what: string): T {
  assertKnownOptions(options, known, what);
  return options;
}

/** Throws a ValidationError (`Invalid <what>`, with {@link objectIssues}' issue) unless `value` is an object. */
export function assertObject(
  value: unknown,
  path: string | readonly (string | number)[],
  what: string,
  required = true,
): void {
  const issues = objectIssues(value, path, required);
  if (issues.length > 0) throw new ValidationError(`Invalid ${what}`, issues);
}

/**
 * The clock `now` (or `Date.now`), read through a check and in whole milliseconds: a reading that is
 * not epoch milliseconds (NaN, an infinity, past 2^53) is a ValidationError naming `now`, before it
 * is used. A store that compared such a reading would answer wrongly and silently: every `NaN > x`
 * is false, so nothing ever looks live (an idempotency key claimed twice, an event handled twice).
 * Fractions are dropped on every store alike: PostgreSQL's and SQLite's integer columns cannot hold
 * them, and the in-memory and DynamoDB stores kept them, so one clock (`performance.timeOrigin +
 * performance.now()`) left a record live on two stores and expired on the other two.
 */
export function checkedClock(now: (() => number) | undefined): () => number {
  const clock = now ?? Date.now;
  return () => {
    const ms = clock();
    const whole = typeof ms === "number" ? Math.floor(ms) : Number.NaN;
    if (!Number.isSafeInteger(whole)) {
      throw new ValidationError("Invalid clock reading", [
        { path: ["now"], message: `now() must return epoch milliseconds, a finite number, got ${kindOf(ms)}` },
      ]);
    }
    return whole;
  };
}

/**
 * The issue of an optional integer option outside 1..max (`undefined` passes: the default applies).
 * Stores use it for their size and page options, so they all word it the same way.
 */
export function integerOptionIssues(value: unknown, key: string, max: number): Issue[] {
  if (value === undefined) return [];
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1 && value <= max
    ? []
    : [{ path: [key], message: `${key} must be an integer from 1 to ${max}` }];
}
