import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { queryReader } from "./query-string.js";
import {
  type CharSource,
  isDecimalNumber,
  isVisibleAscii,
  jsonNestingDepth,
  MAX_NUMBER_TEXT_LENGTH,
} from "./text-scan.js";

/** A string whose character reads are counted: the scanners' steps. */
function counted(text: string): CharSource & { reads: number } {
  return {
    reads: 0,
    length: text.length,
    charCodeAt(index: number) {
      this.reads++;
      return text.charCodeAt(index);
    },
  };
}

// The grammar the number check implements, as a reference for short inputs only.
const REFERENCE = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

describe("isDecimalNumber", () => {
  test("accepts decimal and exponent notation, refuses the rest", () => {
    for (const good of ["0", "12", "-1.5", ".5", "3.", "1e7", "-1.5e-3", "2E+10"]) {
      expect(isDecimalNumber(good)).toBe(true);
    }
    for (const bad of ["", "-", ".", "e1", "1e", "1e+", "0x10", "1.2.3", "--1", "1 ", "Infinity", "NaN", "+1"]) {
      expect(isDecimalNumber(bad)).toBe(false);
    }
  });

  test("property: agrees with the reference grammar on short inputs", () => {
    const text = fc.string({ unit: fc.constantFrom("0", "7", ".", "-", "+", "e", "E", "x"), maxLength: 12 });
    fc.assert(
      fc.property(text, (input) => expect(isDecimalNumber(input)).toBe(REFERENCE.test(input))),
      {
        numRuns: 2000,
      },
    );
  });

  test("steps: each character is read at most once, and text over the bound is not read at all", () => {
    const adversarial = (n: number) => [
      `${"1".repeat(n)}x`,
      `${"1".repeat(n)}.${"1".repeat(n)}e`,
      `-${"9".repeat(n)}e-${"9".repeat(n)}!`,
      `.${"0".repeat(n)}`,
    ];
    for (const n of [1, 10, 30, 31]) {
      for (const input of adversarial(n)) {
        const source = counted(input);
        isDecimalNumber(source);
        expect(source.reads).toBeLessThanOrEqual(input.length);
      }
    }
    const huge = counted("1".repeat(16_000));
    expect(isDecimalNumber(huge)).toBe(false);
    expect(huge.reads).toBe(0);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (input) => {
        const source = counted(input);
        isDecimalNumber(source);
        expect(source.reads).toBeLessThanOrEqual(Math.min(input.length, MAX_NUMBER_TEXT_LENGTH));
      }),
    );
  });

  test("a 16,000-digit query value stays a string, for the schema to refuse", () => {
    const read = queryReader(v.object({ n: v.number() }));
    const digits = "1".repeat(16_000);
    expect(read(`n=${digits}x`).n).toBe(`${digits}x`);
    expect(read(`n=${digits}`).n).toBe(digits);
    expect(read("n=-2.5e3").n).toBe(-2500);
  });
});

describe("isVisibleAscii", () => {
  test("visible ASCII only, one read per character at most", () => {
    expect(isVisibleAscii("abc-123_~!")).toBe(true);
    for (const bad of ["", "a b", "é", "a\u0000"]) expect(isVisibleAscii(bad)).toBe(false);
    const source = counted("k".repeat(300));
    isVisibleAscii(source);
    expect(source.reads).toBe(300);
  });
});

describe("jsonNestingDepth", () => {
  const encoder = new TextEncoder();
  const depthOf = (value: unknown): number =>
    typeof value === "object" && value !== null
      ? 1 + Math.max(0, ...Object.values(value as Record<string, unknown>).map(depthOf))
      : 0;

  test("property: the depth of generated JSON, brackets in strings and keys not counted", () => {
    const text = fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", "é") });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        text,
        fc.integer(),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(text, tie("node"), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (json) => {
        const bytes = encoder.encode(JSON.stringify(json));
        expect(jsonNestingDepth(bytes, 1000)).toBe(depthOf(json));
      }),
      { numRuns: 1000 },
    );
  });

  test("property: generated depths are measured exactly, up to the limit plus one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 100 }), (depth, limit) => {
        const bytes = encoder.encode(`${'{"a":['.repeat(depth)}"]}"${"]}".repeat(depth)}`);
        expect(jsonNestingDepth(bytes, limit * 2)).toBe(Math.min(depth * 2, limit * 2 + 1));
      }),
    );
  });

  test("steps: stops reading once the limit is passed", () => {
    const bytes = encoder.encode("[".repeat(100_000));
    let reads = 0;
    const watched = new Proxy(bytes, {
      get(target, property) {
        if (typeof property === "string" && /^\d+$/.test(property)) reads++;
        return Reflect.get(target, property);
      },
    });
    expect(jsonNestingDepth(watched, 64)).toBe(65);
    expect(reads).toBe(65);
  });
});
