import { describe, expect, test } from "bun:test";
import { ErrorCode, ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { AssertionError, assert, assertEqual, assertRejects, collect, eventually } from "./assert.js";
import { untilHeadReadable, untilReadable } from "./feed.js";

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

  test("assertEqual's message tells apart values JSON would show alike (Maps, Sets, undefined, -0, classes, cycles)", () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const cycle: Record<string, unknown> = { name: "loop" };
    cycle.self = cycle;
    for (const [actual, expected, shown] of [
      [new Map([["a", 1]]), new Map([["a", 2]]), ['Map {"a" => 2}', 'Map {"a" => 1}']],
      [new Set([1]), new Set([2]), ["Set {2}", "Set {1}"]],
      [{ note: undefined }, {}, ["{}", '{"note":undefined}']],
      // -0 equals 0 (SameValueZero, as JSON keeps no -0), but a message still shows which side held it.
      [{ n: -0, m: 1 }, { n: 0, m: 2 }, ['{"n":0,"m":2}', '{"n":-0,"m":1}']],
      [new Money(5), { cents: 5 }, ['{"cents":5}', 'Money {"cents":5}']],
      [1n, 1, ["1", "1n"]],
      [new Uint8Array([1]), new Uint8Array([2]), ["Uint8Array [2]", "Uint8Array [1]"]],
      [new Date(Number.NaN), new Date(0), ["Date(1970-01-01T00:00:00.000Z)", "Date(invalid)"]],
      [cycle, { name: "loop" }, ['{"name":"loop"}', '{"name":"loop","self":[circular]}']],
    ] as const) {
      expect(() => assertEqual(actual, expected)).toThrow(
        `values differ\n  expected: ${shown[0]}\n  actual:   ${shown[1]}`,
      );
    }
    const long = Array.from({ length: 1000 }, (_, i) => i);
    const message = (() => {
      try {
        assertEqual(long, []);
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message?.split("\n")[2]?.length).toBeLessThan(520);
    expect(message).toContain("…");
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

  test("eventually fails once its time is up even when a check never settles", async () => {
    // The check never settles: a failure arriving at all is the 50 ms at work (no clock is read).
    const failure = await eventually(() => new Promise<void>(() => {}), 50).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AssertionError);
    expect((failure as Error).message).toBe("eventually: the check had not settled when its 50 ms were up");
    // A check that settles late but in time still passes.
    await eventually(() => new Promise<void>((resolve) => setTimeout(resolve, 20)), 1000);
  });
});

describe("misused helpers", () => {
  test("are refused with a ValidationError, never a TypeError of their own, a pass, or a wait without end", async () => {
    const refused = async (act: () => unknown) => {
      const error = await Promise.resolve()
        .then(act)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(ValidationError);
    };
    // With no code, any rejection without one (a RangeError) passed.
    await refused(() => assertRejects(() => Promise.reject(new RangeError("x")), undefined as never));
    await refused(() => assertRejects(() => Promise.reject(new RangeError("x")), ""));
    await refused(() => assertRejects(5 as never, ErrorCode.Validation));
    for (const source of [5, null, undefined, {}]) await refused(() => collect(source as never));
    expect(await collect([1, 2] as never)).toEqual([1, 2]);
    await refused(() => eventually(5 as never));
    // NaN never reaches the deadline: a failing check retried for ever.
    for (const timeoutMs of [Number.NaN, -1, Number.POSITIVE_INFINITY, "1000"]) {
      await refused(() => eventually(() => assert(false, "never"), timeoutMs as never));
    }
    await refused(() => eventually(() => assert(false, "never"), 10, Number.NaN));
    const store = new InMemoryEventStore();
    for (const [on, at] of [
      [null, 0],
      [{}, 0],
      [store, -1],
      [store, "x"],
      [store, { events: 5 }],
      [store, 1.5],
    ]) {
      await refused(() => untilReadable(on as never, at as never));
    }
    await refused(() => untilReadable(store, 0, Number.NaN));
    await refused(() => untilHeadReadable(null as never));
    expect(await untilHeadReadable(store)).toBe(0);
  });
});
