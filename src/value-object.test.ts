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

  test("typed arrays in props are copied, not frozen (JavaScript cannot freeze them): never a TypeError", () => {
    class Digest extends ValueObject<{ bytes: Uint8Array; words: Uint32Array[] }> {
      constructor(bytes: Uint8Array) {
        super({ bytes, words: [Uint32Array.from([7])] });
      }
    }
    const bytes = Uint8Array.from([1, 2, 3]);
    const digest = new Digest(bytes);
    bytes[0] = 9;
    expect([...digest.props.bytes]).toEqual([1, 2, 3]);
    expect(digest.equals(new Digest(Uint8Array.from([1, 2, 3])))).toBe(true);
    expect(Object.isFrozen(digest.props)).toBe(true);
  });

  test("Sets in props are compared by content, objects in them too", () => {
    class Tags extends ValueObject<{ tags: Set<{ name: string }>; codes: Set<string> }> {
      constructor(names: string[]) {
        super({ tags: new Set(names.map((name) => ({ name }))), codes: new Set(names) });
      }
    }
    expect(new Tags(["a", "b"]).equals(new Tags(["b", "a"]))).toBe(true);
    expect(new Tags(["a", "b"]).equals(new Tags(["a", "c"]))).toBe(false);
    expect(new Tags(["a", "a"]).equals(new Tags(["a", "b"]))).toBe(false);
  });
});
