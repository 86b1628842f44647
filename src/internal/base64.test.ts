import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { tableFromBase64 as fromBase64, tableToBase64 as toBase64 } from "./base64.js";

const viaBinary = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

describe("base64", () => {
  test("the table codec (where the engine has none) agrees with btoa/atob for any bytes, and round-trips (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(viaBinary(bytes));
        expect(fromBase64(text)).toEqual(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
      }),
    );
  });

  test("the table codec refuses what is not padded base64", () => {
    for (const bad of ["!!", "QQ", "QQ=", "Q===", "QUJD!", "QU\u00e9D", "QUJ\u20acRA=="]) {
      expect(() => fromBase64(bad)).toThrow(SyntaxError);
    }
    expect(fromBase64("")).toEqual(new Uint8Array(0));
  });
});
