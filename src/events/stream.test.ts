import { describe, expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { categoryOf, defineStream, parseStreamName, streamName } from "./stream.js";

describe("streams", () => {
  test("names are <category>-<id>; ids may contain the separator", () => {
    expect(streamName("Order", "01J")).toBe("Order-01J");
    expect(parseStreamName("Order-abc-def")).toEqual({ category: "Order", id: "abc-def" });
    expect(parseStreamName("Lonely")).toEqual({ category: "Lonely", id: "" });
    expect(categoryOf("Order-abc-def")).toBe("Order");
    expect(categoryOf("Lonely")).toBe("Lonely");
  });

  test("defineStream names, recognises and parses one category's streams", () => {
    const Orders = defineStream("Order");
    expect(Orders.name("42")).toBe("Order-42");
    expect(Orders.matches("Order-42")).toBe(true);
    expect(Orders.matches("Orders-42")).toBe(false);
    expect(Orders.matches("Order-")).toBe(false);
    expect(Orders.idOf("Order-4-2")).toBe("4-2");
    expect(() => Orders.idOf("Customer-1")).toThrow(ValidationError);
  });

  test("bad categories and ids are ValidationErrors", () => {
    expect(() => defineStream("Has-Dash")).toThrow(ValidationError);
    expect(() => defineStream("")).toThrow(ValidationError);
    expect(() => streamName("Order", "")).toThrow(ValidationError);
    expect(() => streamName("Order", "x".repeat(600))).toThrow(ValidationError);
    expect(() => streamName("Order", "line\nbreak")).toThrow(ValidationError);
  });

  test("a stream name that is not a string (untyped input) is a ValidationError, and matches() is false", () => {
    const Orders = defineStream("Order");
    for (const value of [42, null, undefined, {}]) {
      expect(() => categoryOf(value as string)).toThrow(ValidationError);
      expect(() => parseStreamName(value as string)).toThrow(ValidationError);
      expect(() => Orders.idOf(value as string)).toThrow(ValidationError);
      expect(Orders.matches(value as string)).toBe(false);
    }
    // Another category's long name is described, not echoed.
    const long = `Customer-${"x".repeat(5_000)}`;
    expect(() => Orders.idOf(long)).toThrow('Stream a 5009-character string is not in category "Order"');
  });
});
