import { describe, expect, test } from "bun:test";
import { ValidationError } from "./errors.js";
import { ValueObject } from "./value-object.js";

class Money extends ValueObject<{ amount: number; currency: string }> {
  static of(amount: number, currency: string) {
    if (!Number.isInteger(amount)) throw new RangeError("amount in minor units");
    return new Money({ amount, currency });
  }
  add(other: Money) {
    return Money.of(this.props.amount + other.props.amount, this.props.currency);
  }
}

class Address extends ValueObject<{ lines: string[]; country: string }> {
  constructor(lines: string[], country: string) {
    super({ lines, country });
  }
}

class Other extends ValueObject<{ amount: number; currency: string }> {
  constructor() {
    super({ amount: 1, currency: "EUR" });
  }
}

describe("ValueObject", () => {
  test("equality is structural, and class-sensitive", () => {
    expect(Money.of(1, "EUR").equals(Money.of(1, "EUR"))).toBe(true);
    expect(Money.of(1, "EUR").equals(Money.of(2, "EUR"))).toBe(false);
    expect(Money.of(1, "EUR").equals(new Other())).toBe(false);
    expect(Money.of(1, "EUR").equals({ amount: 1, currency: "EUR" })).toBe(false);
    expect(new Address(["a", "b"], "NL").equals(new Address(["a", "b"], "NL"))).toBe(true);
    expect(new Address(["a", "b"], "NL").equals(new Address(["b", "a"], "NL"))).toBe(false);
  });

  test("values are immutable, deeply, and independent of the caller's object", () => {
    const lines = ["street 1"];
    const address = new Address(lines, "NL");
    lines.push("changed");
    expect(address.props.lines).toEqual(["street 1"]);
    expect(() => {
      (address.props.lines as string[]).push("x");
    }).toThrow(TypeError);
    expect(() => {
      (address as unknown as { props: unknown }).props = {};
    }).toThrow(TypeError);
  });

  test("props that structuredClone cannot copy are a ValidationError naming the class, not a DataCloneError", () => {
    class Callback extends ValueObject<{ run: () => void }> {
      constructor() {
        super({ run: () => "secret body" });
      }
    }
    expect(() => new Callback()).toThrow(ValidationError);
    expect(() => new Callback()).toThrow(/^Invalid Callback props: props must be data/);
  });

  test("operations return new values; JSON is the props", () => {
    const sum = Money.of(1, "EUR").add(Money.of(2, "EUR"));
    expect(sum.props.amount).toBe(3);
    expect(JSON.stringify(sum)).toBe('{"amount":3,"currency":"EUR"}');
  });
});
