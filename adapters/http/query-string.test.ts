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

  test("property: any query string parses as URLSearchParams parses it", () => {
    const piece = fc.constantFrom("a", "b", "=", "&", "+", "%", "%2", "%20", "%C3%A9", "%E2%82", "%ZZ", "é", " ", "k");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (pieces) => {
        const search = pieces.join("");
        expect({ ...read(search) }).toEqual(viaUrlSearchParams(search));
      }),
      { numRuns: 500 },
    );
  });

  test("plus as space, percent escapes, empty values, keys without =, malformed escapes", () => {
    for (const search of [
      "a=1&b=two+words&c=%C3%A9t%C3%A9",
      "a=&b&&c=x=y",
      "a=%ZZ&b=%E2%82&c=100%",
      "k%20ey=v%26al",
      "a=1&a=2&a=3",
      "",
    ]) {
      expect({ ...read(search) }).toEqual(viaUrlSearchParams(search));
    }
  });
});
