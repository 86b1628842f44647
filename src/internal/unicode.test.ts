import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { assertCheckpointId } from "../checkpoint/checkpoint-store.js";
import { ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { streamName } from "../events/stream.js";
import { CommandBus } from "../messaging/command-bus.js";
import { jsonIssues } from "./json.js";
import { compareCodePoints, isWellFormed, isWellFormedFallback, keepableText } from "./unicode.js";
import { assertStreamId, assertTypeName, isName, MAX_STREAM_ID_LENGTH, nameIssues } from "./validate.js";

// Any UTF-16 code units, lone surrogates included (fast-check's string units never produce those).
const codeUnits = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }),
      fc.integer({ min: 0xd800, max: 0xdfff }),
      fc.integer({ min: 0xa0, max: 0xffff }),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((units) => String.fromCharCode(...units));

/** A well-formedness check written from the definition: every surrogate is part of a high-low pair. */
function wellFormedByDefinition(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code >= 0xd800 && code <= 0xdfff) return false;
  }
  return true;
}

describe("well-formed UTF-16", () => {
  test("the fallback and the runtime's isWellFormed agree with the definition (property)", () => {
    fc.assert(
      fc.property(codeUnits, (text) => {
        const expected = wellFormedByDefinition(text);
        expect(isWellFormedFallback(text)).toBe(expected);
        expect(isWellFormed(text)).toBe(expected);
      }),
    );
  });

  test("a stream id's limit counts UTF-16 code units, as its message says: an emoji counts 2 (property)", () => {
    // Any code points, astral ones included, around the limit: 200 to 600 of them are 200 to 1,200 units.
    const suffix = fc
      .string({ unit: "binary", minLength: 200, maxLength: 600 })
      // No control characters: those are refused for their own reason.
      .map((text) => [...text].map((c) => ((c.codePointAt(0) as number) < 0x20 || c === "\x7f" ? "x" : c)).join(""));
    fc.assert(
      fc.property(suffix, (text) => {
        const id = `Order-${text}`;
        const issues = nameIssues(id, "stream id", MAX_STREAM_ID_LENGTH);
        expect(issues.length === 0).toBe(id.length <= MAX_STREAM_ID_LENGTH);
        if (id.length > MAX_STREAM_ID_LENGTH) {
          expect(issues[0]?.message).toBe(
            `stream id is ${id.length} UTF-16 code units long, over 512 (a character beyond U+FFFF, such as an emoji, counts 2)`,
          );
          expect(() => assertStreamId(id)).toThrow(ValidationError);
        } else assertStreamId(id);
      }),
      // No shrinking: a counterexample hundreds of code points long shrinks for minutes.
      { endOnFailure: true },
    );
    // 256 emoji are 256 characters but 512 units: the longest astral id; one more is refused.
    expect(nameIssues("😀".repeat(256), "stream id", MAX_STREAM_ID_LENGTH)).toEqual([]);
    expect(nameIssues(`${"😀".repeat(256)}a`, "stream id", MAX_STREAM_ID_LENGTH)[0]?.message).toStartWith(
      "stream id is 513 UTF-16 code units long, over 512",
    );
  });

  test("every name check refuses exactly the ill-formed names (property)", () => {
    fc.assert(
      fc.property(codeUnits, (suffix) => {
        const name = `Order-${suffix}`;
        const wellFormed = wellFormedByDefinition(name);
        const otherwiseValid = nameIssues(name.replace(/[\ud800-\udfff]/g, "x"), "name", MAX_STREAM_ID_LENGTH);
        if (otherwiseValid.length > 0) return;
        expect(nameIssues(name, "name", MAX_STREAM_ID_LENGTH).length === 0).toBe(wellFormed);
        const checks = [
          () => assertStreamId(name),
          () => assertTypeName(name, "event type"),
          () => assertCheckpointId(name),
        ];
        // streamName checks the id on its own too: only when the id alone is otherwise valid.
        const idAlone = nameIssues(suffix.replace(/[\ud800-\udfff]/g, "x"), "id", MAX_STREAM_ID_LENGTH);
        if (idAlone.length === 0) checks.push(() => streamName("Order", suffix));
        for (const check of checks) {
          if (wellFormed) check();
          else expect(check).toThrow("lone UTF-16 surrogate");
        }
      }),
    );
  });

  test("Order-\\uD800, Order-\\uDC00 and Order-? are not allowed to become one stream", async () => {
    const store = new InMemoryEventStore();
    await expect(store.appendToStream("Order-\uD800", [{ type: "A", data: null }])).rejects.toThrow(
      "Invalid stream id: stream id contains a lone UTF-16 surrogate",
    );
    await expect(store.appendToStream("Order-\uDC00", [{ type: "A", data: null }])).rejects.toThrow("surrogate");
    await expect(store.appendToStream("Order-1", [{ type: "\uDBFFx", data: null }])).rejects.toThrow(
      "0.type: event type contains a lone UTF-16 surrogate",
    );
    await store.appendToStream("Order-?", [{ type: "A", data: null }]);
    await store.appendToStream("Order-\u{1F600}", [{ type: "A", data: null }]);
    const commands = new CommandBus();
    expect(() => commands.register("Place\uD800", () => 1)).toThrow("surrogate");
  });

  test("strings and keys inside event data and metadata must be well-formed too", () => {
    expect(jsonIssues({ note: "a\uD800b" }, ["data"])).toEqual([
      { path: ["data", "note"], message: "a string contains a lone UTF-16 surrogate (ill-formed Unicode)" },
    ]);
    expect(jsonIssues({ "k\uDC00": 1 })).toEqual([
      { path: ["k\uDC00"], message: "a key contains a lone UTF-16 surrogate (ill-formed Unicode)" },
    ]);
    expect(jsonIssues({ emoji: "\u{1F600}", "\u{1F600}": ["\u{10FFFF}"] })).toEqual([]);
  });
});

