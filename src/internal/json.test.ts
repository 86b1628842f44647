import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import {
  changedByJson,
  DEFAULT_MAX_JSON_DEPTH,
  isFlatJson,
  jsonIssues,
  jsonRoundTrip,
  MAX_JSON_DEPTH_LIMIT,
  NUL_KEY,
  NUL_STRING,
} from "./json.js";

/** `depth` levels of arrays and objects, alternating, around a number. */
function nested(depth: number, objectsFirst = true): unknown {
  let value: unknown = 1;
  for (let level = depth; level >= 1; level--) {
    value = (level % 2 === 0) === objectsFirst ? [value] : { k: value };
  }
  return value;
}

describe("jsonIssues depth limit", () => {
  test("accepts nesting up to the limit and refuses one level more, naming the limit (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * DEFAULT_MAX_JSON_DEPTH }), fc.boolean(), (depth, objectsFirst) => {
        const issues = jsonIssues(nested(depth, objectsFirst), ["data"]);
        if (depth <= DEFAULT_MAX_JSON_DEPTH) {
          expect(issues).toEqual([]);
          return;
        }
        expect(issues).toHaveLength(1);
        expect(issues[0]?.message).toContain(`limit of ${DEFAULT_MAX_JSON_DEPTH} levels`);
        // The path leads to the first container past the limit.
        expect(issues[0]?.path).toHaveLength(1 + DEFAULT_MAX_JSON_DEPTH);
      }),
    );
  });

  test("a configured limit applies exactly, and JSON.stringify of accepted data never overflows (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_JSON_DEPTH_LIMIT }),
        fc.integer({ min: 0, max: MAX_JSON_DEPTH_LIMIT + 10 }),
        (maxDepth, depth) => {
          const value = nested(depth);
          const accepted = jsonIssues(value, [], { maxDepth }).length === 0;
          expect(accepted).toBe(depth <= maxDepth);
          if (accepted) expect(JSON.parse(JSON.stringify(value))).toEqual(value as never);
        },
      ),
      { numRuns: 50 },
    );
  });

  test("data far deeper than any stack is refused with issues, not a RangeError", () => {
    const deep = nested(50_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const issues = jsonIssues(deep);
    expect(issues[0]?.message).toBe(
      `nested deeper than the limit of ${DEFAULT_MAX_JSON_DEPTH} levels of arrays and objects`,
    );
  });

  test("wide values are checked whole, in document order", () => {
    const wide = Array.from({ length: 100_000 }, (_, i) => ({ i, tags: ["a", "b"] }));
    expect(jsonIssues(wide)).toEqual([]);
    const bad = { a: [1, 2n], b: { c: Number.NaN }, d: () => 0 };
    expect(jsonIssues(bad).map((issue) => issue.path)).toEqual([["a", 1], ["b", "c"], ["d"]]);
  });
});

describe("jsonIssues with refuseNul", () => {
  test("U+0000 in a string is named by its path, in a key by the object holding it; neither is quoted", () => {
    const value = { a: "x\u0000y", b: [1, { c: "\u0000" }], d: { "k\u0000": { deeper: "\u0000" } }, e: "fine" };
    expect(jsonIssues(value)).toEqual([]);
    expect(jsonIssues(value, ["data"], { refuseNul: true })).toEqual([
      { path: ["data", "a"], message: NUL_STRING },
      { path: ["data", "b", 1, "c"], message: NUL_STRING },
      // The key's value is not walked: every path below would hold the key.
      { path: ["data", "d"], message: NUL_KEY },
    ]);
    expect(jsonIssues("\u0000", ["data"], { refuseNul: true })).toEqual([{ path: ["data"], message: NUL_STRING }]);
    // Escaped in the text, it is no NUL.
    expect(jsonIssues({ "\\u0000": "\\u0000" }, [], { refuseNul: true })).toEqual([]);
  });

  test("the fast path agrees with the walk, with and without refuseNul (property)", () => {
    const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("\u0000", "a\u0000", "\ud800", "ok"));
    const flat = fc.oneof(
      fc.oneof(text, fc.integer(), fc.constant(null)),
      fc.array(fc.oneof(text, fc.integer()), { maxLength: 4 }),
      fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 4 }),
    );
    fc.assert(
      fc.property(flat, fc.boolean(), (value, refuseNul) => {
        const clean = jsonIssues(value, [], { refuseNul }).length === 0;
        // isFlatJson may say "walk it" of a good value (one without Object.prototype), never "fine" of a bad one.
        if (isFlatJson(value, refuseNul)) expect(clean).toBe(true);
        const hasNul = JSON.stringify(value).includes("\\u0000");
        if (refuseNul && hasNul) expect([clean, isFlatJson(value, true)]).toEqual([false, false]);
      }),
    );
  });
});

