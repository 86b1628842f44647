import { afterEach, describe, expect, spyOn, test } from "bun:test";
import type { PublishResult } from "../event-bus/event-bus.js";
import { type EventEnvelope, type NewEvent, prepareEvents } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { defaultOnPublishError, type EventPublisher } from "./after-commit.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";

/** A publisher that records each call: what publishing once per append looks like from the bus. */
function recordingBus(): EventPublisher & { calls: EventEnvelope[][] } {
  const calls: EventEnvelope[][] = [];
  return {
    calls,
    publish: async (events): Promise<PublishResult> => {
      calls.push([...events]);
      return { delivered: events.length, failures: [] };
    },
  };
}

/** A store whose after-commit step a test can call, as a transaction committing several appends does. */
class ExposedStore extends InMemoryEventStore {
  runAfterCommit(events: readonly EventEnvelope[]) {
    return this.afterCommit(events);
  }
  async commitOnly(streamId: string, events: readonly NewEvent[]) {
    return (await this.commit(streamId, prepareEvents(events, undefined), "any")).events;
  }
}

const consoleError = spyOn(console, "error").mockImplementation(() => {});
afterEach(() => consoleError.mockClear());

describe("EventStore.afterCommit", () => {
  test("publishes once per append, with exactly the committed events, and not again for an idempotent retry", async () => {
    const bus = recordingBus();
    const store = new InMemoryEventStore({ bus });
    const events = [
      { id: ulid(), type: "A", data: 1 },
      { id: ulid(), type: "B", data: 2 },
    ];
    const first = await store.appendToStream("Once-1", events);
    expect(bus.calls).toEqual([[...first.events]]);
    expect(first.published).toEqual({ delivered: 2, failures: [] });
    const retry = await store.appendToStream("Once-1", events);
    expect(retry.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(bus.calls).toHaveLength(1);
    await store.appendToStream("Once-1", []);
    expect(bus.calls).toHaveLength(1);
  });

  test("an append wakes this store's subscriptions at once, without waiting for the poll", async () => {
    const store = new InMemoryEventStore();
    const seen: string[] = [];
    let delivered!: () => void;
    const arrived = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    // An hour between polls: only the after-commit wake-up can deliver within the test's timeout.
    const subscription = store.subscribeToAll({
      pollIntervalMs: 3_600_000,
      handler: (event) => {
        seen.push(event.type);
        delivered();
      },
    });
    try {
      await Promise.resolve();
      await store.appendToStream("Wake-1", [{ type: "Woken", data: null }]);
      await arrived;
      expect(seen).toEqual(["Woken"]);
    } finally {
      await subscription.stop();
    }
  });

  test("called directly (as a transaction does after its commit) it wakes and publishes; an empty list does nothing", async () => {
    const bus = recordingBus();
    const store = new ExposedStore({ bus });
    let woken!: () => void;
    const arrived = new Promise<void>((resolve) => {
      woken = resolve;
    });
    const subscription = store.subscribeToAll({ pollIntervalMs: 3_600_000, handler: () => woken() });
    try {
      expect(await store.runAfterCommit([])).toBeUndefined();
      // Commit without the after-commit step, as a transaction does until it is durable.
      const committed = await store.commitOnly("Tx-1", [{ type: "A", data: 1 }]);
      expect(bus.calls).toEqual([]);
      expect(await store.runAfterCommit(committed)).toEqual({ delivered: 1, failures: [] });
      expect(bus.calls).toEqual([[...committed]]);
      await arrived;
    } finally {
      await subscription.stop();
    }
  });

  test("a failing publish goes to onPublishError; an onPublishError that throws is caught and logged", async () => {
    const store = new InMemoryEventStore({
      bus: { publish: () => Promise.reject(new Error("bus down")) },
      onPublishError: () => {
        throw new Error("hook broken");
      },
    });
    const result = await store.appendToStream("Hook-1", [{ type: "A", data: 1 }]);
    expect(result.nextExpectedVersion).toBe(1);
    expect(result.published).toBeUndefined();
    expect(consoleError).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: "error", msg: "the onPublishError hook itself threw", hook: "onPublishError" });
    expect(line.error).toMatchObject({ name: "Error", message: "hook broken" });
  });

  test("without onPublishError the failure is logged with the number of events", async () => {
    const store = new InMemoryEventStore({ bus: { publish: () => Promise.reject(new Error("bus down")) } });
    await store.appendToStream("Hook-2", [
      { type: "A", data: 1 },
      { type: "A", data: 2 },
    ]);
    const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: "error", msg: "publishing 2 committed event(s) failed", events: 2 });
    expect(line.streamId).toBe("Hook-2");
  });

  test("defaultOnPublishError takes any thrown value and anything for the events: a log line, never a TypeError", () => {
    const odd: unknown[] = [null, undefined, 42, "down", Object.create(null), Symbol("s"), 10n];
    for (const error of odd) {
      for (const events of [undefined, null, "abc", [null], [5], {}] as unknown[]) {
        expect(() => defaultOnPublishError(error, events as readonly EventEnvelope[])).not.toThrow();
      }
    }
    consoleError.mockClear();
    (defaultOnPublishError as (error: unknown) => void)(null);
    const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: "error", msg: "publishing 0 committed event(s) failed", events: 0 });
  });

  test("a watchAppends listener or afterEachCommit step that throws, even synchronously, is logged: the append stands and is published", async () => {
    const bus = recordingBus();
    const store = new InMemoryEventStore({ bus });
    const woken: string[] = [];
    store.watchAppends(() => {
      throw new Error("listener broken");
    });
    store.watchAppends(() => woken.push("second listener"));
    // A step typed async but throwing before it returns a promise (a plain function cast to the type).
    store.afterEachCommit((() => {
      throw new Error("step broken");
    }) as unknown as (events: readonly EventEnvelope[]) => Promise<void>);
    const stepped: number[] = [];
    store.afterEachCommit(async (events) => {
      stepped.push(events.length);
    });
    const result = await store.appendToStream("Listener-1", [{ type: "A", data: 1 }]);
    expect(result.nextExpectedVersion).toBe(1);
    expect(result.published).toEqual({ delivered: 1, failures: [] });
    expect(bus.calls).toEqual([[...result.events]]);
    expect(woken).toEqual(["second listener"]);
    expect(stepped).toEqual([1]);
    const lines = consoleError.mock.calls.map((call) => JSON.parse(String(call[0])));
    expect(lines).toMatchObject([
      {
        level: "error",
        msg: "a watchAppends listener failed; the events are stored",
        error: { message: "listener broken" },
      },
      { level: "error", msg: "an after-commit step failed; the events are stored", error: { message: "step broken" } },
    ]);
  });
});
