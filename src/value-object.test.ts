import { describe, expect, test } from "bun:test";
import fc from "fast-check";
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

/** Props data: what structuredClone copies and toEqual compares (no NaN, no invalid Date, no object Map keys). */
const { propsValue } = fc.letrec<{ propsValue: unknown }>((tie) => ({
  propsValue: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.string(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(undefined)),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie("propsValue"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("propsValue"), { maxKeys: 4 }),
    fc
      .array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie("propsValue")), { maxLength: 3 })
      .map((entries) => new Map(entries)),
    fc.array(tie("propsValue"), { maxLength: 3 }).map((items) => new Set(items)),
  ),
}));

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

  // With no enumerable keys to compare, each of these pairs was equal whatever it held (found by an
  // outside audit): compared by content now.
  test("bytes (ArrayBuffer, DataView), RegExps, boxed primitives and Errors are compared by content", () => {
    class Held extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    const pairs: [unknown, unknown, unknown][] = [
      [new Uint8Array([1]).buffer, new Uint8Array([1]).buffer, new Uint8Array(1000).buffer],
      [
        new DataView(new Uint8Array([1, 2]).buffer),
        new DataView(new Uint8Array([1, 2]).buffer),
        new DataView(new Uint8Array([1, 3]).buffer),
      ],
      [/^a$/, /^a$/, /^b$/i],
      [new Number(1), new Number(1), new Number(2)],
      [new Boolean(true), new Boolean(true), new Boolean(false)],
      [new Number(Number.NaN), new Number(Number.NaN), new Number(0)],
      [new Error("a"), new Error("a"), new Error("b")],
      [new TypeError("a"), new TypeError("a"), new RangeError("a")],
    ];
    for (const [a, same, other] of pairs) {
      expect([a, new Held(a).equals(new Held(same))]).toEqual([a, true]);
      expect([a, new Held(a).equals(new Held(other))]).toEqual([a, false]);
    }
  });

  test("-0 and 0 are equal, as after a JSON round trip (which keeps no -0); NaN is NaN", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    expect(Money.of(0, "EUR").equals(Money.of(-0, "EUR"))).toBe(true);
    expect(new Box([-0, { n: -0 }]).equals(new Box([0, { n: 0 }]))).toBe(true);
    expect(new Box(new Map([["a", -0]])).equals(new Box(new Map([["a", 0]])))).toBe(true);
    expect(new Box(Number.NaN).equals(new Box(Number.NaN))).toBe(true);
    expect(new Box(0).equals(new Box(Number.NaN))).toBe(false);
    const { json } = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(-0), fc.string(), fc.boolean()),
        fc.array(tie("json"), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie("json"), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(json, (value) => {
        expect(new Box(value).equals(new Box(JSON.parse(JSON.stringify(value))))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("two value objects made from the same props are equal, whatever the props hold: object Map keys, invalid Dates", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    // What the shared generator leaves out (toEqual cannot compare it), here: each copy holds its own
    // copy of an object key, and an invalid Date's time is NaN.
    const { data } = fc.letrec<{ data: unknown }>((tie) => ({
      data: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        propsValue,
        fc.constant(new Date(Number.NaN)),
        fc
          .array(
            fc.tuple(fc.oneof(fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }), tie("data")), tie("data")),
            {
              maxLength: 3,
            },
          )
          .map((entries) => new Map(entries)),
      ),
    }));
    fc.assert(
      fc.property(data, (value) => {
        expect(new Box(value).equals(new Box(value))).toBe(true);
      }),
      { numRuns: 500 },
    );
    const key = { sku: "TEA-001" };
    expect(new Box(new Map([[key, 1]])).equals(new Box(new Map([[{ sku: "TEA-001" }, 1]])))).toBe(true);
    expect(new Box(new Map([[key, 1]])).equals(new Box(new Map([[{ sku: "TEA-002" }, 1]])))).toBe(false);
    expect(new Box(new Map([[key, 1]])).equals(new Box(new Map([[key, 2]])))).toBe(false);
    expect(
      new Box(
        new Map([
          [{ a: 1 }, 1],
          [{ a: 1 }, 2],
        ]),
      ).equals(
        new Box(
          new Map([
            [{ a: 1 }, 2],
            [{ a: 1 }, 1],
          ]),
        ),
      ),
    ).toBe(true);
    expect(
      new Box(
        new Map([
          [{ a: 1 }, 1],
          [{ a: 1 }, 1],
        ]),
      ).equals(
        new Box(
          new Map([
            [{ a: 1 }, 1],
            [{ a: 2 }, 1],
          ]),
        ),
      ),
    ).toBe(false);
    expect(new Box(new Date(Number.NaN)).equals(new Box(new Date(0)))).toBe(false);
  });

  test("props nested past the stack are a ValidationError that says so, not one blaming functions or symbols", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    let deep: unknown = {};
    for (let i = 0; i < 500_000; i++) deep = { deep };
    expect(() => new Box(deep)).toThrow("props nest too deeply to copy");
  });

  test("props deep enough to copy but not to compare make equals a ValidationError that says so, not a RangeError", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    const nest = (depth: number) => {
      let deep: unknown = {};
      for (let i = 0; i < depth; i++) deep = { deep };
      return deep;
    };
    // The comparison takes two calls a level (equal, equalContents) where the copy takes one, so it runs out of
    // stack first (on Bun under bun test: at 19,000 levels, the copy at about 25,000). Deeper and deeper, until
    // the copy itself refuses the props.
    const compared: string[] = [];
    for (let depth = 1_000; compared.at(-1) !== "copy refused"; depth += 1_000) {
      let a: Box;
      let b: Box;
      try {
        a = new Box(nest(depth));
        b = new Box(nest(depth));
      } catch (error) {
        expect((error as Error).message).toContain("props nest too deeply to copy");
        compared.push("copy refused");
        continue;
      }
      try {
        compared.push(String(a.equals(b)));
      } catch (error) {
        expect({ depth, error }).toMatchObject({ error: { name: "ValidationError" } });
        expect((error as Error).message).toContain("props nest too deeply to compare");
        compared.push("compare refused");
      }
    }
    // Equal while the stack holds, then refused typed, before the copy is.
    expect(compared).toContain("true");
    expect(compared).toContain("compare refused");
  });

  test("props too deep to serialise make toJSON and JSON.stringify a ValidationError that says so, not a RangeError", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    const box = () => {
      let deep: unknown = 0;
      for (let i = 0; i < 1_000; i++) deep = { deep };
      return new Box(deep);
    };
    // Where JSON.stringify runs out of stack depends on the stack the caller left it: `serialise` runs with as
    // little as possible (at the deepest frame a recursion reaches, then one frame up at a time while it runs out
    // there). Props deep enough to run JSON.stringify out of stack on their own, a chain of value objects 100,000
    // levels deep, take seconds on Bun, which checks each level against the levels above it.
    const withLittleStack = (serialise: () => unknown): unknown => {
      const deeper = (): unknown => {
        try {
          return deeper();
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          return serialise();
        }
      };
      try {
        return deeper();
      } catch (error) {
        return error;
      }
    };
    for (const [where, serialise] of [
      ["JSON.stringify", (value: Box) => JSON.stringify(value)],
      ["toJSON", (value: Box) => value.toJSON()],
      ["JSON.stringify of data holding it", (value: Box) => JSON.stringify({ list: [value] })],
    ] as const) {
      const value = box();
      // Before, the runtime's RangeError left the serialisation at every frame where the stack ran out, and the
      // serialisation succeeded once far enough up: a RangeError or the JSON, depending on the caller's stack.
      const thrown = withLittleStack(() => serialise(value));
      expect({ where, name: (thrown as Error).name }).toEqual({ where, name: "ValidationError" });
      expect((thrown as Error).message).toContain("props nest too deeply to serialise");
      // With the stack to do it, the same value serialises: it was refused, not remembered as unserialisable.
      expect(JSON.parse(JSON.stringify(value))).toEqual(JSON.parse(JSON.stringify(value.props)));
    }
  });

  test("props JSON cannot hold (a BigInt, a cycle) make toJSON and JSON.stringify a ValidationError, not a TypeError", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [10n, { list: [1n] }, cycle]) {
      const box = new Box(value);
      expect(() => JSON.stringify(box)).toThrow(ValidationError);
      expect(() => box.toJSON()).toThrow("props are not JSON");
      expect(() => JSON.stringify([box])).toThrow(ValidationError);
    }
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

  test("value objects held in props keep their class (in objects, arrays, Maps and Sets), shared as they are", () => {
    class Line extends ValueObject<{
      price: Money;
      extras: Money[];
      byCode: Map<string, Money>;
      tags: Set<Money>;
      note: { total: Money };
    }> {
      static of(price: Money) {
        return new Line({
          price,
          extras: [price],
          byCode: new Map([["a", price]]),
          tags: new Set([price]),
          note: { total: price },
        });
      }
    }
    const price = Money.of(5, "EUR");
    const line = Line.of(price);
    const nested = [line.props.price, line.props.extras[0], line.props.byCode.get("a"), [...line.props.tags][0]];
    expect(nested.every((value) => value === price)).toBe(true);
    expect(line.props.note.total).toBeInstanceOf(Money);
    expect(line.props.price.add(Money.of(1, "EUR")).props.amount).toBe(6);
    expect(Object.isFrozen(line.props.price)).toBe(true);
    expect(line.equals(Line.of(Money.of(5, "EUR")))).toBe(true);
    expect(line.equals(Line.of(Money.of(6, "EUR")))).toBe(false);
    // toJSON all the way down: the nested value serialises as its data, not as { props: ... }.
    expect(JSON.parse(JSON.stringify(line))).toEqual({
      price: { amount: 5, currency: "EUR" },
      extras: [{ amount: 5, currency: "EUR" }],
      byCode: {},
      tags: {},
      note: { total: { amount: 5, currency: "EUR" } },
    });
  });

  test("other props are copied as structuredClone copies them: cycles, shared references, __proto__ keys", () => {
    class Box extends ValueObject<{ value: unknown }> {
      constructor(value: unknown) {
        super({ value });
      }
    }
    const copies = (value: unknown) => {
      const copy = new Box(value).props.value;
      expect(copy).toEqual(structuredClone(value));
      if (typeof value === "object" && value !== null) expect(copy).not.toBe(value);
    };
    fc.assert(fc.property(propsValue, copies), { numRuns: 500 });
    const shared = { n: 1 };
    const cycle: Record<string, unknown> = { shared, again: shared, at: new Date(0) };
    cycle.self = cycle;
    const copy = new Box(cycle).props.value as typeof cycle;
    expect([copy.self === copy, copy.shared === copy.again, copy.shared === shared]).toEqual([true, true, false]);
    const parsed = JSON.parse('{"__proto__": {"polluted": true}}');
    const withKey = new Box(parsed).props.value as Record<string, unknown>;
    expect([Object.hasOwn(withKey, "__proto__"), Object.getPrototypeOf(withKey) === Object.prototype]).toEqual([
      true,
      true,
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => new Box(new Map([["run", () => "secret body"]]))).toThrow(ValidationError);
    expect(() => new Box([Symbol("s")])).toThrow(ValidationError);
  });

  test("values holding cycles compare by content too: never a RangeError", () => {
    class Node extends ValueObject<{ name: string; next?: unknown; items?: unknown[] }> {
      constructor(props: { name: string; next?: unknown; items?: unknown[] }) {
        super(props);
      }
    }
    // A ring of `length` objects named by `names` (repeated), closed back on its first.
    const ring = (names: string[], length: number) => {
      const nodes = Array.from({ length }, (_, i) => ({
        name: names[i % names.length] as string,
        next: {} as unknown,
      }));
      nodes.forEach((node, i) => {
        node.next = nodes[(i + 1) % length];
      });
      return nodes[0] as { name: string; next: unknown };
    };
    expect(new Node(ring(["a"], 1)).equals(new Node(ring(["a"], 1)))).toBe(true);
    expect(new Node(ring(["a", "b"], 2)).equals(new Node(ring(["a", "b"], 2)))).toBe(true);
    expect(new Node(ring(["a", "b"], 2)).equals(new Node(ring(["a", "c"], 2)))).toBe(false);
    const list: unknown[] = [1];
    list.push(list);
    const same: unknown[] = [1];
    same.push(same);
    const other: unknown[] = [2];
    other.push(other);
    expect(new Node({ name: "l", items: list }).equals(new Node({ name: "l", items: same }))).toBe(true);
    expect(new Node({ name: "l", items: list }).equals(new Node({ name: "l", items: other }))).toBe(false);
    const looped = new Set<unknown>();
    looped.add(looped);
    const alike = new Set<unknown>();
    alike.add(alike);
    expect(new Node({ name: "s", next: looped }).equals(new Node({ name: "s", next: alike }))).toBe(true);
  });
});
