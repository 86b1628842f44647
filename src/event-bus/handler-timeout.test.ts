import { afterEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  ErrorCode,
  type EventEnvelope,
  EventHandlerTimeoutError,
  type HandlerFailure,
  InMemoryEventBus,
  InMemoryEventStore,
  isEventHandlerTimeoutError,
  ValidationError,
} from "../index.js";
import { testEnvelope } from "../testing/index.js";

// Small enough to keep the suite quick; nothing below asserts how long anything took.
const LIMIT_MS = 20;
const never = () => new Promise<void>(() => {});

function collectingBus(handlerTimeoutMs?: number) {
  const reported: HandlerFailure[] = [];
  const bus = new InMemoryEventBus({ onError: (failure) => reported.push(failure), handlerTimeoutMs });
  return { bus, reported };
}

/** The delays of the timers started, and not cleared, while `work` runs: what could keep a process alive. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
function watchTimers() {
  const started: number[] = [];
  const pending = new Map<unknown, number>();
  globalThis.setTimeout = ((handler: () => void, ms?: number, ...rest: unknown[]) => {
    started.push(ms ?? 0);
    const id = realSetTimeout(
      (...args: unknown[]) => {
        pending.delete(id);
        (handler as (...a: unknown[]) => void)(...args);
      },
      ms,
      ...rest,
    );
    pending.set(id, ms ?? 0);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(id);
    realClearTimeout(id);
  }) as typeof clearTimeout;
  return { started, pending: () => [...pending.values()] };
}

afterEach(() => {
  globalThis.setTimeout = realSetTimeout;
  globalThis.clearTimeout = realClearTimeout;
});

describe("InMemoryEventBus handlerTimeoutMs", () => {
  test("a handler that never settles is reported with an EventHandlerTimeoutError, and delivery moves on", async () => {
    const { bus, reported } = collectingBus(LIMIT_MS);
    const seen: string[] = [];
    bus.subscribeToAll(never, { name: "stuck" });
    bus.subscribeToAll((event) => void seen.push(event.id), { name: "after" });
    const events = [testEnvelope("Placed", "Order-1"), testEnvelope("Shipped", "Order-1")];

    const result = await bus.publish(events);

    expect(seen).toEqual(events.map((event) => event.id));
    expect(result.delivered).toBe(2);
    expect(result.failures).toEqual(reported);
    expect(reported.map((failure) => [failure.subscription, failure.event])).toEqual([
      ["stuck", events[0] as EventEnvelope],
      ["stuck", events[1] as EventEnvelope],
    ]);
    const error = reported[0]?.error as EventHandlerTimeoutError;
    expect(error).toBeInstanceOf(EventHandlerTimeoutError);
    expect(isEventHandlerTimeoutError(error)).toBe(true);
    expect(error.code).toBe(ErrorCode.EventHandlerTimeout);
    expect(error.code).toBe("EVENT_HANDLER_TIMEOUT");
    expect([error.name, error.subscription, error.eventType, error.eventId, error.timeoutMs]).toEqual([
      "EventHandlerTimeoutError",
      "stuck",
      "Placed",
      events[0]?.id,
      LIMIT_MS,
    ]);
    expect(error.message).toBe(
      `Handler "stuck" did not settle within ${LIMIT_MS} ms (handlerTimeoutMs) for event Placed ${events[0]?.id}: ` +
        "the bus moved on to the next delivery, and the handler may still be running",
    );
  });

  test("a never-settling handler no longer holds an InMemoryEventStore append: it resolves, stored and reported", async () => {
    const { bus, reported } = collectingBus(LIMIT_MS);
    const store = new InMemoryEventStore({ bus });
    bus.subscribeToType("Placed", never, { name: "stuck" });

    const result = await store.appendToStream("Order-7", [{ type: "Placed", data: { total: 3 } }]);

    const [stored] = await Array.fromAsync(store.readStream("Order-7"));
    expect(stored?.type).toBe("Placed");
    expect(result.published?.failures).toEqual(reported);
    expect(reported).toHaveLength(1);
    expect(reported[0]?.event.id).toBe(stored?.id as string);
    expect(reported[0]?.error).toBeInstanceOf(EventHandlerTimeoutError);
    expect(reported[0]?.error).toMatchObject({
      code: "EVENT_HANDLER_TIMEOUT",
      eventId: stored?.id,
      subscription: "stuck",
    });
  });

  test("a timed-out handler may still be running when the next one starts; what it does later is not reported", async () => {
    const { bus, reported } = collectingBus(LIMIT_MS);
    const order: string[] = [];
    let fail: (error: Error) => void = () => undefined;
    bus.subscribeToAll(
      () =>
        new Promise<void>((_, reject) => {
          order.push("slow started");
          fail = reject;
        }),
      { name: "slow" },
    );
    bus.subscribeToAll(() => void order.push("next ran"), { name: "next" });

    const result = await bus.publish([testEnvelope("Placed", "Order-2")]);
    expect(order).toEqual(["slow started", "next ran"]);
    // The slow handler fails after publish returned: no second report, no unhandled rejection.
    fail(new Error("too late"));
    await new Promise((resolve) => realSetTimeout(resolve, 0));
    expect(reported.map((failure) => (failure.error as Error).name)).toEqual(["EventHandlerTimeoutError"]);
    expect(result.failures).toHaveLength(1);
  });

  test("a handler that settles in time is unaffected, its own failure reported as it was, and its timer cleared", async () => {
    const timers = watchTimers();
    const { bus, reported } = collectingBus(60_000);
    const seen: string[] = [];
    bus.subscribeToAll(async (event) => {
      await new Promise((resolve) => realSetTimeout(resolve, 1));
      seen.push(event.type);
    });
    bus.subscribeToType("Bad", () => Promise.reject(new Error("handler's own")), { name: "rejecter" });

    const result = await bus.publish([testEnvelope("Good", "S-1"), testEnvelope("Bad", "S-1")]);

    expect(seen).toEqual(["Good", "Bad"]);
    expect(result.delivered).toBe(2);
    expect(reported.map((failure) => [failure.subscription, (failure.error as Error).message])).toEqual([
      ["rejecter", "handler's own"],
    ]);
    expect(timers.started.filter((ms) => ms === 60_000)).toHaveLength(3);
    expect(timers.pending()).toEqual([]);
  });

  test("the limit defaults to 30 s; Infinity sets none; a synchronous handler needs no timer", async () => {
    const timers = watchTimers();
    const asyncHandler = async () => undefined;
    const byDefault = new InMemoryEventBus();
    byDefault.subscribeToAll(asyncHandler);
    await byDefault.publish([testEnvelope("A", "S-1")]);
    expect(timers.started).toEqual([30_000]);

    const unlimited = new InMemoryEventBus({ handlerTimeoutMs: Number.POSITIVE_INFINITY });
    unlimited.subscribeToAll(asyncHandler);
    const synchronous = new InMemoryEventBus({ handlerTimeoutMs: 5 });
    synchronous.subscribeToAll(() => undefined);
    expect((await unlimited.publish([testEnvelope("A", "S-1")])).delivered).toBe(1);
    expect((await synchronous.publish([testEnvelope("A", "S-1")])).delivered).toBe(1);
    expect(timers.started).toEqual([30_000]);
    expect(timers.pending()).toEqual([]);
  });

  test("handlerTimeoutMs outside 1..2^31-1 and not Infinity is a ValidationError naming it", () => {
    const refused = (value: unknown) => {
      try {
        new InMemoryEventBus({ handlerTimeoutMs: value as number });
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues;
      }
      return undefined;
    };
    for (const value of [0, -1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY, 2_147_483_648, "100", null, {}]) {
      expect(refused(value)?.map((issue) => issue.path)).toEqual([["handlerTimeoutMs"]]);
    }
    expect(refused(0)?.[0]?.message).toBe("must be an integer from 1 to 2147483647, or Infinity for no limit, got 0");
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_147_483_647 }), (ms) => refused(ms) === undefined),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(
        fc.anything().filter((value) => typeof value !== "number" && value !== undefined),
        (value) => refused(value)?.length === 1,
      ),
    );
  });
});
