import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "./errors.js";
import { compareUlids, defineId, type Id, isUlid, ulid, ulidTimestamp } from "./ids.js";

describe("ids", () => {
  test("ulid() makes valid ids that sort in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 1000 }, () => ulid());
    expect(ids.every(isUlid)).toBe(true);
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort(compareUlids)).toEqual(ids);
  });

  test("the timestamp is recoverable", () => {
    const before = Date.now();
    const id = ulid();
    const after = Date.now();
    const at = ulidTimestamp(id).getTime();
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });

  test("defineId creates, validates and parses branded ids", () => {
    const OrderId = defineId("Order");
    const id = OrderId.create();
    expect(OrderId.is(id)).toBe(true);
    expect(OrderId.parse(id.toLowerCase())).toBe(id);
    expect(OrderId.brand).toBe("Order");
    expect(OrderId.timestamp(id)).toBeInstanceOf(Date);
  });

  test("parse refuses what is not a ULID with a ValidationError naming the id type", () => {
    const OrderId = defineId("Order");
    for (const bad of ["", "123", "01J9Z!00000000000000000000", null, 42, undefined, "x".repeat(100)]) {
      expect(() => OrderId.parse(bad)).toThrow(ValidationError);
    }
    expect(() => OrderId.parse("nope")).toThrow(
      'Invalid Order id: expected a ULID (26 Crockford base-32 characters), got "nope"',
    );
    expect(isUlid(42)).toBe(false);
  });

  test("the time of what is not a ULID is a ValidationError; a first character over 7 is no ULID", () => {
    const OrderId = defineId("Order");
    for (const bad of ["nope", "", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", 42]) {
      expect(() => ulidTimestamp(bad as string)).toThrow(ValidationError);
      expect(() => OrderId.timestamp(bad as Id<"Order">)).toThrow(ValidationError);
    }
    expect(isUlid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ")).toBe(false);
    expect(() => OrderId.parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ")).toThrow(ValidationError);
    expect(isUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")).toBe(true);
    expect(ulidTimestamp("7ZZZZZZZZZZZZZZZZZZZZZZZZZ").getTime()).toBe(2 ** 48 - 1);
  });

  // Not as ulidx's isValid, which upper-cases first: "ſ" is "S" and "ß" "SS" there, so a 26-character id
  // holding one passed, was stored as given and read back 27 characters long once upper-cased (found by
  // an outside audit). Only Crockford's ASCII digits, in either case.
  test("isUlid takes 26 of Crockford's ASCII digits in either case, the first 0 to 7, whatever the characters", () => {
    const char = fc.constantFrom(..."0178Zzabhjkmnpstvwxy", ..."ILOUilou", "ſ", "ß", "ı", "ﬀ", "!", " ", "😀");
    const crockford = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
    fc.assert(
      fc.property(fc.array(char, { minLength: 24, maxLength: 28 }), (chars) => {
        const value = chars.join("");
        const ascii = [...value].every((c) => c.charCodeAt(0) < 0x80);
        expect(isUlid(value)).toBe(ascii && crockford.test(value.toUpperCase()));
      }),
      { numRuns: 2000 },
    );
    for (const id of [ulid(), ulid().toLowerCase(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"]) expect(isUlid(id)).toBe(true);
    const OrderId = defineId("Order");
    for (const id of [
      "0ſ".padEnd(26, "0"),
      "0ß".padEnd(25, "0"),
      "01J9ZB4SX3R8S9P6Q2K7M1N0Aß",
      "0ßJ9ZB4SX3R8S9P6Q2K7M1N0AB",
    ]) {
      expect(isUlid(id)).toBe(false);
      expect(() => OrderId.parse(id)).toThrow(ValidationError);
      expect(() => ulidTimestamp(id)).toThrow(ValidationError);
    }
  });

  test("a brand that is no name, and compareUlids of what is no string, are ValidationErrors, not TypeErrors", () => {
    for (const brand of ["", "  ", 5, null, undefined]) {
      expect(() => defineId(brand as never)).toThrow(ValidationError);
    }
    for (const [a, b] of [
      [5, ulid()],
      [ulid(), null],
      [undefined, undefined],
    ]) {
      expect(() => compareUlids(a as never, b as never)).toThrow(ValidationError);
    }
  });

  test("compareUlids orders by time whatever the case", () => {
    // 0 1 B… is later than 0 1 a… (B = 11, A = 10), though "B" < "a" as characters.
    const earlier = "01aaaaaaaaaaaaaaaaaaaaaaaa";
    const later = "01BAAAAAAAAAAAAAAAAAAAAAAA";
    expect(ulidTimestamp(earlier).getTime()).toBeLessThan(ulidTimestamp(later).getTime());
    expect([later, earlier].sort(compareUlids)).toEqual([earlier, later]);
    expect(compareUlids(earlier, earlier.toUpperCase())).toBe(0);
  });
});
