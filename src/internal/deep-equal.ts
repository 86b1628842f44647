/**
 * Structural equality for data: primitives, arrays, plain objects, Dates, Maps and Sets; bytes
 * (ArrayBuffer, DataView, typed arrays), RegExps, boxed primitives and Errors by their content. Circular
 * values compare too (a value object's props keep the cycles they were given): a pair met again
 * while it is being compared counts as equal, so two cycles of the same shape are equal.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  return equal(a, b, undefined);
}

/** The pairs being compared, on the way down: made at the first pair of objects. */
type Comparing = Map<object, Set<object>>;

function equal(a: unknown, b: unknown, given: Comparing | undefined): boolean {
  // SameValueZero, as Map keys and Set members are compared: -0 is 0 (JSON keeps no -0, so a value read
  // back from a store equals the one written), and NaN is NaN.
  // biome-ignore lint/suspicious/noSelfCompare: a !== a is NaN, of a number or a Number's primitive alike
  if (a === b || (a !== a && b !== b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  // Object.is: two invalid Dates (NaN) hold the same content, as two NaNs are equal here.
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  // What keeps its content out of its enumerable keys: compared by that content. With no keys to
  // compare, two ArrayBuffers of different bytes, two RegExps or two Errors of different messages
  // were equal (found by an outside audit).
  if (a instanceof ArrayBuffer || a instanceof DataView) return equalBytes(bytesOf(a), bytesOf(b as DataView));
  if (a instanceof RegExp || a instanceof Number || a instanceof Boolean || a instanceof String || a instanceof Error) {
    // Their text: a RegExp's source and flags, a boxed value's (NaN "NaN", -0 "0"), an Error's name and message.
    if (String(a) !== String(b)) return false;
    if (!(a instanceof Error)) return true;
  }
  const comparing = given ?? new Map<object, Set<object>>();
  let partners = comparing.get(a);
  if (partners?.has(b)) return true;
  if (partners === undefined) {
    partners = new Set();
    comparing.set(a, partners);
  }
  partners.add(b);
  try {
    return equalContents(a, b, comparing);
  } finally {
    partners.delete(b);
  }
}

function equalContents(a: object, b: object, comparing: Comparing): boolean {
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], other[i], comparing)) return false;
    return true;
  }
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    const unmatched: [unknown, unknown][] = [];
    for (const [key, value] of a) {
      if (!other.has(key)) unmatched.push([key, value]);
      else if (!equal(value, other.get(key), comparing)) return false;
    }
    if (unmatched.length === 0) return true;
    // Keys that are objects are compared by content, as a Set's members are (a value object's props
    // are copies, so two built from the same key object hold two copies of it): each entry pairs with
    // one not yet taken whose key and value are equal.
    const candidates = [...other].filter(([key]) => !a.has(key));
    for (const [key, value] of unmatched) {
      const match = candidates.findIndex(
        ([otherKey, otherValue]) => equal(key, otherKey, comparing) && equal(value, otherValue, comparing),
      );
      if (match === -1) return false;
      candidates.splice(match, 1);
    }
    return true;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    if (a.size !== other.size) return false;
    const unmatched: unknown[] = [];
    for (const value of a) if (!other.has(value)) unmatched.push(value);
    if (unmatched.length === 0) return true;
    // Members that are objects are compared by content: each pairs with an equal one not yet taken.
    const candidates = [...other].filter((value) => !a.has(value));
    for (const value of unmatched) {
      const match = candidates.findIndex((candidate) => equal(value, candidate, comparing));
      if (match === -1) return false;
      candidates.splice(match, 1);
    }
    return true;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.hasOwn(b, key)) return false;
    if (!equal((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], comparing)) return false;
  }
  return true;
}

function bytesOf(bytes: ArrayBuffer | DataView): Uint8Array {
  return bytes instanceof DataView
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Freezes a value and everything reachable from it. Typed arrays are left as they are: JavaScript
 * cannot freeze one that has elements (`Object.freeze` throws a TypeError).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
