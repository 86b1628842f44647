import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { queryReader } from "./query-string.js";

describe("queryReader", () => {
  const read = queryReader(
    v.object({
      name: v.string(),
      limit: v.optional(v.number()),
      exact: v.optional(v.boolean()),
      tags: v.optional(v.array(v.string())),
      pages: v.optional(v.array(v.number())),
      size: v.optional(v.picklist([10, 20])),
    }),
  );

  test("converts each property as its schema declares", () => {
    expect({ ...read("name=ada&limit=10&exact=false&tags=a&tags=b&pages=1&pages=2&size=20") }).toEqual({
      name: "ada",
      limit: 10,
      exact: false,
      tags: ["a", "b"],
      pages: [1, 2],
      size: 20,
    });
  });

  test("a single value for an array property is a one-item list", () => {
    expect({ ...read("tags=a") }).toEqual({ tags: ["a"] });
  });

  test("values that do not convert stay strings, for validation to reject", () => {
    expect({ ...read("limit=ten&exact=yes&limit2=1") }).toEqual({ limit: "ten", exact: "yes", limit2: "1" });
    expect({ ...read("limit=") }).toEqual({ limit: "" });
    expect({ ...read("limit=0x10") }).toEqual({ limit: "0x10" });
  });

  test("numbers in decimal and exponent notation convert", () => {
    expect({ ...read("limit=-1.5e3") }).toEqual({ limit: -1500 });
  });

  test("a repeated scalar becomes a list, which validation rejects", () => {
    expect({ ...read("name=a&name=b") }).toEqual({ name: ["a", "b"] });
    expect(v.safeParse(v.object({ name: v.string() }), read("name=a&name=b")).success).toBe(false);
  });

  test("prototype keys stay plain keys", () => {
    const payload = read("__proto__=x&constructor=y");
    expect(Object.getPrototypeOf(payload)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(payload, "__proto__")?.value).toBe("x");
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  test("a non-object schema gets the parameters as strings", () => {
    expect({ ...queryReader(v.unknown())("a=1&a=2&b=3") }).toEqual({ a: ["1", "2"], b: "3" });
  });
});

describe("queryReader with unions and tuples", () => {
  const schema = v.object({
    size: v.optional(v.union([v.literal(10), v.literal(20)])),
    flag: v.optional(v.union([v.boolean(), v.literal("auto")])),
    mixed: v.optional(v.union([v.number(), v.string()])),
    code: v.optional(v.union([v.number(), v.literal("7")])),
    sizes: v.optional(v.array(v.nullable(v.union([v.literal(1), v.picklist([2, 3])])))),
    pair: v.optional(v.tuple([v.number(), v.string(), v.boolean()])),
    pick: v.optional(v.picklist([1, 2, "3"])),
    kind: v.optional(v.enum({ One: 1, Two: "2" })),
  });
  const read = queryReader(schema);

  test("a union without a text option converts as its options allow; a value an option takes as text stays text", () => {
    expect({ ...read("size=20&flag=true&sizes=1&sizes=3") }).toEqual({ size: 20, flag: true, sizes: [1, 3] });
    expect({ ...read("flag=auto&mixed=5&code=7") }).toEqual({ flag: "auto", mixed: "5", code: "7" });
    expect({ ...read("code=8&size=x") }).toEqual({ code: 8, size: "x" });
  });

  test("a picklist or enum with number and text options keeps a value it takes as text as text, as a union does", () => {
    // schemathesis sent ?p=3 for picklist([1, 2, "3"]): read as the number 3, it was refused.
    expect({ ...read("pick=3&kind=2") }).toEqual({ pick: "3", kind: "2" });
    expect({ ...read("pick=2&kind=1") }).toEqual({ pick: 2, kind: 1 });
    expect({ ...read("pick=x&kind=1.5") }).toEqual({ pick: "x", kind: 1.5 });
  });

  test("each tuple position converts as its item declares", () => {
    expect({ ...read("pair=1&pair=1&pair=false") }).toEqual({ pair: [1, "1", false] });
    expect({ ...read("pair=2") }).toEqual({ pair: [2] });
  });

  test("property: every value the schema accepts, sent as query text, is read back into one it accepts", () => {
    const values = fc.record(
      {
        size: fc.constantFrom(10, 20),
        flag: fc.constantFrom(true, false, "auto"),
        mixed: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string()),
        code: fc.oneof(fc.integer(), fc.constant("7")),
        sizes: fc.array(fc.constantFrom(1, 2, 3), { minLength: 1, maxLength: 4 }),
        pair: fc.tuple(fc.integer(), fc.string(), fc.boolean()),
        pick: fc.constantFrom(1, 2, "3"),
        kind: fc.constantFrom(1, "2"),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(values, (payload) => {
        const search = new URLSearchParams();
        for (const [key, value] of Object.entries(payload)) {
          for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
        }
        const parsed = v.safeParse(schema, read(search.toString()));
        expect(parsed.issues).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("query string decoding matches URLSearchParams", () => {
  const read = queryReader(v.unknown());
  const viaUrlSearchParams = (search: string) => {
    const expected: Record<string, string | string[]> = {};
    for (const [key, value] of new URLSearchParams(search)) {
      const existing = expected[key];
      expected[key] =
        existing === undefined ? value : [...(typeof existing === "string" ? [existing] : existing), value];
    }
    return expected;
  };

  /** The names of the parameters whose name or value URLSearchParams read with U+FFFD: none is in the pieces. */
  const replacedIn = (expected: Record<string, string | string[]>) =>
    Object.entries(expected)
      .filter(([key, value]) => [key, value].flat().some((text) => text.includes("\uFFFD")))
      .map(([key]) => key);

  test("property: any query string parses as URLSearchParams parses it, but escapes of bytes that are not UTF-8 are refused", () => {
    const piece = fc.constantFrom(
      ..."a b = & + % %2 %20 %C3%A9 %E2%82 %ZZ é k %FF %C0%AF %ED%A0%80 %F0%9F%98%80".split(" "),
      " ",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (pieces) => {
        const search = pieces.join("");
        const expected = viaUrlSearchParams(search);
        const refused = replacedIn(expected);
        if (refused.length === 0) {
          expect({ ...read(search) }).toEqual(expected);
          return;
        }
        let error: unknown;
        try {
          read(search);
        } catch (thrown) {
          error = thrown;
        }
        expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
        const paths = (error as { issues: { path: string[] }[] }).issues.map((issue) => issue.path[0]);
        expect([...new Set(paths)].sort()).toEqual(refused.sort());
      }),
      { numRuns: 500 },
    );
  });

  test("plus as space, percent escapes, empty values, keys without =, malformed escapes", () => {
    for (const search of [
      "a=1&b=two+words&c=%C3%A9t%C3%A9",
      "a=&b&&c=x=y",
      "a=%ZZ&b=%2&c=100%",
      "k%20ey=v%26al",
      "a=1&a=2&a=3",
      "",
    ]) {
      expect({ ...read(search) }).toEqual(viaUrlSearchParams(search));
    }
  });
});

// URLSearchParams reads them as U+FFFD: another value than the client's (`%ED%A0%80` is an encoded
// lone surrogate, which the live filters refuse), so they are refused, as invalid UTF-8 in a body is.
describe("escapes of bytes that are not UTF-8", () => {
  const issuesOf = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return { code: (error as { code?: string }).code, issues: (error as { issues?: unknown }).issues };
    }
    return "read";
  };

  test("are refused naming the parameter, in its value or its name, whatever else is in the query", () => {
    const read = queryReader(v.unknown());
    const because = "the value has percent-escapes of bytes that are not UTF-8";
    for (const [search, path] of [
      ["category=%ED%A0%80", "category"],
      ["a=1&b=%FF&c=3", "b"],
      ["b=x%C0%AFy", "b"],
      ["b=%E2%82", "b"],
      ["b=%E2%82%ZZ", "b"],
      ["b+c=%F4%90%80%80", "b c"],
    ] as const) {
      expect([search, issuesOf(() => read(search))]).toEqual([
        search,
        { code: "VALIDATION_FAILED", issues: [{ path: [path], message: because }] },
      ]);
    }
    expect(issuesOf(() => read("%FF=1"))).toEqual({
      code: "VALIDATION_FAILED",
      issues: [{ path: ["\uFFFD"], message: "the name has percent-escapes of bytes that are not UTF-8" }],
    });
  });

  test("in a parameter an object schema does not name (and drops), they are read as URLSearchParams reads them", () => {
    const read = queryReader(v.object({ name: v.string() }));
    expect({ ...read("name=ok&utm=%E9t%E9") }).toEqual({ name: "ok", utm: "\uFFFDt\uFFFD" });
    expect(issuesOf(() => read("name=%E9t%E9&utm=x"))).toMatchObject({
      code: "VALIDATION_FAILED",
      issues: [{ path: ["name"] }],
    });
  });
});
