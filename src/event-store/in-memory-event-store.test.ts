import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkEventStoreModel } from "../../test/differential/event-store-model.ts";
import { isValidationError, type ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import type { EventEnvelope } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { registerContract } from "../testing/contract.js";
import { eventEvolutionContract } from "../testing/event-evolution-contract.js";
import { eventStoreContract } from "../testing/event-store-contract.js";
import { StoreView } from "../testing/store-view.js";
import { EventStore } from "./event-store.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";
import type { EventPages } from "./read-pages.js";
import type { EventStoreCapabilities, ReadAllOptions } from "./types.js";

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
  test("generated command sequences answer as the documented model does: appends with every expected version, retries, stream and feed reads, subscriptions, deletions, restores, truncations (model-based property)", async () => {
    const store = new InMemoryEventStore();
    await checkEventStoreModel({ create: () => store, numRuns: 200 });
  });

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
    // A null maxJsonDepth was taken for the default, where every other option refuses one.
    expect(refusal({ maxJsonDepth: null })?.issues.map((issue) => issue.path)).toEqual([["maxJsonDepth"]]);
  });

  test("watchAppends and afterEachCommit refuse what is not a function, when it is registered", () => {
    const store = new InMemoryEventStore();
    for (const register of [
      () => store.watchAppends(5 as never),
      () => store.afterEachCommit("x" as never),
      () => store.watchAppends(null as never),
    ]) {
      let thrown: unknown;
      try {
        register();
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
    }
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

describe("reads in pages cut from the arrays", () => {
  /** Versions (and positions) of a stream's events read one way, as the reader sees them. */
  async function versions(events: AsyncIterable<EventEnvelope>, key: "version" | "globalPosition" = "version") {
    const seen: number[] = [];
    for await (const event of events) seen.push(event[key] as number);
    return seen;
  }

  test("any history, truncation and read options: what a filter of the stored list gives, across page boundaries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 5 }),
        fc.nat({ max: 1300 }),
        fc.record(
          {
            direction: fc.constantFrom("forward" as const, "backward" as const),
            fromVersion: fc.integer({ min: 1, max: 2100 }),
            maxCount: fc.nat({ max: 1500 }),
          },
          { requiredKeys: ["direction"] },
        ),
        fc.record({ after: fc.nat({ max: 2100 }), maxCount: fc.nat({ max: 1500 }) }, { requiredKeys: [] }),
        async (batches, cut, streamRead, feedRead) => {
          const store = new InMemoryEventStore();
          // Another stream's event after each batch, so stream versions and feed positions differ.
          const positionOf: number[] = [];
          const feed: number[] = [];
          for (const size of batches) {
            await store.appendToStream(
              "Paged-1",
              Array.from({ length: size }, () => ({ type: "A", data: {} })),
            );
            await store.appendToStream("Other-1", [{ type: "B", data: {} }]);
            for (let i = 0; i < size; i++) positionOf.push(feed.length + positionOf.length + 1);
            feed.push(positionOf.length + feed.length + 1);
          }
          const total = positionOf.length;
          const before = Math.min(cut, total);
          if (before > 1) await store.truncateStream("Paged-1", { before });
          const kept = positionOf.map((_, i) => i + 1).filter((v) => v >= before);

          const from = streamRead.fromVersion;
          let expected =
            streamRead.direction === "backward"
              ? kept.filter((v) => v <= (from ?? total)).reverse()
              : kept.filter((v) => v >= (from ?? 1));
          if (streamRead.maxCount !== undefined) expected = expected.slice(0, streamRead.maxCount);
          expect(await versions(store.readStream("Paged-1", streamRead))).toEqual(expected);

          // The feed: the kept events and the other stream's, by position, then the truncation's record.
          const stored = [...kept.map((v) => positionOf[v - 1] as number), ...feed].sort((a, b) => a - b);
          if (before > 1) stored.push(total + feed.length + 1);
          let expectedFeed = stored.filter((p) => p > (feedRead.after ?? 0));
          if (feedRead.maxCount !== undefined) expectedFeed = expectedFeed.slice(0, feedRead.maxCount);
          expect(await versions(store.readAll(feedRead), "globalPosition")).toEqual(expectedFeed);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("a read sees events appended while it runs, past the page it is on", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream(
      "Growing-1",
      Array.from({ length: 600 }, () => ({ type: "A", data: {} })),
    );
    const seen: number[] = [];
    for await (const event of store.readStream("Growing-1")) {
      seen.push(event.version);
      if (event.version === 10) await store.appendToStream("Growing-1", [{ type: "A", data: {} }]);
    }
    expect(seen).toEqual(Array.from({ length: 601 }, (_, i) => i + 1));
  });

  test("a reader that stops early can read again; a stream soft-deleted before the read reads empty", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream(
      "Stop-1",
      Array.from({ length: 700 }, () => ({ type: "A", data: {} })),
    );
    for await (const event of store.readStream("Stop-1")) if (event.version === 3) break;
    expect((await versions(store.readStream("Stop-1"))).length).toBe(700);
    await store.deleteStream("Stop-1");
    expect(await versions(store.readStream("Stop-1"))).toEqual([]);
  });
});

describe("a store without a global order", () => {
  /** Declares no global order and keeps the base class's getLastGlobalPosition, as a third-party store may. */
  class NoFeedStore extends InMemoryEventStore {
    override readonly capabilities: EventStoreCapabilities = {
      globalOrder: false,
      idempotentAppends: true,
      streamDeletion: true,
    };
    feedReads = 0;
    protected override readAllPages(options: ReadAllOptions): EventPages {
      this.feedReads++;
      return super.readAllPages(options);
    }
    override getLastGlobalPosition(): Promise<number> {
      return EventStore.prototype.getLastGlobalPosition.call(this);
    }
  }

  test("the base class refuses readAll, readFeed, readFeedBatch, getLastGlobalPosition and getHeadPosition with a ValidationError, before the adapter is asked", async () => {
    const store = new NoFeedStore();
    await store.appendToStream("Cart-1", [{ type: "Added", data: 1 }]);
    const drain = async (events: AsyncIterable<unknown>) => {
      for await (const _ of events) {
        // nothing: the read must fail first
      }
    };
    // Refused at the first read, as a failed read, not when the reader is made.
    const reader = store.readAll();
    for (const refused of [
      () => drain(reader),
      () => drain(store.readFeed({ after: 0 })),
      () => store.readFeedBatch(0, 10),
      () => store.getLastGlobalPosition(),
      () => store.getHeadPosition(),
    ]) {
      await expect(refused()).rejects.toMatchObject({
        name: "ValidationError",
        message: "This store has no global order to read",
      });
    }
    expect(() => store.subscribeToAll({ handler: () => undefined })).toThrow("This store has no global order");
    expect(store.feedReads).toBe(0);
    expect((await Array.fromAsync(store.readStream("Cart-1"))).map((event) => event.type)).toEqual(["Added"]);
  });
});
