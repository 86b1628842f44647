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
    // A copy, so that the caller's object stays theirs to mutate.
    let copy: Props;
    try {
      copy = structuredClone(props);
    } catch {
      // The runtime's DataCloneError quotes the function's source on Node: named here, never shown.
      throw new ValidationError(`Invalid ${new.target.name} props`, [
        {
          path: [],
          message: "props must be data structuredClone can copy: no functions, symbols or class-bound handles",
        },
      ]);
    }
    this.props = deepFreeze(copy);
    Object.freeze(this);
  }

  /** Same class and structurally equal props. */
  equals(other: unknown): boolean {
    if (this === other) return true;
    if (!(other instanceof ValueObject) || other.constructor !== this.constructor) return false;
    return deepEqual(this.props, other.props);
  }

  toJSON(): Readonly<Props> {
    return this.props;
  }
}
