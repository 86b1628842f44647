import { describe, expect, spyOn, test } from "bun:test";
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

describe("subscribeToAll's signal and onError", () => {
  test("a signal that is not an AbortSignal is refused before anything starts", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Signal-1", [{ type: "A", data: 1 }]);
    let handled = 0;
    let thrown: unknown;
    try {
      store.subscribeToAll({ handler: () => void handled++, signal: {} as AbortSignal });
    } catch (error) {
      thrown = error;
    }
    expect(isValidationError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe("Invalid subscription: signal: must be an AbortSignal, got object");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toBe(0);
  });

  test("a signal that has fired already stops the subscription before it handles anything", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Signal-2", [{ type: "A", data: 1 }]);
    const controller = new AbortController();
    controller.abort();
    let handled = 0;
    const subscription = store.subscribeToAll({ handler: () => void handled++, signal: controller.signal });
    await store.appendToStream("Signal-2", [{ type: "A", data: 2 }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await subscription.stop();
    expect(handled).toBe(0);
    expect(subscription.position).toBe(0);
  });

  test("an onError that throws is logged; the subscription retries the event and goes on, and stop() resolves", async () => {
    const consoleError = spyOn(console, "error").mockImplementation(() => {});
    try {
      const store = new InMemoryEventStore();
      await store.appendToStream("OnError-1", [{ type: "A", data: 1 }]);
      const handled: number[] = [];
      let failures = 0;
      const subscription = store.subscribeToAll({
        retryDelayMs: 0,
        handler: (event) => {
          if (failures++ === 0) throw new Error("handler failed once");
          handled.push(event.version);
        },
        onError: () => {
          throw new Error("onError broken");
        },
      });
      await store.appendToStream("OnError-1", [{ type: "A", data: 2 }]);
      for (let i = 0; i < 50 && handled.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      await subscription.stop();
      expect(handled).toEqual([1, 2]);
      expect(subscription.position).toBe(2);
      const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
      expect(line).toMatchObject({ msg: "the onError hook itself threw", hook: "onError" });
    } finally {
      consoleError.mockRestore();
    }
  });
});