describe("isName", () => {
  test("is true exactly when nameIssues finds nothing (property)", () => {
    const names = fc.oneof(
      codeUnits,
      fc.string({ maxLength: 20 }),
      fc.constantFrom("", " ", "\t a", "a\u0000b", "a\u007f", "x".repeat(21)),
      fc.anything(),
    );
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 20 }), (name, max) => {
        expect(isName(name, max)).toBe(nameIssues(name, "name", max).length === 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("compareCodePoints", () => {
  test("orders as UTF-8 bytes do (code points), where UTF-16's < puts U+10000 before U+F900", () => {
    // U+10000 is the surrogate pair D800 DC00, which UTF-16 code units order before U+F900.
    expect("\u{10000}" < "\uF900").toBe(true);
    expect(compareCodePoints("\uF900", "\u{10000}")).toBeLessThan(0);
    const utf8 = (s: string) => [...new TextEncoder().encode(s)];
    const byBytes = (a: string, b: string) => {
      const [x, y] = [utf8(a), utf8(b)];
      for (let i = 0; i < Math.min(x.length, y.length); i++)
        if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
      return x.length - y.length;
    };
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(byBytes(a, b)));
      }),
    );
  });
});

describe("keepableText", () => {
  test("cuts to max, then replaces U+0000 and lone surrogates with U+FFFD, as UTF-8 encoding would (property)", () => {
    const withNul = fc
      .tuple(codeUnits, fc.nat({ max: 12 }))
      .map(([text, at]) => `${text.slice(0, at)}${at % 3 === 0 ? "\u0000" : ""}${text.slice(at)}`);
    // The reference: TextEncoder writes U+FFFD for every lone surrogate; U+0000 is replaced by hand.
    const reference = (text: string, max: number) =>
      new TextDecoder().decode(new TextEncoder().encode(text.slice(0, max))).replaceAll("\u0000", "\ufffd");
    fc.assert(
      fc.property(withNul, fc.integer({ min: 1, max: 14 }), (text, max) => {
        const kept = keepableText(text, max);
        expect(kept).toBe(reference(text, max));
        expect(isWellFormed(kept)).toBe(true);
        expect(kept.includes("\u0000")).toBe(false);
        if (text.length <= max && isWellFormed(text) && !text.includes("\u0000")) expect(kept).toBe(text);
      }),
    );
  });
});

describe("the exported text helpers", () => {
  test("refuse what is no string with a ValidationError naming it, not the runtime's TypeError", async () => {
    const { compareCodePoints: compare, isWellFormedUnicode, toIssue, ValidationError } = await import("../index.js");
    for (const value of [null, undefined, 5, {}]) {
      expect(() => isWellFormedUnicode(value as never)).toThrow(ValidationError);
      expect(() => compare(value as never, "a")).toThrow(ValidationError);
      expect(() => compare("a", value as never)).toThrow(ValidationError);
    }
    // A number pair compared to NaN, which sorts nothing.
    expect(() => compare(5 as never, 6 as never)).toThrow(ValidationError);
    for (const issue of [null, undefined, 5, { message: "m", path: 5 }]) {
      expect(() => toIssue(issue as never)).toThrow(ValidationError);
    }
    expect([isWellFormedUnicode("a\ud800"), compare("\u{10000}", "\uf900") > 0]).toEqual([false, true]);
  });
});
