import { describe, expect, spyOn, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { retryOnConcurrency } from "../messaging/middleware.js";
import { eventually } from "../testing/index.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";
import type { ReadAllOptions } from "./types.js";

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
        // Titled as every other subscription option is, not "Invalid pollIntervalMs: pollIntervalMs: …".
        expect((thrown as Error).message).toStartWith(
          `Invalid subscription: ${option}: must be a number of milliseconds from 0 to 2147483647`,
        );
      }),
    );
  });

  test("retryOnConcurrency refuses a bad baseDelayMs or maxAttempts (property)", () => {
    fc.assert(
      fc.property(badDelay, (value) => {
        // The title maxAttempts' error has: it was "Invalid baseDelayMs: baseDelayMs: …".
        expect(() => retryOnConcurrency({ baseDelayMs: value as number })).toThrow(
          /^Invalid retry options: baseDelayMs: must be a number of milliseconds/,
        );
      }),
    );
    expect(() => retryOnConcurrency({ maxAttempts: 0 })).toThrow(
      "Invalid retry options: maxAttempts: must be a positive integer, got 0",
    );
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

  test("a telemetry that is not a boolean is refused, as the store's own telemetry option is", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Telemetry-1", [{ type: "A", data: 1 }]);
    let handled = 0;
    for (const [telemetry, shown] of [
      ["false", '"false"'],
      [0, "0"],
      [null, "null"],
      [{}, "object"],
    ] as const) {
      expect(() => store.subscribeToAll({ handler: () => void handled++, telemetry: telemetry as never })).toThrow(
        `Invalid subscription: telemetry: must be a boolean, got ${shown}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toBe(0);
  });

  test("after and batchSize null are refused, as readAll refuses after: null, rather than taken as their defaults", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Null-1", [{ type: "A", data: 1 }]);
    let handled = 0;
    // A checkpoint column read back as NULL would otherwise replay the whole feed from the beginning.
    expect(() => store.subscribeToAll({ handler: () => void handled++, after: null as never })).toThrow(
      "Invalid after: after must be a non-negative integer, got null",
    );
    expect(() => store.subscribeToAll({ handler: () => void handled++, batchSize: null as never })).toThrow(
      "Invalid batchSize: batchSize must be a non-negative integer, got null",
    );
    expect(() => store.readAll({ after: null as never })).toThrow(
      "Invalid after: after must be a non-negative integer, got null",
    );
    expect(handled).toBe(0);
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

  test("stop() takes the subscription's abort listener off its signal: a long-lived signal holds no stopped subscription", async () => {
    const store = new InMemoryEventStore();
    const shutdown = new AbortController();
    const listening = new Set<unknown>();
    const add = shutdown.signal.addEventListener.bind(shutdown.signal);
    const remove = shutdown.signal.removeEventListener.bind(shutdown.signal);
    shutdown.signal.addEventListener = (type: string, listener: unknown, options?: unknown) => {
      listening.add(listener);
      add(type, listener as EventListener, options as AddEventListenerOptions);
    };
    shutdown.signal.removeEventListener = (type: string, listener: unknown, options?: unknown) => {
      listening.delete(listener);
      remove(type, listener as EventListener, options as EventListenerOptions);
    };
    for (let i = 0; i < 3; i++) {
      const subscription = store.subscribeToAll({ handler: () => {}, signal: shutdown.signal });
      expect(listening.size).toBe(1);
      await subscription.stop();
      expect(listening.size).toBe(0);
    }
    // Stopped by its signal, it leaves none either (the signal drops a once listener itself).
    const subscription = store.subscribeToAll({ handler: () => {}, signal: shutdown.signal });
    shutdown.abort();
    await subscription.stop();
    expect(listening.size).toBe(0);
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

/** An in-memory store whose feed readers stop at `bound`, as PostgreSQL's stop below transactions in flight. */
class BoundedFeedStore extends InMemoryEventStore {
  bound = 0;
  reads = 0;
  positionChecks = 0;
  /** Events at these positions are left out of reads even below the bound (a stream deleted meanwhile, say). */
  readonly skipped = new Set<number>();
  protected override async *readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope> {
    this.reads++;
    for await (const event of super.readAllEvents(options)) {
      const position = event.globalPosition ?? 0;
      if (position > this.bound) return;
      if (!this.skipped.has(position)) yield event;
    }
  }
  override async getLastGlobalPosition(): Promise<number> {
    this.positionChecks++;
    return Math.min(this.bound, await super.getLastGlobalPosition());
  }
}

describe("a subscription woken for an event its read does not reach yet", () => {
  test("it is handed over once readers reach it, well before pollIntervalMs (10 s)", async () => {
    const store = new BoundedFeedStore();
    const seen: string[] = [];
    const subscription = store.subscribeToAll({
      handler: (event) => void seen.push(event.type),
      pollIntervalMs: 10_000,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 20)); // its first read is done: it waits
      await store.appendToStream("s-1", [{ type: "Hidden", data: {} }]); // wakes it; the read finds nothing
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toEqual([]);
      store.bound = 1; // the transaction in flight ended
      await eventually(() => expect(seen).toEqual(["Hidden"]), 2_000);
    } finally {
      await subscription.stop();
    }
  });

  test("an event told of that the reads skip is not waited for again: no busy loop of reads", async () => {
    const store = new BoundedFeedStore();
    store.bound = 10;
    store.skipped.add(1);
    const subscription = store.subscribeToAll({ handler: () => undefined, pollIntervalMs: 10_000 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const before = store.reads;
      await store.appendToStream("s-1", [{ type: "Skipped", data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(store.reads - before).toBeLessThanOrEqual(3);
      expect(store.positionChecks).toBeLessThanOrEqual(3);
    } finally {
      await subscription.stop();
    }
  });

  test("a wait that outlasts pollIntervalMs goes back to polling at pollIntervalMs", async () => {
    const store = new BoundedFeedStore();
    const subscription = store.subscribeToAll({ handler: () => undefined, pollIntervalMs: 100 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await store.appendToStream("s-1", [{ type: "Hidden", data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 150)); // the bounded wait is over
      const checks = store.positionChecks;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(store.positionChecks - checks).toBe(0); // polling reads again; it does not watch the bound
    } finally {
      await subscription.stop();
    }
  });
});
