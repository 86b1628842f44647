import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import {
  cartSchemas,
  checkEvolutionPaths,
  checkValidatedAppends,
} from "../../test/differential/evolution-differential.ts";
import { isEventFlowsError, isUpcastError, isValidationError, type UpcastError, ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { compareUlids, isUlid, ulid } from "../ids.js";
import { collect } from "../testing/assert.js";
import { CartOpenedV3, cartRegistry } from "../testing/evolution-fixture.js";
import { StoreView } from "../testing/store-view.js";
import { eventRegistry } from "./event-registry.js";
import { splitEventId } from "./split-ids.js";

const stored = (type: string, data: unknown, schemaVersion?: number): EventEnvelope => ({
  id: ulid(),
  type,
  streamId: "S-1",
  version: 7,
  globalPosition: 70,
  timestamp: new Date(0).toISOString(),
  data,
  metadata: schemaVersion === undefined ? { correlationId: "c" } : { correlationId: "c", schemaVersion },
});

describe("EventRegistry.upcastEvent", () => {
  test("an event no step applies to comes back as the same object (no copy on the hot path)", () => {
    const event = stored("Unknown", { a: 1 });
    expect(cartRegistry().upcastEvent(event)).toBe(event);
    const current = stored("CartOpened", { owner: "a", currency: "EUR", channel: "web" }, 3);
    expect(cartRegistry().upcastEvent(current)).toBe(current);
  });

  test("chains steps from the stored version; keeps the other metadata; stamps the version reached", () => {
    const registry = cartRegistry();
    const fromV1 = registry.upcastEvent(stored("CartOpened", { owner: "a" })) as EventEnvelope;
    expect(fromV1.data).toEqual({ owner: "a", currency: "EUR", channel: "web" });
    expect(fromV1.metadata).toEqual({ correlationId: "c", schemaVersion: 3 });
    const fromV2 = registry.upcastEvent(stored("CartOpened", { owner: "a", currency: "USD" }, 2)) as EventEnvelope;
    expect(fromV2.data).toEqual({ owner: "a", currency: "USD", channel: "web" });
  });

  test("stored metadata with or without a schemaVersion is copied whole: every own key, `__proto__` too (property)", () => {
    const registry = eventRegistry().upcast("Tagged", 1, (data: { n: number }) => ({ n: data.n + 1 }));
    const keys = fc.constantFrom("correlationId", "__proto__", "constructor", "0", "schemaVersion", "k");
    fc.assert(
      fc.property(fc.dictionary(keys, fc.jsonValue(), { maxKeys: 6 }), fc.boolean(), (entries, stamped) => {
        // As a store reads it: JSON.parse makes `__proto__` an own key, not the object's prototype.
        const text = JSON.stringify(
          stamped ? { ...entries, schemaVersion: 1 } : { ...entries, schemaVersion: undefined },
        );
        const metadata = JSON.parse(text);
        const event = { ...stored("Tagged", { n: 1 }), metadata };
        const upcast = registry.upcastEvent(event) as EventEnvelope;
        expect(Object.getPrototypeOf(upcast.metadata)).toBe(Object.prototype);
        // Sorted by key alone: the default sort turns each entry into text, which a value such as
        // { toString: [] } cannot be (a TypeError in the test, not in the code under test).
        const byKey = (entries: [string, unknown][]) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(byKey(Object.entries(upcast.metadata))).toEqual(
          byKey(Object.entries({ ...JSON.parse(text), schemaVersion: 2 })),
        );
        expect(JSON.stringify(event.metadata)).toBe(text); // the stored event is never changed
      }),
    );
  });

  test("an upcaster that declares the envelope gets it at the version it upcasts from", () => {
    const registry = eventRegistry()
      .upcast("Tagged", 1, (data: { n: number }) => ({ n: data.n + 1 }))
      .upcast("Tagged", 2, (data: { n: number }, event) => ({
        ...data,
        from: [event.metadata.schemaVersion, event.data],
      }));
    const result = registry.upcastEvent(stored("Tagged", { n: 1 })) as EventEnvelope;
    expect(result.data).toEqual({ n: 2, from: [2, { n: 2 }] });
    expect(result.globalPosition).toBe(70);
    const noPosition = { ...stored("Tagged", { n: 1 }), globalPosition: undefined };
    delete noPosition.globalPosition;
    expect("globalPosition" in (registry.upcastEvent(noPosition) as EventEnvelope)).toBe(false);
  });

  test("a rename continues with the new type's own steps", () => {
    const renamed = cartRegistry().upcastEvent(stored("ItemAdded", { sku: "x", qty: 4 })) as EventEnvelope;
    expect([renamed.type, renamed.data, renamed.metadata.schemaVersion]).toEqual([
      "ItemPut",
      { sku: "x", quantity: 4 },
      2,
    ]);
  });

  test("split events keep version and position; ids are the stored one, then ULIDs derived from it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 ** 40 }), (parts, time) => {
        const registry = eventRegistry().split("Batch", 1, (event: { data: number[] }) =>
          event.data.map((n) => ({ type: "One", data: n })),
        );
        const original = {
          ...stored(
            "Batch",
            Array.from({ length: parts }, (_, i) => i),
          ),
          id: ulidAt(time),
        };
        const result = registry.upcastEvent(original);
        const list = (Array.isArray(result) ? result : [result]) as EventEnvelope[];
        expect(list.map((e) => e.data)).toEqual(Array.from({ length: parts }, (_, i) => i));
        expect(list[0]?.id).toBe(original.id);
        expect(new Set(list.map((e) => e.id)).size).toBe(parts);
        for (const [i, e] of list.entries()) {
          expect(isUlid(e.id)).toBe(true);
          expect(e.id).toBe(splitEventId(original.id, i));
          expect(e.id.slice(0, 10)).toBe(original.id.slice(0, 10));
          expect([e.version, e.globalPosition, e.streamId]).toEqual([7, 70, "S-1"]);
          if (i > 0) expect(compareUlids(list[i - 1]?.id as string, e.id)).toBeLessThan(0);
        }
      }),
    );
  });

  test("a split event's parts never take the id of an event appended with it (ulid() is monotonic)", async () => {
    fc.assert(
      await fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 12 }),
        async (sizes) => {
          const registry = eventRegistry().split("Batch", 1, (event: { data: number[] }) =>
            event.data.map((n) => ({ type: "One", data: n })),
          );
          const store = new InMemoryEventStore({ eventRegistry: registry });
          // One append: its events' ids are made in one millisecond, consecutive in their random part.
          await store.appendToStream(
            "S-1",
            sizes.map((size) =>
              size === 0
                ? { type: "Plain", data: 0 }
                : { type: "Batch", data: Array.from({ length: size }, (_, i) => i) },
            ),
          );
          const read = await collect(store.readStream("S-1"));
          expect(read.length).toBe(sizes.reduce((sum, size) => sum + Math.max(size, 1), 0));
          expect(new Set(read.map((e) => e.id)).size).toBe(read.length);
        },
      ),
    );
  });

  test('a stored schemaVersion that is no version (0, 1.5, "2", huge) is a ValidationError for a known type (property)', () => {
    // Written by another tool or by hand: read as it is, a v1 event would reach handlers as current data.
    const odd = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double().filter((n) => !Number.isSafeInteger(n)),
      fc.constantFrom(2 ** 53, "1", "2", true, [1], {}),
      fc.string(),
    );
    fc.assert(
      fc.property(odd, fc.constantFrom("CartOpened", "ItemAdded", "ItemPut"), (schemaVersion, type) => {
        const event = { ...stored(type, { owner: "a" }), metadata: { schemaVersion } } as unknown as EventEnvelope;
        const error = (() => {
          try {
            cartRegistry().upcastEvent(event);
          } catch (e) {
            return e as ValidationError;
          }
        })();
        expect(isValidationError(error)).toBe(true);
        expect(error?.message).toContain(`for event ${event.id} (stream "S-1", version 7)`);
        expect(error?.issues.map((issue) => issue.path)).toEqual([["metadata", "schemaVersion"]]);
        // A type the registry does not know is read as it is.
        const unknown = { ...event, type: "Unknown" };
        expect(cartRegistry().upcastEvent(unknown)).toBe(unknown);
      }),
      { numRuns: 300 },
    );
  });

  test("upcastEvent given something that is not an envelope throws a ValidationError, not a TypeError", () => {
    const registry = eventRegistry().upcast("A", 1, (data: unknown) => data);
    for (const bad of [null, undefined, 5, "A", {}, { type: "A" }, { type: "A", metadata: null }]) {
      expect(() => registry.upcastEvent(bad as never)).toThrow(ValidationError);
    }
  });

  test("renames that go in a circle are reported instead of looping", () => {
    const registry = eventRegistry().rename("A", 1, "B").rename("B", 1, "A");
    expect(() => registry.upcastEvent(stored("A", null))).toThrow(/loop/);
  });

  test("whatever the steps and schemas return, a read yields well-formed events or an EventFlowsError (property)", async () => {
    const types = ["A", "B", "C"];
    // Values of every kind, those JSON cannot hold included (a Date, a Map, a BigInt, holes, boxed values...).
    const value = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withSparseArray: true,
      withTypedArray: true,
    });
    const outcome = fc.oneof(fc.constant<"throw">("throw"), fc.record({ value }));
    const part = fc.oneof(
      value,
      fc.record(
        {
          type: fc.oneof(fc.constantFrom(...types), fc.anything()),
          data: value,
          metadata: fc.oneof(fc.constant({ correlationId: "x" }), value),
          schemaVersion: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.double(), fc.anything()),
        },
        { requiredKeys: ["type"] },
      ),
    );
    const step = fc.record({
      type: fc.constantFrom(...types),
      fromVersion: fc.integer({ min: 1, max: 3 }),
      kind: fc.constantFrom("upcast", "async", "rename", "split", "asyncSplit"),
      to: fc.constantFrom(...types),
      upcast: outcome,
      parts: fc.oneof(fc.array(part, { maxLength: 4 }), fc.anything()),
    });
    const schema = fc.record({
      type: fc.constantFrom(...types),
      version: fc.integer({ min: 1, max: 4 }),
      answer: fc.oneof(
        fc.constant<"throw">("throw"),
        fc.constant({ value: 1 }),
        fc.constant({ issues: [{ message: "no", path: ["x"] }] }),
        fc.anything(),
      ),
    });
    const plain = new InMemoryEventStore({ maxJsonDepth: 1000 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(step, { maxLength: 6 }),
          fc.array(schema, { maxLength: 4 }),
          fc.boolean(),
          fc.constantFrom(...types),
          fc.integer({ min: 1, max: 3 }),
          async (steps, schemas, validateOnRead, type, schemaVersion) => {
            const registry = eventRegistry({ validateOnRead });
            const answer = <T>(a: "throw" | T): T => {
              if (a === "throw") throw new Error("from the application");
              return a;
            };
            for (const s of steps) {
              try {
                if (s.kind === "upcast") registry.upcast(s.type, s.fromVersion, () => answer(s.upcast).value);
                else if (s.kind === "async") registry.upcast(s.type, s.fromVersion, async () => answer(s.upcast).value);
                else if (s.kind === "rename") registry.rename(s.type, s.fromVersion, s.to);
                else if (s.kind === "split") registry.split(s.type, s.fromVersion, () => s.parts as never);
                else registry.split(s.type, s.fromVersion, (async () => answer(s.upcast) && s.parts) as never);
              } catch (error) {
                expect(isValidationError(error)).toBe(true); // a second step for one version
              }
            }
            for (const s of schemas) {
              const validate = () => answer(s.answer) as never;
              try {
                registry.schema(s.type, s.version, { "~standard": { version: 1, vendor: "test", validate } });
              } catch (error) {
                expect(isValidationError(error)).toBe(true); // a second schema for one version
              }
            }
            let read: EventEnvelope | readonly EventEnvelope[];
            try {
              read = registry.upcastEvent(stored(type, { n: 1 }, schemaVersion));
            } catch (error) {
              expect(isEventFlowsError(error)).toBe(true);
              return;
            }
            for (const event of Array.isArray(read) ? read : [read as EventEnvelope]) {
              expect(typeof event.type === "string" && event.type.length > 0).toBe(true);
              expect(event.data).not.toBeUndefined();
              expect(event.data instanceof Promise).toBe(false);
              expect(typeof event.metadata === "object" && event.metadata !== null).toBe(true);
              expect(Array.isArray(event.metadata)).toBe(false);
              expect(Number.isSafeInteger(event.metadata.schemaVersion)).toBe(true);
              expect(event.metadata.schemaVersion).toBeGreaterThanOrEqual(1);
              // What a read yields, an append takes: data and metadata a store could have held.
              const { schemaVersion: _, ...metadata } = event.metadata;
              await plain.appendToStream(`Check-${ulid()}`, [{ type: "Check", data: event.data, metadata }]);
            }
          },
        ),
        { numRuns: 500 },
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  test("bad registrations are refused with a ValidationError", () => {
    const registry = eventRegistry().upcast("A", 1, (d) => d);
    expect(() => registry.upcast("A", 1, (d) => d)).toThrow(/already has a step/);
    // Before: a second schema for one version silently replaced the first.
    const schemaOnce = eventRegistry().schema("A", 2, v.string());
    expect(() => schemaOnce.schema("A", 2, v.number())).toThrow(/"A" v2 already has a schema/);
    expect(schemaOnce.schemas().map((s) => s.schema)).toEqual([expect.objectContaining({ type: "string" })]);
    for (const bad of [
      () => eventRegistry().upcast("A", 0, (d) => d),
      () => eventRegistry().upcast("", 1, (d) => d),
      () => eventRegistry().upcast("A", 1, "no" as never),
      () => eventRegistry().rename("A", 1, ""),
      () => eventRegistry().schema("A", 1, {} as never),
      () => eventRegistry({ validateOnRead: "yes" as never }),
      // A misspelt key was ignored: `validateOnRaed: true` left every read unchecked.
      () => eventRegistry({ validateOnRaed: true } as never),
      () => eventRegistry(5 as never),
      // The version after it would be 2^53: every append stamped with it was written, and never read back.
      () => eventRegistry().upcast("A", Number.MAX_SAFE_INTEGER, (d) => d),
      () => eventRegistry().split("A", Number.MAX_SAFE_INTEGER, () => [{ type: "A", data: 1 }]),
    ]) {
      expect(bad).toThrow(ValidationError);
    }
    // The message read "an split step".
    expect(() => eventRegistry().split("A", Number.MAX_SAFE_INTEGER, () => [{ type: "A", data: 1 }])).toThrow(
      /: a split step must start below/,
    );
    expect(() => eventRegistry().upcast("A", Number.MAX_SAFE_INTEGER, (d) => d)).toThrow(/: an upcast step must/);
    const empty = eventRegistry().split("A", 1, () => []);
    expect(() => empty.upcastEvent(stored("A", null))).toThrow(
      /returned no events for event \w+ \(stream "S-1", version 7\)/,
    );
    // A block body without `return`, an async upcaster, a part without a type: never handed on as data.
    const noReturn = eventRegistry().upcast("A", 1, (data: object) => void { ...data, more: 1 });
    expect(() => noReturn.upcastEvent(stored("A", {}, 1))).toThrow(/"A" v1 returned no data .* got undefined/);
    const promised = eventRegistry().upcast("A", 1, async (data: object) => ({ ...data }));
    expect(() => promised.upcastEvent(stored("A", {}, 1))).toThrow(/got a promise/);
    const typeless = eventRegistry().split("A", 1, () => [{ data: 1 } as never]);
    expect(() => typeless.upcastEvent(stored("A", {}, 1))).toThrow(/0\.type: event type must be a string/);
  });

  test("steps with a gap between them (v1 and v3, none from v2) are refused when a store gets the registry, and at the first use after a registration", async () => {
    const gapped = () =>
      eventRegistry()
        .upcast("T", 3, (data: object) => ({ ...data, d: 1 }))
        .upcast("T", 1, (data: object) => ({ ...data, b: 1 }))
        .rename("Old", 1, "T", 1)
        .upcast("Old", 4, (data: unknown) => data);
    // Before: a v2 event (and a v1 one, upcast to v2) read as v2, un-upcast, while the current version is 4.
    const read = (() => {
      try {
        return gapped().upcastEvent(stored("T", { a: 1 }, 2));
      } catch (error) {
        return error;
      }
    })();
    expect(isValidationError(read)).toBe(true);
    expect((read as ValidationError).issues).toEqual([
      {
        path: ["T", 2],
        message: '"T" is known from v1 to v4 but has no step from v2: events there would not reach v4',
      },
      {
        path: ["Old", 2],
        message: '"Old" is known from v1 to v5 but has no step from v2 to v3: events there would not reach v5',
      },
    ]);
    expect(() => new InMemoryEventStore({ eventRegistry: gapped() })).toThrow(/gap/);
    // A step registered after the store got the registry: its first append refuses it, writing nothing.
    const later = eventRegistry().upcast("T", 1, (data: object) => ({ ...data, b: 1 }));
    const store = new InMemoryEventStore({ eventRegistry: later });
    later.upcast("T", 3, (data: object) => ({ ...data, d: 1 }));
    await expect(store.appendToStream("S-1", [{ type: "Other", data: {} }])).rejects.toThrow(/gap/);
    expect(await store.getStreamVersion("S-1")).toBe(0);
    // Filled (in any order), the same registry reads v2 to v4.
    const filled = gapped().upcast("T", 2, (data: object) => ({ ...data, c: 1 }));
    expect(() => filled.upcastEvent(stored("T", {}, 2))).toThrow(/"Old" is known from v1 to v5/);
    filled.upcast("Old", 2, (data: unknown) => data).upcast("Old", 3, (data: unknown) => data);
    expect(filled.upcastEvent(stored("T", { a: 1 }, 2))).toMatchObject({
      data: { a: 1, c: 1, d: 1 },
      metadata: { schemaVersion: 4 },
    });
  });

  test("a schema above the last step is a hole too: steps 1->2 and a schema of v3 leave v2 events at v2", async () => {
    const registry = () =>
      eventRegistry()
        .upcast("T", 1, (data: object) => ({ ...data, b: 1 }))
        .schema("T", 3, v.object({ a: v.number(), b: v.number(), c: v.number() }));
    // Before: new InMemoryEventStore took it, and a stored v2 event read as v2 while appends were stamped v3.
    const error = (() => {
      try {
        new InMemoryEventStore({ eventRegistry: registry() });
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(isValidationError(error)).toBe(true);
    expect(error?.issues).toEqual([
      {
        path: ["T", 2],
        message: '"T" is known from v1 to v3 but has no step from v2: events there would not reach v3',
      },
    ]);
    // The same below the first step, between schemas, and for a rename's target.
    for (const [holed, path] of [
      [
        eventRegistry()
          .schema("T", 1, v.unknown())
          .upcast("T", 2, (data: unknown) => data),
        ["T", 1],
      ],
      [eventRegistry().schema("T", 1, v.unknown()).schema("T", 2, v.unknown()), ["T", 1]],
      [eventRegistry().schema("T", 1, v.unknown()).rename("Old", 1, "T", 3), ["T", 1]],
      [
        eventRegistry()
          .schema("T", 1, v.unknown())
          .split("T", 3, () => [{ type: "U", data: 1 }]),
        ["T", 1],
      ],
    ] as const) {
      expect(() => holed.check()).toThrow(ValidationError);
      expect(() => holed.upcastEvent(stored("Unrelated", 1))).toThrow(ValidationError);
      try {
        holed.check();
      } catch (e) {
        expect((e as ValidationError).issues.map((issue) => issue.path)).toEqual([path]);
      }
    }
    // A huge version is checked without walking every version up to it.
    expect(() =>
      eventRegistry().schema("T", 1, v.unknown()).schema("T", Number.MAX_SAFE_INTEGER, v.unknown()).check(),
    ).toThrow(/no step from v1 to v9007199254740990/);
    // Filled, it reads every older version at v3.
    const filled = registry().upcast("T", 2, (data: object) => ({ ...data, c: 1 }));
    new InMemoryEventStore({ eventRegistry: filled });
    for (const version of [1, 2, 3]) {
      expect(filled.upcastEvent(stored("T", { a: 1 }, version))).toMatchObject({ metadata: { schemaVersion: 3 } });
    }
  });

  test("holes are found wherever steps and schemas leave them, and a complete chain reads every version at the current one (property)", () => {
    const registration = fc.record({
      kind: fc.constantFrom("upcast", "schema", "rename"),
      type: fc.constantFrom("A", "B"),
      version: fc.integer({ min: 1, max: 6 }),
      toVersion: fc.integer({ min: 1, max: 6 }),
    });
    fc.assert(
      fc.property(fc.array(registration, { maxLength: 10 }), (registrations) => {
        const registry = eventRegistry();
        // The model: the versions each type is known at, and its steps.
        const known = new Map<string, number[]>();
        const steps = new Map<string, Set<number>>();
        const note = (type: string, ...versions: number[]) =>
          known.set(type, [...(known.get(type) ?? []), ...versions]);
        for (const r of registrations) {
          const other = r.type === "A" ? "B" : "A";
          try {
            if (r.kind === "upcast") registry.upcast(r.type, r.version, (data: number[]) => [...data, r.version]);
            else if (r.kind === "rename") registry.rename(r.type, r.version, other, r.toVersion);
            else registry.schema(r.type, r.version, v.unknown());
          } catch (error) {
            expect(isValidationError(error)).toBe(true); // a second step from one version
            continue;
          }
          if (r.kind === "schema") note(r.type, r.version);
          else {
            steps.set(r.type, (steps.get(r.type) ?? new Set()).add(r.version));
            note(r.type, r.version, ...(r.kind === "upcast" ? [r.version + 1] : []));
            if (r.kind === "rename") note(other, r.toVersion);
          }
        }
        const holes: (string | number)[][] = [];
        for (const [type, versions] of known) {
          // A hole starts at each version without a step whose version below has one (or is the oldest).
          const oldest = Math.min(...versions);
          const has = (version: number) => steps.get(type)?.has(version) === true;
          for (let version = oldest; version < Math.max(...versions); version++) {
            if (!has(version) && (version === oldest || has(version - 1))) holes.push([type, version]);
          }
        }
        let thrown: unknown;
        try {
          registry.check();
        } catch (error) {
          thrown = error;
        }
        if (holes.length > 0) {
          expect(isValidationError(thrown)).toBe(true);
          expect((thrown as ValidationError).issues.map((issue) => issue.path).sort()).toEqual(holes.sort());
          return;
        }
        expect(thrown).toBeUndefined();
        for (const [type, versions] of known) {
          for (let version = Math.min(...versions); version <= Math.max(...versions); version++) {
            let read: EventEnvelope | readonly EventEnvelope[];
            try {
              read = registry.upcastEvent(stored(type, [], version));
            } catch (error) {
              expect((error as Error).message).toMatch(/loop/); // renames back and forth
              continue;
            }
            const event = read as EventEnvelope;
            // Every event reaches its type's current version: none stops in a hole.
            expect(event.metadata.schemaVersion).toBe(registry.currentVersion(event.type));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test("what a read yields reads again unchanged (the SQS consumer re-reads what a store published), a part that keeps its type included", () => {
    const registry = eventRegistry()
      .upcast("B", 1, (data: object) => ({ ...data, b: 1 }))
      .split("A", 1, (event: { data: object }) => [
        { type: "A", data: event.data },
        { type: "B", data: event.data },
      ]);
    const parts = registry.upcastEvent(stored("A", {}, 1)) as EventEnvelope[];
    expect(parts.map((e) => [e.type, e.metadata.schemaVersion])).toEqual([
      ["A", 2],
      ["B", 2],
    ]);
    // Before: the A part, at v2 while A's current version is 1, was taken for an event of a newer release.
    for (const part of parts) expect(registry.upcastEvent(part)).toBe(part);
    expect(() => registry.upcastEvent(stored("A", {}, 3))).toThrow(/newer than the event registry knows/);
    // A part a splitter puts above its type's versions would be taken for one: refused on the first read.
    const ahead = eventRegistry()
      .upcast("B", 1, (data: object) => data)
      .split("A", 1, () => [{ type: "B", data: {}, schemaVersion: 3 }]);
    expect(() => ahead.upcastEvent(stored("A", {}, 1))).toThrow(/"B" is at most at v2 in the event registry, got v3/);
  });

  test("an upcaster or splitter returning what JSON cannot hold stops the read with a ValidationError naming the event and the step, never the value (property)", () => {
    const cycle: Record<string, unknown> = { secret: "s3cr3t" };
    cycle.self = cycle;
    // What a JSON round trip changes, drops or throws on (appends refuse it): a Date, NaN, ±Infinity,
    // a BigInt, a Map or Set, a class instance, a function, a symbol, undefined in an array, a cycle.
    const bad = fc.constantFrom<unknown>(
      new Date(0),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      new Map([["s3cr3t", 1]]),
      new Set(["s3cr3t"]),
      new URL("https://s3cr3t.example"),
      () => "s3cr3t",
      Symbol("s3cr3t"),
      [undefined],
      cycle,
    );
    // The bad value at a generated place in generated JSON: a key of an object, an item of an array.
    const placed = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), bad, fc.array(fc.boolean(), { maxLength: 3 }))
      .map(([json, value, path]) => {
        let out: unknown = value;
        for (const asItem of path) out = asItem ? [json, out] : { kept: json, inner: out };
        return { kept: json, inner: out };
      });
    fc.assert(
      fc.property(placed, fc.constantFrom("upcast", "upcast-renamed", "split", "split-then-upcast"), (data, how) => {
        const registry = eventRegistry();
        if (how === "upcast") registry.upcast("T", 1, () => data);
        else if (how === "upcast-renamed") registry.upcast("T", 1, () => data).rename("T", 2, "U");
        else if (how === "split")
          registry.split("T", 1, () => [
            { type: "U", data: 1 },
            { type: "U", data },
          ]);
        else registry.split("T", 1, () => [{ type: "U", data: { n: 1 } }]).upcast("U", 1, () => data);
        const event = stored("T", { n: 1 }, 1);
        let error: unknown;
        try {
          registry.upcastEvent(event);
        } catch (e) {
          error = e;
        }
        expect(isValidationError(error)).toBe(true);
        const { message, issues } = error as ValidationError;
        const step =
          how === "split"
            ? 'splitter of "T" v1'
            : how === "split-then-upcast"
              ? 'upcaster of "U" v1'
              : 'upcaster of "T" v1';
        expect(message).toContain(
          `The ${step} returned data that is not JSON for event ${event.id} (stream "S-1", version 7)`,
        );
        expect(issues.length).toBeGreaterThan(0);
        expect(issues.every((issue) => issue.path[0] === "data")).toBe(true);
        expect(JSON.stringify([message, issues])).not.toContain("s3cr3t");
      }),
      { numRuns: 300 },
    );
    // JSON, however nested, reads: the same object the step returned.
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        const data = json ?? null;
        const read = eventRegistry()
          .upcast("T", 1, () => data)
          .upcastEvent(stored("T", { n: 1 }, 1)) as EventEnvelope;
        expect(read.data).toBe(data);
      }),
    );
    // An upcaster that changes the stored data in place and returns it is checked too.
    for (const registry of [
      eventRegistry().upcast("T", 1, (data: Record<string, unknown>) => Object.assign(data, { at: new Date(0) })),
      eventRegistry()
        .upcast("T", 1, (data: Record<string, unknown>) => Object.assign(data, { n: Number.NaN }))
        .rename("T", 2, "U"),
      eventRegistry().split("T", 1, (event: EventEnvelope<"T", Record<string, unknown>>) => [
        { type: "U", data: Object.assign(event.data, { big: 1n }) },
      ]),
    ]) {
      expect(() => registry.upcastEvent(stored("T", { n: 1 }, 1))).toThrow(/returned data that is not JSON/);
    }
    // A splitter's metadata is checked too; the stored event's, which the store read as JSON, is not walked.
    const withMetadata = eventRegistry().split("T", 1, () => [
      { type: "U", data: {}, metadata: { correlationId: "c", at: new Date(0) } as never },
    ]);
    expect(() => withMetadata.upcastEvent(stored("T", {}, 1))).toThrow(
      /splitter of "T" v1 returned metadata an append would refuse/,
    );
    for (const metadata of [{ correlationId: 5 }, { causationId: null }, { traceparent: ["x"] }, new Map()]) {
      const split = eventRegistry().split("T", 1, () => [{ type: "U", data: {}, metadata: metadata as never }]);
      let error: unknown;
      try {
        split.upcastEvent(stored("T", {}, 1));
      } catch (e) {
        error = e;
      }
      expect((error as ValidationError).message).toContain(
        'The splitter of "T" v1 returned metadata an append would refuse',
      );
      expect((error as ValidationError).issues.every((issue) => issue.path[0] === "metadata")).toBe(true);
    }
    // Its schemaVersion is replaced by the version reached: not checked; the stored metadata is not walked.
    const replaced = eventRegistry().split("T", 1, () => [{ type: "U", data: {}, metadata: { schemaVersion: 0 } }]);
    expect((replaced.upcastEvent(stored("T", {}, 1)) as EventEnvelope).metadata).toEqual({ schemaVersion: 1 });
  });

  test("an upcaster's non-JSON output stops every read path of a store (readStream, readAll, subscribeToAll); raw reads it", async () => {
    const registry = eventRegistry().upcast("Paid", 1, (data: { at: string }) => ({ ...data, at: new Date(data.at) }));
    const store = new InMemoryEventStore({ eventRegistry: registry });
    await store.appendToStream("Pay-1", [
      { type: "Paid", data: { at: "2026-01-01T00:00:00.000Z" }, metadata: { schemaVersion: 1 } },
    ]);
    const refused = (error: unknown) =>
      isValidationError(error) && /upcaster of "Paid" v1 returned data that is not JSON/.test((error as Error).message);
    expect(refused(await collect(store.readStream("Pay-1")).catch((e: unknown) => e))).toBe(true);
    expect(refused(await collect(store.readAll()).catch((e: unknown) => e))).toBe(true);
    const errors: unknown[] = [];
    const handled: unknown[] = [];
    const subscription = store.subscribeToAll({
      handler: (event) => {
        handled.push(event);
      },
      onError: (error) => {
        errors.push(error);
      },
      retryDelayMs: 5,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await subscription.stop();
    expect(handled).toEqual([]);
    expect(errors.length > 0 && errors.every(refused)).toBe(true);
    expect((await collect(store.readStream("Pay-1", { raw: true })))[0]?.data).toEqual({
      at: "2026-01-01T00:00:00.000Z",
    });
  });

  test("an append at the version after a split of its type is taken, as a read at that version is; above it, refused", async () => {
    // B is split at v1 (into a B, at v2, and a C): B's current version stays 1, so new B events are split
    // too, and a B at v2 (a part that keeps the type, or published and read again) reads as it is.
    const registry = eventRegistry()
      .split("B", 1, (event: EventEnvelope<"B", { n: number }>) => [
        { type: "B", data: { n: event.data.n } },
        { type: "C", data: { m: event.data.n } },
      ])
      .schema("B", 1, v.object({ n: v.number() }))
      .schema("B", 2, v.object({ n: v.number() }));
    expect(registry.currentVersion("B")).toBe(2);
    const splitOnly = eventRegistry().split("B", 1, () => [{ type: "B", data: {} }]);
    expect(splitOnly.currentVersion("B")).toBe(1);
    const store = new InMemoryEventStore({ eventRegistry: splitOnly });
    const part = stored("B", { n: 1 }, 2);
    expect(splitOnly.upcastEvent(part)).toBe(part);
    // Before: "B" is at most at v1 in the event registry, got v2.
    const { events } = await store.appendToStream("B-1", [
      { type: "B", data: { n: 1 }, metadata: { schemaVersion: 2 } },
    ]);
    expect(events[0]?.metadata.schemaVersion).toBe(2);
    expect((await collect(store.readStream("B-1")))[0]).toEqual(events[0] as EventEnvelope);
    const above = await store
      .appendToStream("B-2", [{ type: "B", data: { n: 1 }, metadata: { schemaVersion: 3 } }])
      .catch((e: unknown) => e);
    expect((above as ValidationError).issues).toEqual([
      { path: [0, "metadata", "schemaVersion"], message: '"B" is at most at v2 in the event registry, got v3' },
    ]);
    expect(() => splitOnly.upcastEvent(stored("B", {}, 3))).toThrow(
      /"B" is at most at v2 in the event registry, got v3/,
    );
    // With a schema of v2, B's current version is 2: new B events are stamped v2 and checked against it.
    const strict = new InMemoryEventStore({ eventRegistry: registry });
    const bad = await strict.appendToStream("B-3", [{ type: "B", data: { n: "x" } }]).catch((e: unknown) => e);
    expect((bad as ValidationError).issues.map((issue) => issue.path)).toEqual([[0, "data", "n"]]);
  });

  test("currentVersion: upcasts, schemas and rename targets raise it; a renamed type stays at its last step", () => {
    const registry = cartRegistry();
    expect(registry.currentVersion("CartOpened")).toBe(3);
    expect(registry.currentVersion("ItemPut")).toBe(2);
    expect(registry.currentVersion("ItemAdded")).toBe(1);
    expect(registry.currentVersion("CartCheckedOut")).toBe(1);
    expect(registry.currentVersion("Unknown")).toBeUndefined();
    expect(registry.schemas().map((s) => [s.type, s.version, s.current])).toEqual([
      ["CartOpened", 1, false],
      ["CartOpened", 3, true],
      ["ItemPut", 2, true],
    ]);
  });
});

describe("validation on append", () => {
  test("every payload CartOpened v3 refuses is refused whole, before anything is written", async () => {
    const store = new InMemoryEventStore({ eventRegistry: cartRegistry() });
    const bad = fc
      .record({ owner: fc.anything(), currency: fc.anything(), channel: fc.anything() }, { requiredKeys: [] })
      .filter((data) => (CartOpenedV3["~standard"].validate(data) as { issues?: unknown }).issues !== undefined);
    await fc.assert(
      fc.asyncProperty(bad, async (data) => {
        const streamId = `Cart-${ulid()}`;
        const error = await store
          .appendToStream(streamId, [
            { type: "CartOpened", data: { owner: "ok", currency: "EUR", channel: "web" } },
            { type: "CartOpened", data },
          ])
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isValidationError(error)).toBe(true);
        const paths = (error as ValidationError).issues.map((issue) => issue.path.slice(0, 2).join("."));
        expect(paths.length).toBeGreaterThan(0);
        expect(paths.every((path) => path === "1.data")).toBe(true);
        expect(await store.getStreamVersion(streamId)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  test("an append at a version the registry does not reach is refused whole, whatever its data (property)", async () => {
    // CartOpened is at v3, ItemAdded (renamed) at v1: a later version has no schema to check and no step to read.
    const store = new InMemoryEventStore({ eventRegistry: cartRegistry() });
    const ahead = fc.oneof(
      fc.record({
        type: fc.constant("CartOpened"),
        schemaVersion: fc.integer({ min: 4, max: Number.MAX_SAFE_INTEGER }),
      }),
      fc.record({ type: fc.constant("ItemAdded"), schemaVersion: fc.integer({ min: 2, max: 1_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(ahead, fc.jsonValue(), async ({ type, schemaVersion }, data) => {
        const streamId = `Cart-${ulid()}`;
        const error = await store
          .appendToStream(streamId, [
            { type: "CartOpened", data: { owner: "ok", currency: "EUR", channel: "web" } },
            { type, data: data ?? null, metadata: { schemaVersion } },
          ])
          .catch((e: unknown) => e);
        expect(isValidationError(error)).toBe(true);
        expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([
          [1, "metadata", "schemaVersion"],
        ]);
        expect(await store.getStreamVersion(streamId)).toBe(0);
      }),
      { numRuns: 200 },
    );
    // Its current version and older ones still append.
    const { events } = await store.appendToStream("Cart-ok", [
      { type: "CartOpened", data: { owner: "ok", currency: "EUR", channel: "web" }, metadata: { schemaVersion: 3 } },
      { type: "ItemAdded", data: { sku: "tea", qty: 1 }, metadata: { schemaVersion: 1 } },
    ]);
    expect(events).toHaveLength(2);
  });

  test("an append below a known type's oldest version is refused whole: no schema checks it, no step reads it forward", async () => {
    // T's chain starts at v2 (a schema of v2, a step to v3): a v1 event would read as v1 while handlers expect v3.
    const registry = eventRegistry()
      .schema("T", 2, v.object({ a: v.number() }))
      .upcast("T", 2, (data: { a: number }) => ({ ...data, b: 1 }));
    const store = new InMemoryEventStore({ eventRegistry: registry });
    const error = await store
      .appendToStream("S-1", [
        { type: "T", data: { a: 1 }, metadata: { schemaVersion: 2 } },
        { type: "T", data: { anything: true }, metadata: { schemaVersion: 1 } },
      ])
      .catch((e: unknown) => e);
    expect(isValidationError(error)).toBe(true);
    expect((error as ValidationError).issues).toEqual([
      { path: [1, "metadata", "schemaVersion"], message: '"T" starts at v2 in the event registry, got v1' },
    ]);
    expect(await collect(store.readStream("S-1", { raw: true }))).toEqual([]);
    // v2 and the current version append; a type the registry does not know may name any version.
    await store.appendToStream("S-1", [
      { type: "T", data: { a: 1 }, metadata: { schemaVersion: 2 } },
      { type: "T", data: { a: 2, b: 1 } },
      { type: "Unknown", data: {}, metadata: { schemaVersion: 1 } },
    ]);
    expect((await collect(store.readStream("S-1"))).map((e) => e.metadata.schemaVersion)).toEqual([3, 3, 1]);
  });

  test("an async schema is awaited on append", async () => {
    const later = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: async (value: unknown) =>
          value === "ok" ? { value } : { issues: [{ message: "not ok", path: [{ key: "field" }] }] },
      },
    };
    const store = new InMemoryEventStore({ eventRegistry: eventRegistry().schema("Checked", 1, later) });
    await store.appendToStream("S-1", [{ type: "Checked", data: "ok" }]);
    const error = await store.appendToStream("S-1", [{ type: "Checked", data: "no" }]).catch((e: unknown) => e);
    expect((error as ValidationError).issues).toEqual([{ path: [0, "data", "field"], message: "not ok" }]);
    expect(await store.getStreamVersion("S-1")).toBe(1);
  });

  test("a schema that throws, rejects or answers garbage is a ValidationError on append and on read", async () => {
    const secret = "card-4111111111111111";
    const broken = (validate: (value: unknown) => unknown) => ({
      "~standard": { version: 1 as const, vendor: "test", validate: validate as () => { value: unknown } },
    });
    const schemas = [
      broken(() => {
        throw new TypeError(`cannot read ${secret}`);
      }),
      broken(async () => {
        throw new TypeError(`cannot read ${secret}`);
      }),
      broken(() => undefined),
      broken(() => ({ issues: "bad" })),
      broken(() => ({ issues: [null] })),
      broken(() => ({ issues: [{ path: ["x"] }] })),
      // Neither { value } nor { issues }: a schema that says nothing has not said the data is valid.
      broken(() => ({})),
      broken(() => ({ valid: true })),
      // { issues } is a failure, even with none in it (it passed as valid).
      broken(() => ({ issues: [] })),
      broken(() => ({ value: { card: "x" }, issues: [] })),
    ];
    for (const schema of schemas) {
      const store = new InMemoryEventStore({ eventRegistry: eventRegistry().schema("Paid", 1, schema) });
      const error = await store.appendToStream("Pay-1", [{ type: "Paid", data: { card: secret } }]).catch((e) => e);
      expect([isValidationError(error), error.message]).toEqual([true, expect.stringContaining('"Paid" v1 failed')]);
      expect(error.message).not.toContain(secret);
      expect(await store.getStreamVersion("Pay-1")).toBe(0);
    }
    // On read (validateOnRead): the event is named; an asynchronous schema's promise, not awaited
    // on read, must not reject unhandled (that ends a Node process).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      for (const [i, schema] of schemas.entries()) {
        const registry = eventRegistry({ validateOnRead: true }).schema("Paid", 1, schema);
        const error = (() => {
          try {
            registry.upcastEvent(stored("Paid", { card: secret }, 1));
          } catch (e) {
            return e as ValidationError;
          }
        })();
        expect(isValidationError(error)).toBe(true);
        expect(error?.message).toContain(i === 1 ? "asynchronous" : 'stream "S-1", version 7');
        expect(error?.message).not.toContain(secret);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  test("a stored event failing its schema on read: the issues say what is wrong, never the stored value", async () => {
    // Stored data may be personal (and decrypted by then): an error reaches logs and spans.
    const schema = v.object({
      email: v.pipe(v.string(), v.email()),
      name: v.pipe(v.string(), v.maxLength(3)),
      age: v.pipe(v.number(), v.integer(), v.maxValue(150)),
      tag: v.pipe(v.string(), v.regex(/^[a-z]+$/)),
    });
    const registry = eventRegistry({ validateOnRead: true }).schema("Signed", 1, schema);
    fc.assert(
      fc.property(
        fc.string({ minLength: 6 }).map((s) => `secret-${s}`),
        fc.constantFrom("email", "name", "age", "tag", "type"),
        (secret, field) => {
          const data: Record<string, unknown> = { email: "a@b.co", name: "Al", age: 30, tag: "ok" };
          if (field === "age") data.age = 151.5;
          else if (field === "type") data.age = secret;
          else data[field] = `${secret}!`;
          let error: unknown;
          try {
            registry.upcastEvent(stored("Signed", data, 1));
          } catch (e) {
            error = e;
          }
          expect(isValidationError(error)).toBe(true);
          const text = JSON.stringify([(error as ValidationError).message, (error as ValidationError).issues]);
          expect(text).not.toContain(secret);
          expect(text).not.toContain("151.5");
          expect(text).not.toContain(", got ");
        },
      ),
    );
    // A message the schema's author writes may quote the value: on read, valibot's issues get ours.
    const quoting = eventRegistry({ validateOnRead: true }).schema(
      "Quoted",
      1,
      v.strictObject(
        {
          email: v.pipe(
            v.string(),
            v.email((issue) => `${issue.input} is not an email`),
          ),
          name: v.string((issue) => `name ${issue.received} must be a string`),
          age: v.pipe(
            v.number(),
            v.maxValue(150, (issue) => `${issue.input} is too old`),
          ),
        },
        (issue) => `unexpected ${issue.received}`,
      ),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 6 }).map((s) => `secret-${s}`),
        fc.constantFrom("email", "name", "age", "extra"),
        (secret, field) => {
          const data: Record<string, unknown> = { email: "a@b.co", name: "Al", age: 30 };
          if (field === "age") data.age = 151.25;
          else if (field === "name") data.name = { secret };
          else if (field === "extra") data.extra = secret;
          else data.email = `${secret}!`;
          let error: unknown;
          try {
            quoting.upcastEvent(stored("Quoted", data, 1));
          } catch (e) {
            error = e;
          }
          expect(isValidationError(error)).toBe(true);
          const text = JSON.stringify([(error as ValidationError).message, (error as ValidationError).issues]);
          expect(text).not.toContain(secret);
          expect(text).not.toContain("151.25");
        },
      ),
    );
    const unknownKey = { email: "a@b.co", name: "Al", age: 30, extra: 1 };
    const missing = { email: "a@b.co", age: 30 };
    for (const [data, issue] of [
      [unknownKey, { path: ["data", "extra"], message: "is not allowed here" }],
      [missing, { path: ["data", "name"], message: "is required" }],
      [
        { ...missing, name: 5 },
        { path: ["data", "name"], message: "must be a string" },
      ],
    ] as const) {
      const error = (() => {
        try {
          quoting.upcastEvent(stored("Quoted", data, 1));
        } catch (e) {
          return e as ValidationError;
        }
      })();
      expect(error?.issues).toEqual([issue]);
    }
    // On append the input is the caller's own: quoted back (clipped), as command validation does.
    const store = new InMemoryEventStore({ eventRegistry: registry });
    const data = { email: "not-an-email", name: "Al", age: 30, tag: "ok" };
    const refused = await store.appendToStream("Signed-1", [{ type: "Signed", data }]).catch((e) => e);
    expect((refused as ValidationError).issues).toEqual([
      { path: [0, "data", "email"], message: 'must be an email address, got "not-an-email"' },
    ]);
    // And the author's own messages are kept there, as written.
    const quoted = await new InMemoryEventStore({ eventRegistry: quoting })
      .appendToStream("Quoted-1", [{ type: "Quoted", data: { email: "x", name: "Al", age: 30 } }])
      .catch((e) => e);
    expect((quoted as ValidationError).issues).toEqual([{ path: [0, "data", "email"], message: "x is not an email" }]);
  });

  test("without a registry nothing is stamped and nothing is validated", async () => {
    const store = new InMemoryEventStore();
    const { events } = await store.appendToStream("S-1", [{ type: "CartOpened", data: { owner: "" } }]);
    expect(events[0]?.metadata).toEqual({});
    expect((await collect(store.readStream("S-1")))[0]).toBe(events[0] as EventEnvelope);
  });
});

describe("an upcaster that throws", () => {
  test("reads fail with an UpcastError naming the stored event, never its data; the cause is kept", async () => {
    const secret = "card-4111111111111111";
    const boom = new TypeError(`cannot read ${secret}`);
    const registry = eventRegistry()
      .upcast("Paid", 1, (data: { card: string }) => {
        if (data.card === secret) throw boom;
        return data;
      })
      .split("Pair", 1, () => {
        throw new RangeError("no parts");
      });
    const store = new InMemoryEventStore({ eventRegistry: registry });
    await store.appendToStream("Pay-1", [{ type: "Paid", data: { card: "ok" }, metadata: { schemaVersion: 1 } }]);
    await store.appendToStream("Pay-1", [{ type: "Paid", data: { card: secret }, metadata: { schemaVersion: 1 } }]);
    const error = await collect(store.readStream("Pay-1")).catch((e: unknown) => e);
    expect(isUpcastError(error)).toBe(true);
    const upcast = error as UpcastError;
    expect([upcast.code, upcast.streamId, upcast.version, upcast.eventType, upcast.schemaVersion]).toEqual([
      "UPCAST_FAILED",
      "Pay-1",
      2,
      "Paid",
      1,
    ]);
    expect(upcast.cause).toBe(boom);
    expect(upcast.message).not.toContain(secret);
    // Raw reads still work: tools can see what is stored.
    expect((await collect(store.readStream("Pay-1", { raw: true }))).length).toBe(2);
    await store.appendToStream("Pair-1", [{ type: "Pair", data: 1, metadata: { schemaVersion: 1 } }]);
    const split = await collect(store.readAll()).catch((e: unknown) => e);
    expect([isUpcastError(split), (split as UpcastError).eventType]).toEqual([true, "Paid"]);
    const pairError = await collect(store.readStream("Pair-1")).catch((e: unknown) => e);
    expect([(pairError as UpcastError).eventType, (pairError as Error).cause instanceof RangeError]).toEqual([
      "Pair",
      true,
    ]);
  });

  test("a ValidationError from the registry itself is not re-wrapped", () => {
    const looping = eventRegistry().rename("A", 1, "B").rename("B", 1, "A");
    expect(() => looping.upcastEvent(stored("A", {}, 1))).toThrow(ValidationError);
  });
});

describe("every read path against the steps applied by hand", () => {
  test("generated upcast, rename and split chains: readStream, readAll, subscribeToAll, a projection, snapshot plus tail (property)", async () => {
    // One in-memory store seen by the old release (no registry) and the current one.
    const shared = new InMemoryEventStore();
    await checkEvolutionPaths({ create: (options) => new StoreView(shared, options), numRuns: 100 });
  }, 60_000);
});

describe("validation on append, through the public API (property)", () => {
  test("a batch with an event its schema refuses, or above its type's version, writes nothing (raw read); one that passes reads back current", async () => {
    const shared = new InMemoryEventStore();
    await checkValidatedAppends({
      create: (options) => new StoreView(shared, options),
      registry: cartRegistry(),
      schemas: cartSchemas,
      numRuns: 300,
    });
  });
});

describe("subscribeToAll and split events", () => {
  test("a handler failing on the second part gets both parts again: the checkpoint waits for the whole split", async () => {
    const registry = eventRegistry().split("Pair", 1, (event: { data: [string, string] }) => [
      { type: "Half", data: event.data[0] },
      { type: "Half", data: event.data[1] },
    ]);
    const store = new InMemoryEventStore({ eventRegistry: registry });
    await store.appendToStream("P-1", [{ type: "Pair", data: ["a", "b"] }]);
    const seen: unknown[] = [];
    let failOnce = true;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    const subscription = store.subscribeToAll({
      retryDelayMs: 0,
      onError: () => undefined,
      handler: (event) => {
        seen.push(event.data);
        if (event.data === "b" && failOnce) {
          failOnce = false;
          throw new Error("once");
        }
        if (seen.length === 4) resolveDone();
      },
    });
    try {
      await done;
      expect(seen).toEqual(["a", "b", "a", "b"]);
    } finally {
      await subscription.stop();
    }
    expect(subscription.position).toBe(1);
  });
});

/** A ULID with the given time, for ids across the whole time range. */
function ulidAt(time: number): string {
  const id = ulid();
  const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let prefix = "";
  for (let t = time, i = 0; i < 10; i++, t = Math.floor(t / 32)) prefix = CROCKFORD[t % 32] + prefix;
  return prefix + id.slice(10);
}

describe("arrays where an event's schema wants an object", () => {
  // valibot's object, looseObject, objectWithRest and record take an array and hand back an object built from it.
  test("an append of [] or [1, 2] as data of an object or record schema is refused whole, naming the place", async () => {
    const registry = eventRegistry()
      .schema("Opened", 1, v.object({ owner: v.optional(v.string()) }))
      .schema("Tagged", 1, v.record(v.string(), v.number()))
      .schema("Moved", 1, v.object({ to: v.looseObject({}), lines: v.array(v.objectWithRest({}, v.number())) }))
      .schema("Listed", 1, v.array(v.number()));
    const store = new InMemoryEventStore({ eventRegistry: registry });
    const error = await store
      .appendToStream("S-1", [
        { type: "Opened", data: [] },
        { type: "Tagged", data: [1, 2] },
        { type: "Moved", data: { to: [], lines: [{ a: 1 }, [3]] } },
        { type: "Listed", data: [1, 2] },
      ])
      .catch((e: unknown) => e);
    expect(isValidationError(error)).toBe(true);
    expect((error as ValidationError).issues).toEqual([
      { path: [0, "data"], message: "must be an object, got an array" },
      { path: [1, "data"], message: "must be an object, got an array" },
      { path: [2, "data", "to"], message: "must be an object, got an array" },
      { path: [2, "data", "lines", 1], message: "must be an object, got an array" },
    ]);
    expect(await collect(store.readStream("S-1", { raw: true }))).toEqual([]);
    const { events } = await store.appendToStream("S-1", [
      { type: "Opened", data: {} },
      { type: "Tagged", data: { a: 1 } },
      { type: "Moved", data: { to: {}, lines: [{ a: 1 }] } },
      { type: "Listed", data: [1, 2] },
    ]);
    expect(events.map((e) => e.data)).toEqual([{}, { a: 1 }, { to: {}, lines: [{ a: 1 }] }, [1, 2]]);
  });

  test("validateOnRead refuses a stored array where its schema wants an object, and without it reads it as stored", () => {
    const event = stored("Opened", [1]);
    const checking = eventRegistry({ validateOnRead: true }).schema("Opened", 1, v.object({}));
    const refused = (() => {
      try {
        return checking.upcastEvent(event);
      } catch (e) {
        return e;
      }
    })();
    expect(isValidationError(refused)).toBe(true);
    expect((refused as ValidationError).issues).toEqual([
      { path: ["data"], message: "must be an object, got an array" },
    ]);
    expect(eventRegistry().schema("Opened", 1, v.object({})).upcastEvent(event)).toBe(event);
  });

  test("generated trees of records and arrays: an append is refused exactly at each array in a record's place, else written (property)", async () => {
    // A record whose values are numbers or records: each array in the tree sits where a record is wanted.
    const Tree: v.GenericSchema = v.record(v.string(), v.union([v.number(), v.lazy(() => Tree)]));
    const store = new InMemoryEventStore({ eventRegistry: eventRegistry().schema("Tree", 1, Tree) });
    const key = fc.stringMatching(/^[a-z]{1,3}$/);
    const { node } = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.integer(),
        fc.dictionary(key, tie("node"), { maxKeys: 3 }),
        fc.array(tie("node"), { maxLength: 3 }),
      ),
    }));
    const arraysIn = (value: unknown, path: (string | number)[]): (string | number)[][] => {
      if (Array.isArray(value)) return [path];
      if (typeof value !== "object" || value === null) return [];
      return Object.entries(value).flatMap(([k, inner]) => arraysIn(inner, [...path, k]));
    };
    const root = fc.oneof(fc.dictionary(key, node, { maxKeys: 4 }), fc.array(node));
    await fc.assert(
      fc.asyncProperty(root, async (data) => {
        const streamId = `T-${ulid()}`;
        const expected = arraysIn(data, [1, "data"]);
        const outcome = await store
          .appendToStream(streamId, [
            { type: "Tree", data: {} },
            { type: "Tree", data },
          ])
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        if (expected.length === 0) {
          expect(outcome).toBeUndefined();
          expect(await store.getStreamVersion(streamId)).toBe(2);
        } else {
          expect(isValidationError(outcome)).toBe(true);
          expect((outcome as ValidationError).issues).toEqual(
            expected.map((path) => ({ path, message: "must be an object, got an array" })),
          );
          expect(await store.getStreamVersion(streamId)).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("splitEventId", () => {
  // The carry past the random part was dropped: a stored id near its largest random value gave part 1
  // an id that wrapped round below the stored one, equal to another event's id.
  test("every part's id is a ULID that sorts after the stored id and the part before it, for any stored ULID (property)", () => {
    const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const digit = fc.constantFrom(...CROCKFORD.split(""));
    const randomPart = fc.oneof(
      fc.array(digit, { minLength: 16, maxLength: 16 }).map((cs) => cs.join("")),
      // Near the largest random value, where the carry reaches the time.
      fc.array(digit, { minLength: 8, maxLength: 8 }).map((cs) => `ZZZZZZZ${cs.join("")}Z`),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), randomPart, fc.integer({ min: 1, max: 5 }), (ms, random, n) => {
        let time = "";
        for (let rest = ms, i = 0; i < 10; i++, rest = Math.floor(rest / 32)) time = `${CROCKFORD[rest % 32]}${time}`;
        const stored = `${time}${random}`;
        let previous = stored;
        for (let i = 1; i <= n; i++) {
          const id = splitEventId(stored, i);
          expect(isUlid(id)).toBe(true);
          expect(compareUlids(id, previous)).toBe(1);
          previous = id;
        }
      }),
      { examples: [[1_700_000_000_000, "ZZZZZZZZZZZZZZZZ", 3]] },
    );
  });
});

describe("EventRegistry.schema", () => {
  test("what is no Standard Schema is a ValidationError, a ~standard getter that throws included (its error left raw)", () => {
    const throwing = Object.defineProperty({}, "~standard", {
      get() {
        throw new Error("the wrapper's own text");
      },
    });
    for (const schema of [undefined, {}, { "~standard": {} }, throwing]) {
      let thrown: unknown;
      try {
        eventRegistry().schema("CartOpened", 1, schema as never);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect(String((thrown as Error).message)).not.toContain("the wrapper's own text");
    }
    expect(() => eventRegistry().schema("CartOpened", 1, v.object({ id: v.string() }))).not.toThrow();
  });
});
