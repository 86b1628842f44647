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

  protected constructor(props: Props) {
    // A copy, so that the caller's object stays theirs to mutate.
    this.props = deepFreeze(structuredClone(props));
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