describe("jsonIssues on values whose reading throws", () => {
  test("a throwing getter, Proxy trap or array index, at any depth, is an issue at the value's path, not the raw error", () => {
    const getter = {
      get x(): never {
        throw new TypeError("getter boom: secret");
      },
    };
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new RangeError("trap");
        },
      },
    );
    const index = new Proxy([1, 2], {
      get: (target, key) =>
        key === "1"
          ? (() => {
              throw new Error("index");
            })()
          : Reflect.get(target, key),
    });
    for (const value of [getter, { ok: 1, deep: [{ getter }] }, trap, [index]]) {
      const issues = jsonIssues(value, ["state"], { refuseNul: true });
      expect(issues).toEqual([{ path: ["state"], message: "could not be read as JSON data: reading it threw" }]);
    }
    // What the caller's code threw says nothing about its message (it may hold anything).
    expect(JSON.stringify(jsonIssues(getter))).not.toContain("secret");
  });
});

describe("the event store refuses data nested past its limit", () => {
  test("the in-memory store applies the core's default", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Deep-1", [{ type: "A", data: nested(DEFAULT_MAX_JSON_DEPTH) }]);
    const refused = store.appendToStream("Deep-1", [
      { type: "A", data: { ok: 1 }, metadata: { trace: nested(DEFAULT_MAX_JSON_DEPTH) as never } },
      { type: "B", data: nested(100_000) },
    ]);
    await expect(refused).rejects.toThrow(ValidationError);
    await expect(refused).rejects.toThrow(`0.metadata.trace`);
    await expect(refused).rejects.toThrow(`limit of ${DEFAULT_MAX_JSON_DEPTH} levels`);
    expect(await store.getStreamVersion("Deep-1")).toBe(1);
  });

  test("maxJsonDepth configures it, within 1 to 1,000", async () => {
    const store = new InMemoryEventStore({ maxJsonDepth: 3 });
    await store.appendToStream("Deep-2", [{ type: "A", data: nested(3) }]);
    await expect(store.appendToStream("Deep-2", [{ type: "A", data: nested(4) }])).rejects.toThrow("limit of 3 levels");
    const roomy = new InMemoryEventStore({ maxJsonDepth: MAX_JSON_DEPTH_LIMIT });
    await roomy.appendToStream("Deep-3", [{ type: "A", data: nested(MAX_JSON_DEPTH_LIMIT) }]);
    for (const maxJsonDepth of [0, 1.5, MAX_JSON_DEPTH_LIMIT + 1, Number.NaN, "64"]) {
      expect(() => new InMemoryEventStore({ maxJsonDepth: maxJsonDepth as number })).toThrow(
        "maxJsonDepth must be an integer from 1 to 1000",
      );
    }
  });
});

describe("jsonRoundTrip", () => {
  test("equals a JSON round trip for every value jsonIssues accepts, and shares no container with it (property)", () => {
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue(),
        fc.constantFrom(-0, undefined),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("value"), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), withUndefined), (value) => {
        fc.pre(jsonIssues(value).length === 0);
        const copy = jsonRoundTrip(value);
        expect(copy).toStrictEqual(JSON.parse(JSON.stringify(value)));
        expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
        expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
        if (Object.keys(value).length > 0) expect(copy).not.toBe(value);
      }),
    );
  });

  test("changedByJson is true exactly when the round trip gives something else: -0, undefined, no prototype (property)", () => {
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 1 }),
        fc.constantFrom(-0, undefined),
        fc.array(tie("value"), { maxLength: 4 }),
        fc.dictionary(fc.oneof(fc.string(), fc.constant("__proto__")), tie("value"), { maxKeys: 4 }),
        fc
          .dictionary(fc.string(), tie("value"), { maxKeys: 2 })
          .map((entries) => Object.assign(Object.create(null) as object, entries)),
      ),
    })).value;
    // Equal as JSON gives values back: Object.is for numbers, the same own keys, plain prototypes.
    const same = (a: unknown, b: unknown): boolean => {
      if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b);
      if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
      const keys = Object.keys(a);
      if (keys.length !== Object.keys(b).length) return false;
      return keys.every((key) => Object.hasOwn(b, key) && same((a as never)[key], (b as never)[key]));
    };
    fc.assert(
      fc.property(value, (v) => {
        fc.pre(jsonIssues(v).length === 0);
        expect(changedByJson(v)).toBe(!same(v, JSON.parse(JSON.stringify(v))));
      }),
    );
  });

  test("a mutated copy leaves the original as it was", () => {
    const original = { items: [{ sku: "A" }], total: 1 };
    const copy = jsonRoundTrip(original);
    copy.items[0] = { sku: "B" };
    copy.total = 2;
    expect(original).toEqual({ items: [{ sku: "A" }], total: 1 });
  });
});
