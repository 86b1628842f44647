import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../errors.js";
import { retryOnConcurrency } from "../messaging/middleware.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";

// Not a number of milliseconds setTimeout honours: negative, non-finite, past 2^31-1 (fires at once), not a number.
const badDelay = fc.oneof(
  fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "10", null, true),
  fc.double({ min: 2 ** 31, noNaN: true }),
);

describe("delay options are validated with typed errors", () => {
  test("subscribeToAll refuses a bad pollIntervalMs or retryDelayMs before starting (property)", () => {
    const store = new InMemoryEventStore();
    fc.assert(
      fc.property(badDelay, fc.constantFrom("pollIntervalMs", "retryDelayMs"), (value, option) => {
        let thrown: unknown;
        try {
          store.subscribeToAll({ handler: () => {}, [option]: value as number });
        } catch (error) {
          thrown = error;
        }
        expect(isValidationError(thrown)).toBe(true);
        expect((thrown as Error).message).toContain(`${option}: must be a number of milliseconds from 0 to 2147483647`);
      }),
    );
  });

  test("retryOnConcurrency refuses a bad baseDelayMs or maxAttempts (property)", () => {
    fc.assert(
      fc.property(badDelay, (value) => {
        expect(() => retryOnConcurrency({ baseDelayMs: value as number })).toThrow(
          "baseDelayMs: must be a number of milliseconds",
        );
      }),
    );
    expect(() => retryOnConcurrency({ maxAttempts: 0 })).toThrow("maxAttempts: must be a positive integer, got 0");
  });

  test("a handler or onError that is not a function is refused", () => {
    const store = new InMemoryEventStore();
    expect(() => store.subscribeToAll({ handler: 1 as never })).toThrow(
      "Invalid subscription: handler: must be a function, got 1",
    );
    expect(() => store.subscribeToAll({ handler: () => {}, onError: "log" as never })).toThrow(
      'Invalid subscription: onError: must be a function, got "log"',
    );
  });

  test("good values are accepted, 0 included", async () => {
    const store = new InMemoryEventStore();
    const subscription = store.subscribeToAll({ handler: () => {}, pollIntervalMs: 0.5, retryDelayMs: 0 });
    await subscription.stop();
    expect(typeof retryOnConcurrency({ baseDelayMs: 0, maxAttempts: 1 })).toBe("function");
  });
});
