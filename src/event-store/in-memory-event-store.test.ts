import { describe, expect, test } from "bun:test";
import { isValidationError, type ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { registerContract } from "../testing/contract.js";
import { eventEvolutionContract } from "../testing/event-evolution-contract.js";
import { eventStoreContract } from "../testing/event-store-contract.js";
import { StoreView } from "../testing/store-view.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";

registerContract(
  eventStoreContract({ name: "InMemoryEventStore contract", create: (options) => new InMemoryEventStore(options) }),
  {
    describe,
    test,
  },
);

// One in-memory store seen by the old release (no registry) and the current one.
const shared = new InMemoryEventStore();
registerContract(
  eventEvolutionContract({
    name: "InMemoryEventStore evolution contract",
    create: (options) => new StoreView(shared, options),
  }),
  { describe, test },
);

describe("InMemoryEventStore", () => {
  test("options of the wrong kind are a ValidationError when the store is made, not a TypeError in an append", async () => {
    const refusal = (options: unknown) => {
      try {
        new InMemoryEventStore(options as never);
      } catch (error) {
        return error as ValidationError;
      }
      return undefined;
    };
    const error = refusal({
      bus: 5,
      onPublishError: "log",
      eventRegistry: {},
      personalData: true,
      telemetry: "off",
    });
    expect(isValidationError(error)).toBe(true);
    expect(error?.issues).toEqual([
      { path: ["bus"], message: "must be an event bus (with publish), got 5" },
      { path: ["onPublishError"], message: 'must be a function, got "log"' },
      { path: ["eventRegistry"], message: "must be what eventRegistry() builds, got object" },
      { path: ["personalData"], message: "must be what personalData() builds, got boolean" },
      { path: ["telemetry"], message: 'must be a boolean, got "off"' },
    ]);
    // What the options are for is still taken, as is no option at all.
    const bus = new InMemoryEventBus();
    const store = new InMemoryEventStore({
      bus,
      onPublishError: () => undefined,
      eventRegistry: eventRegistry(),
      telemetry: false,
    });
    expect((await store.appendToStream("Options-1", [{ type: "A", data: {} }])).published).toEqual({
      delivered: 0,
      failures: [],
    });
    expect(refusal(undefined)).toBeUndefined();
    expect(refusal(null)).toBeUndefined();
  });

  test("returned events are frozen: readers cannot rewrite history", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Frozen-1", [{ type: "A", data: { value: 1 } }]);
    for await (const event of store.readStream("Frozen-1")) {
      expect(Object.isFrozen(event)).toBe(true);
      expect(() => {
        (event.data as { value: number }).value = 2;
      }).toThrow(TypeError);
    }
  });

  test("a bus whose publish throws leaves the append committed and reports through onPublishError", async () => {
    const bus = new InMemoryEventBus();
    bus.publish = () => Promise.reject(new Error("bus down"));
    const reported: unknown[] = [];
    const store = new InMemoryEventStore({
      bus,
      onPublishError: (error, events) => reported.push([error, events.length]),
    });
    const result = await store.appendToStream("Pub-1", [{ type: "A", data: 1 }]);
    expect(result.nextExpectedVersion).toBe(1);
    expect(result.published).toBeUndefined();
    expect(reported).toEqual([[new Error("bus down"), 1]]);
    expect(await store.getStreamVersion("Pub-1")).toBe(1);
  });

  test("getLastGlobalPosition tracks appends", async () => {
    const store = new InMemoryEventStore();
    expect(await store.getLastGlobalPosition()).toBe(0);
    await store.appendToStream("P-1", [
      { type: "A", data: 1 },
      { type: "B", data: 2 },
    ]);
    expect(await store.getLastGlobalPosition()).toBe(2);
  });
});

describe("null options", () => {
  test("null for the options of the constructor, appendToStream, readStream, readAll and subscribeToAll is no options, never a TypeError", async () => {
    const store = new InMemoryEventStore(null as never);
    const appended = await store.appendToStream("Null-1", [{ type: "A", data: 1 }], null as never);
    expect(appended.nextExpectedVersion).toBe(1);
    const read: number[] = [];
    for await (const event of store.readStream("Null-1", null as never)) read.push(event.version);
    for await (const event of store.readAll(null as never)) read.push(event.globalPosition ?? 0);
    for await (const event of store.readFeed(null as never)) read.push(event.globalPosition ?? 0);
    expect(read).toEqual([1, 1, 1]);
    // subscribeToAll needs a handler: null options are refused as having none.
    expect(() => store.subscribeToAll(null as never)).toThrow(
      "Invalid subscription: handler: must be a function, got undefined",
    );
  });
});

describe("stored data is JSON", () => {
  test("properties holding undefined are left out and -0 reads as 0, as in every database store", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Json-1", [
      { type: "A", data: { gone: undefined, zero: -0, list: [1, { gone: undefined }] }, metadata: { gone: undefined } },
    ]);
    for await (const event of store.readStream("Json-1")) {
      expect(Object.keys(event.data as object)).toEqual(["zero", "list"]);
      expect(Object.is((event.data as { zero: number }).zero, 0)).toBe(true);
      expect(Object.keys((event.data as { list: [number, object] }).list[1])).toEqual([]);
      expect(Object.keys(event.metadata)).toEqual([]);
    }
  });
});
