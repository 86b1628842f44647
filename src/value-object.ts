import { ValidationError } from "./errors.js";
import { deepEqual, deepFreeze } from "./internal/deep-equal.js";

/**
 * An immutable value compared by its contents. Subclasses validate in their constructor (or a
 * static factory) and expose what they need from `props`.
 *
 * @example
 * class Money extends ValueObject<{ amount: number; currency: string }> {
 *   add(other: Money) { return new Money({ ...this.props, amount: this.props.amount + other.props.amount }); }
 * }
 */
export abstract class ValueObject<Props extends object> {
  readonly props: Readonly<Props>;

  /** @throws {ValidationError} `props` holds what `structuredClone` cannot copy (a function, a symbol, a DOM node). */
  protected constructor(props: Props) {
    // A copy, so that the caller's object stays theirs to mutate. Value objects inside are kept as
    // they are: immutable already, so sharing them is safe, and they keep their class.
    let copy: Props;
    try {
      copy = copyProps(props, new Map()) as Props;
    } catch (error) {
      // The runtime's DataCloneError quotes the function's source on Node: named here, never shown.
      // A RangeError is the stack running out: the copy recurses a level at a time and has no limit of its own.
      throw new ValidationError(`Invalid ${new.target.name} props`, [
        {
          path: [],
          message:
            error instanceof RangeError
              ? "props nest too deeply to copy (the runtime's stack ran out): keep value objects shallow"
              : "props must be data structuredClone can copy: no functions, symbols or class-bound handles",
        },
      ]);
    }
    this.props = deepFreeze(copy);
    Object.freeze(this);
  }

  /**
   * Same class and structurally equal props.
   * @throws {ValidationError} the props nest too deeply to compare (the runtime's stack ran out).
   */
  equals(other: unknown): boolean {
    if (this === other) return true;
    if (!(other instanceof ValueObject) || other.constructor !== this.constructor) return false;
    try {
      return deepEqual(this.props, other.props);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // The stack ran out: the comparison takes two calls a level where the copy takes one, so props the
      // constructor copied can still be too deep to compare. Said as the constructor says it, never a RangeError.
      throw new ValidationError(`Cannot compare ${this.constructor.name} props`, [
        {
          path: [],
          message: "props nest too deeply to compare (the runtime's stack ran out): keep value objects shallow",
        },
      ]);
    }
  }

  /**
   * The props, as `JSON.stringify` serialises a value object. The first call serialises them once to check
   * that they can be: JSON.stringify's own TypeError or RangeError would leave the library otherwise.
   * @throws {ValidationError} the props hold what JSON cannot (a BigInt, a cycle), or nest too deeply to
   * serialise (the runtime's stack ran out).
   */
  toJSON(): Readonly<Props> {
    if (!serialisable.has(this)) checkSerialisable(this, this.props);
    return this.props;
  }
}

/** Value objects whose props serialised: immutable, so they always do (they are not serialised again to check). */
const serialisable = new WeakSet<ValueObject<object>>();
/** The value objects reached while an outer toJSON checks its props: its check covers theirs. */
let reached: ValueObject<object>[] | undefined;

/** Serialises `props` once, as JSON.stringify will: its TypeError or RangeError becomes a ValidationError. */
function checkSerialisable(value: ValueObject<object>, props: object): void {
  if (reached !== undefined) {
    reached.push(value);
    return;
  }
  reached = [value];
  try {
    JSON.stringify(props);
    for (const checked of reached) serialisable.add(checked);
  } catch (error) {
    // The kinds JSON.stringify throws (a BigInt or a cycle: TypeError; the stack: RangeError). Anything else is
    // a subclass's toJSON speaking for itself, and passes unchanged.
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    throw new ValidationError(`Cannot serialise ${value.constructor.name} props`, [
      {
        path: [],
        message:
          error instanceof RangeError
            ? "props nest too deeply to serialise (the runtime's stack ran out): keep value objects shallow"
            : "props are not JSON (a BigInt, a cycle): JSON.stringify cannot write them",
      },
    ]);
  } finally {
    reached = undefined;
  }
}

/**
 * What `structuredClone` makes of `value`, except that value objects inside plain objects, arrays,
 * Maps and Sets are kept (not turned into plain objects). `seen` keeps shared and circular references
 * shared and circular in the copy, as `structuredClone` does. Throws on a function or a symbol.
 */
function copyProps(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value === "function" || typeof value === "symbol") throw new TypeError("cannot be copied");
  if (typeof value !== "object" || value === null || value instanceof ValueObject) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value) || proto === Object.prototype || proto === null) {
    const copy = (Array.isArray(value) ? new Array(value.length) : {}) as Record<string, unknown>;
    seen.set(value, copy);
    for (const key of Object.keys(value)) {
      const item = copyProps((value as Record<string, unknown>)[key], seen);
      // A "__proto__" key (JSON.parse makes one) stays a key, as in structuredClone's copy.
      if (key === "__proto__") Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true });
      else copy[key] = item;
    }
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map();
    seen.set(value, copy);
    for (const [key, item] of value) copy.set(copyProps(key, seen), copyProps(item, seen));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    seen.set(value, copy);
    for (const item of value) copy.add(copyProps(item, seen));
    return copy;
  }
  // Dates, typed arrays, instances of other classes (copied as their data): as structuredClone copies them.
  const copy = structuredClone(value);
  seen.set(value, copy);
  return copy;
}
