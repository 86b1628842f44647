import { describe, expect, test } from "bun:test";
import { ValidationError } from "./errors.js";
import { compareUlids, defineId, isUlid, ulid, ulidTimestamp } from "./ids.js";

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
});
