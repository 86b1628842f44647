import { describe, expect, test } from "bun:test";
import { ValidationError } from "../errors.js";
import { registerContract } from "../testing/contract.js";
import { eventBusContract, testEnvelope } from "../testing/event-bus-contract.js";
import { InMemoryEventBus } from "./in-memory-event-bus.js";

registerContract(
  eventBusContract({ name: "InMemoryEventBus contract", create: (options) => new InMemoryEventBus(options) }),
  {
    describe,
    test,
  },
);

describe("InMemoryEventBus", () => {
  test("a handler that subscribes during publish does not receive the event being published", async () => {
    const bus = new InMemoryEventBus();
    const late: string[] = [];
    bus.subscribeToAll(() => {
      bus.subscribeToAll((event) => void late.push(event.type));
    });
    await bus.publish([testEnvelope("First", "S-1")]);
    expect(late).toEqual([]);
    await bus.publish([testEnvelope("Second", "S-1")]);
    expect(late).toEqual(["Second"]);
  });

  test("publish refuses what is not a list of envelopes with a ValidationError, before any handler runs", async () => {
    const bus = new InMemoryEventBus({ onError: () => undefined });
    const seen: string[] = [];
    bus.subscribeToCategory("Cart", (event) => void seen.push(event.type));
    bus.subscribeToType("Shipped", (event) => void seen.push(event.type));
    const good = testEnvelope("Shipped", "Cart-1");
    for (const events of [
      null,
      undefined,
      "Cart-1",
      {},
      [good, null],
      [good, {}],
      [good, { type: "X", streamId: 7 }],
    ]) {
      await expect(bus.publish(events as never)).rejects.toBeInstanceOf(ValidationError);
    }
    let thrown: unknown;
    await bus.publish([good, { type: 1 }] as never).catch((error: unknown) => {
      thrown = error;
    });
    expect((thrown as ValidationError).issues).toEqual([
      { path: [1, "type"], message: "must be a string, got 1" },
      { path: [1, "streamId"], message: "must be a string, got undefined" },
    ]);
    expect(seen).toEqual([]);
    expect(await bus.publish([good])).toEqual({ delivered: 2, failures: [] });
  });

  test("options of the wrong kind are a ValidationError naming each; null is no options", () => {
    let thrown: unknown;
    try {
      new InMemoryEventBus({ onError: "log", telemetry: "off" } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).issues).toEqual([
      { path: ["onError"], message: 'must be a function, got "log"' },
      { path: ["telemetry"], message: 'must be a boolean, got "off"' },
    ]);
    expect(() => new InMemoryEventBus(null)).not.toThrow();
    for (const given of ["quiet", 1, false]) {
      expect(() => new InMemoryEventBus(given as never)).toThrow("options must be an object");
    }
  });

  test("lists its subscriptions by name, in delivery order", () => {
    const bus = new InMemoryEventBus();
    bus.subscribeToAll(function auditLog() {});
    const off = bus.subscribeToType("X", () => {}, { name: "x-handler" });
    expect(bus.subscriptionNames()).toEqual(["auditLog", "x-handler"]);
    off();
    expect(bus.subscriptionNames()).toEqual(["auditLog"]);
  });

  test("a name that is not a string is refused, and the issues of a pattern say where", () => {
    const bus = new InMemoryEventBus();
    expect(() => bus.subscribeToAll(() => {}, { name: 42 as unknown as string })).toThrow(ValidationError);
    let thrown: unknown;
    try {
      bus.subscribeToType(["ItemAdded", 7 as unknown as string], () => {});
    } catch (error) {
      thrown = error;
    }
    expect((thrown as ValidationError).issues.map((issue) => issue.path)).toEqual([["pattern", "type", 1]]);
    expect(bus.subscriptionNames()).toEqual([]);
  });

  test("subscribe options that are not an object, or hold a key other than name, are refused, not dropped", () => {
    const bus = new InMemoryEventBus();
    const pathsOf = (options: unknown) => {
      try {
        bus.subscribeToAll(() => {}, options as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path);
      }
      return "subscribed";
    };
    // Each was taken and the subscription named "anonymous" in error reports, not what the caller meant.
    expect(pathsOf({ nmae: "audit" })).toEqual([["options", "nmae"]]);
    expect(pathsOf("audit")).toEqual([["options"]]);
    expect(pathsOf(["audit"])).toEqual([["options"]]);
    expect(pathsOf(5)).toEqual([["options"]]);
    expect(bus.subscriptionNames()).toEqual([]);
    expect(pathsOf(null)).toBe("subscribed");
    expect(pathsOf({ name: "audit" })).toBe("subscribed");
    expect(bus.subscriptionNames()).toEqual(["anonymous", "audit"]);
  });

  test("a pattern with a key beside its form, an inherited form or a hole in its list is refused, not half-read", () => {
    const bus = new InMemoryEventBus();
    const pathsOf = (pattern: unknown) => {
      try {
        bus.subscribe(pattern as never, () => {});
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path);
      }
      return "subscribed";
    };
    // A misspelt second form would have subscribed to the type alone, silently.
    expect(pathsOf({ type: "ItemAdded", categroy: "Cart" })).toEqual([["pattern", "categroy"]]);
    expect(pathsOf({ all: true, name: "audit" })).toEqual([["pattern", "name"]]);
    expect(pathsOf(Object.create({ type: "ItemAdded" }))).toEqual([["pattern"]]);
    // biome-ignore lint/suspicious/noSparseArray: the hole is the case
    expect(pathsOf({ type: [, "ItemAdded"] })).toEqual([["pattern", "type", 0]]);
    expect(bus.subscriptionNames()).toEqual([]);
    expect(pathsOf({ category: ["Cart", "Order"] })).toBe("subscribed");
  });

  test("without an onError hook, failures are logged to console.error", async () => {
    const bus = new InMemoryEventBus();
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      bus.subscribeToAll(() => {
        throw new Error("logged");
      });
      const result = await bus.publish([testEnvelope("A", "S-1")]);
      expect(result.failures).toHaveLength(1);
    } finally {
      console.error = original;
    }
    expect(String(logged[0]?.[0])).toContain("failed for event A");
  });
});
