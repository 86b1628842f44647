import { describe, expect, test } from "bun:test";
import { ErrorCode, ValidationError } from "../errors.js";
import { AssertionError, assertEqual, assertRejects, eventually } from "./assert.js";

describe("assertRejects", () => {
  test("returns the error when it has the code", async () => {
    const error = await assertRejects(() => Promise.reject(new ValidationError("bad")), ErrorCode.Validation);
    expect(error).toBeInstanceOf(ValidationError);
  });

  test("when the action resolves, says what it resolved to", async () => {
    const failure = await assertRejects(async () => ({ version: 3 }), ErrorCode.Validation, "append").catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(AssertionError);
    expect((failure as Error).message).toBe(
      'append: expected error code VALIDATION_FAILED, but it resolved to {"version":3}',
    );
    const undefinedFailure = await assertRejects(() => undefined, ErrorCode.Validation).catch((e: unknown) => e);
    expect((undefinedFailure as Error).message).toEndWith("but it resolved to undefined");
  });

  test("when the action throws another code, names both", async () => {
    const failure = await assertRejects(() => {
      throw new RangeError("nope");
    }, ErrorCode.Validation).catch((e: unknown) => e);
    expect((failure as Error).message).toContain(
      "expected error code VALIDATION_FAILED, got undefined (RangeError: nope)",
    );
  });
});

describe("assertEqual and eventually", () => {
  test("assertEqual shows both values", () => {
    expect(() => assertEqual([2, 1], [1, 2], "order")).toThrow("order\n  expected: [1,2]\n  actual:   [2,1]");
  });

  test("eventually rethrows the last failure once the time is up", async () => {
    let calls = 0;
    const failure = await eventually(() => {
      calls++;
      throw new AssertionError(`attempt ${calls}`);
    }, 0).catch((e: unknown) => e);
    expect((failure as Error).message).toBe(`attempt ${calls}`);
    expect(calls).toBeGreaterThan(0);
  });
});
