import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  bufferToBase64,
  fromBase64 as engineFromBase64,
  tableFromBase64 as fromBase64,
  fromBase64Into,
  tableFromBase64Into,
  tableToBase64 as toBase64,
} from "./base64.js";

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

  test("encoding through node:buffer (Node has no native codec) agrees with btoa, for views at any offset (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(7), fc.nat(7), (bytes, before, after) => {
        const backing = new Uint8Array(before + bytes.length + after).fill(0xff);
        backing.set(bytes, before);
        const view = backing.subarray(before, before + bytes.length);
        expect(bufferToBase64(view)).toBe(viaBinary(bytes));
        expect(toBase64(view)).toBe(viaBinary(bytes));
      }),
    );
  });

  test("the engine's codec (Bun, Workers) refuses what the table codec (Node) refuses: whitespace, missing padding, padding bits set", () => {
    // Bun and Workers read a sealed record wrapped at 76 characters, or unpadded, that Node called malformed.
    const refused = ["QUJD\nREVG", "QUJDREVG\n", "QUJD    ", "QU JDREVG===", "QUJ", "QQ", "QR==", "QUJ=", "QQ==\r\n"];
    const outcome = (decode: () => unknown) => {
      try {
        decode();
        return "read";
      } catch (error) {
        return error instanceof SyntaxError ? "refused" : String(error);
      }
    };
    for (const text of refused) {
      expect({
        text,
        engine: outcome(() => engineFromBase64(text)),
        table: outcome(() => fromBase64(text)),
        into: outcome(() => fromBase64Into(text, new Uint8Array(16))),
        tableInto: outcome(() => tableFromBase64Into(text, new Uint8Array(16))),
      }).toEqual({ text, engine: "refused", table: "refused", into: "refused", tableInto: "refused" });
    }
    for (const text of ["QQ==", "QUI=", "QUJD", ""]) expect(engineFromBase64(text)).toEqual(fromBase64(text));
  });

  test("the table codec refuses what is not padded base64", () => {
    for (const bad of ["!!", "QQ", "QQ=", "Q===", "QUJD!", "QU\u00e9D", "QUJ\u20acRA=="]) {
      expect(() => fromBase64(bad)).toThrow(SyntaxError);
    }
    expect(fromBase64("")).toEqual(new Uint8Array(0));
  });

  for (const [name, into] of [
    ["fromBase64Into (the engine's codec where it has one)", fromBase64Into],
    ["the table codec's", tableFromBase64Into],
  ] as const) {
    test(`${name} writes the bytes at the start of the target, or answers -1 when they do not fit`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (bytes, spare) => {
          const target = new Uint8Array(bytes.length + spare).fill(7);
          const written = into(toBase64(bytes), target);
          expect(written).toBe(bytes.length);
          expect(target.subarray(0, written)).toEqual(bytes);
          expect(Array.from(target.subarray(written))).toEqual(new Array(spare).fill(7));
          if (bytes.length > 0) expect(into(toBase64(bytes), new Uint8Array(bytes.length - 1))).toBe(-1);
        }),
      );
      for (const bad of ["QUJD!", "QQ=", "QUJ\u20acRA=="])
        expect(() => into(bad, new Uint8Array(8))).toThrow(SyntaxError);
    });
  }
});
