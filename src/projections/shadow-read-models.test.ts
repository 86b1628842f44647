import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import { MAX_PROJECTION_NAME_LENGTH, type Projection, projection } from "./projection.js";
import type { ReadModelWriter } from "./read-model-store.js";
import { rebuildProjection } from "./rebuild.js";
import { rebuildCheckpointId, ShadowReadModels, shadowCollection } from "./shadow-read-models.js";

describe("ShadowReadModels", () => {
  test("documents, state and the projection's checkpoint live under the shadow's names", async () => {
    const live = new InMemoryReadModelStore();
    const shadow = new ShadowReadModels(live, "p", ["carts"]);
    await shadow.transaction(async (tx) => {
      await tx.put("carts", "a", 1);
      await tx.put("projection-state", "p", { n: 1 });
      await tx.checkpoints.store("projection:p", 7, { expected: 0 });
    });
    expect(await live.get(shadowCollection("p", "carts"), "a")).toBe(1);
    expect(await live.get("carts", "a")).toBeUndefined();
    expect(await live.get(shadowCollection("p", "projection-state"), "p")).toEqual({ n: 1 });
    expect(await live.checkpoints.load(rebuildCheckpointId("p"))).toBe(7);
    expect(await live.checkpoints.load("projection:p")).toBeUndefined();
    expect(await shadow.list("carts")).toEqual([{ id: "a", document: 1 }]);
  });

  test("undeclared collections and other checkpoints are refused", async () => {
    const shadow = new ShadowReadModels(new InMemoryReadModelStore(), "p", ["carts"]);
    await expect(shadow.put("orders", "a", 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    // A read too: the shadow holds only the declared collections, so another one would read as empty.
    for (const read of [() => shadow.get("orders", "a"), () => shadow.transaction((tx) => tx.get("orders", "a"))]) {
      await expect(read()).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: expect.stringMatching(/^Read or write outside the rebuild's collections/),
      });
    }
    await expect(shadow.checkpoints.store("projection:other", 1)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("the swap plan moves the declared collections, the state document and the checkpoint", () => {
    const shadow = new ShadowReadModels(new InMemoryReadModelStore(), "p", ["carts", "lines"]);
    expect(shadow.swapPlan).toEqual({
      collections: [
        { from: "~rebuild/p/carts", to: "carts" },
        { from: "~rebuild/p/lines", to: "lines" },
      ],
      documents: [
        {
          from: { collection: "~rebuild/p/projection-state", id: "p" },
          to: { collection: "projection-state", id: "p" },
        },
      ],
      checkpoints: [{ from: "rebuild:p", to: "projection:p" }],
    });
    expect(shadow.dropPlan).toEqual({
      collections: ["~rebuild/p/carts", "~rebuild/p/lines"],
      documents: [{ collection: "~rebuild/p/projection-state", id: "p" }],
      checkpoints: ["rebuild:p"],
    });
  });
});

describe("rebuildProjection's shadow names", () => {
  test("a collection or state whose shadow name would not fit a key is refused before anything is written", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const readModels = new InMemoryReadModelStore();
    const name = "p".repeat(MAX_PROJECTION_NAME_LENGTH);
    const handle = async (event: EventEnvelope, { readModels: tx }: { readModels: ReadModelWriter }) => {
      await tx.put("carts", event.streamId, 1);
    };
    const refused = async <S>(defined: Projection<EventEnvelope, S>) => {
      const error = await rebuildProjection({
        projection: defined,
        eventStore,
        readModels,
        collections: ["carts"],
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
      expect(String((error as Error & { issues: { message: string }[] }).issues[0]?.message)).toContain("shorten");
      expect(await readModels.list("carts")).toEqual([]);
      expect(await readModels.checkpoints.load(rebuildCheckpointId(defined.name))).toBeUndefined();
    };
    await refused(projection({ name, handle }));
    // Stateful: "carts" would fit, the state's shadow collection ("~rebuild/<name>/projection-state") does not.
    await refused(
      projection({ name: "p".repeat(MAX_PROJECTION_NAME_LENGTH - 10), initialState: 0, handle: async () => 1 }),
    );
    // A name that leaves room for the shadow's prefix rebuilds.
    const fits = projection({ name: "p".repeat(200), handle });
    const done = await rebuildProjection({ projection: fits, eventStore, readModels, collections: ["carts"] });
    expect(done).toMatchObject({ read: 1, swapped: true });
    expect(await readModels.get("carts", "Cart-1")).toBe(1);
  });

  test("a stateless projection's state slot counts too: the swap moves it, so a name it does not fit is refused up front", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const readModels = new InMemoryReadModelStore();
    // "~rebuild/<name>/carts" is 250 characters and fits; "~rebuild/<name>/projection-state", 261, does not.
    // The swap plan names it for every projection (clearing a state an earlier stateful version left),
    // so the shadow was built in full and then every swap was refused.
    const name = "p".repeat(235);
    const error = await rebuildProjection({
      projection: projection({ name, handle: async (event, { readModels: tx }) => tx.put("carts", event.streamId, 1) }),
      eventStore,
      readModels,
      collections: ["carts"],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["projection", "name"] }] });
    expect(await readModels.list(shadowCollection(name, "carts"))).toEqual([]);
    expect(await readModels.checkpoints.load(rebuildCheckpointId(name))).toBeUndefined();
  });
});

describe("shadow names of projections whose names hold / or %", () => {
  test("no two (projection, collection) pairs share a shadow collection or a rebuild checkpoint (property)", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "/", "%", "2", "F", "~"), minLength: 1, maxLength: 6 });
    // The same text split at another "/": what "~rebuild/<projection>/<collection>" could not tell apart.
    const resplit = fc.tuple(text, text, fc.nat()).map(([p, c, pick]) => {
      const joined = `${p}/${c}`;
      const slashes = [...joined].flatMap((ch, i) => (ch === "/" ? [i] : []));
      const at = slashes[pick % slashes.length] as number;
      return [
        [p, c],
        [joined.slice(0, at), joined.slice(at + 1)],
      ];
    });
    const pairs = fc.oneof(fc.tuple(fc.tuple(text, text), fc.tuple(text, text)), resplit);
    fc.assert(
      fc.property(pairs, ([[p, c], [q, d]]) => {
        fc.pre((p !== q || c !== d) && q !== "" && d !== "");
        expect(shadowCollection(p as string, c as string)).not.toBe(shadowCollection(q as string, d as string));
        if (p !== q) expect(rebuildCheckpointId(p as string)).not.toBe(rebuildCheckpointId(q as string));
      }),
      { numRuns: 2000 },
    );
    expect(shadowCollection("p", "carts")).toBe("~rebuild/p/carts");
  });

  test('a rebuild of "p" (collection "a/x") leaves alone the shadow of "p/a" (collection "x"), which swaps in whole', async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    await eventStore.appendToStream("Cart-2", [{ type: "T", data: 2 }]);
    const readModels = new InMemoryReadModelStore();
    const writing = (name: string, collection: string) =>
      projection({
        name,
        handle: async (event: EventEnvelope, { readModels: tx }: { readModels: ReadModelWriter }) => {
          await tx.put(collection, `${name}:${event.streamId}`, name);
        },
      });
    await rebuildProjection({
      projection: writing("p/a", "x"),
      eventStore,
      readModels,
      collections: ["x"],
      swap: false,
    });
    await rebuildProjection({ projection: writing("p", "a/x"), eventStore, readModels, collections: ["a/x"] });
    // Before, p's rebuild built into p/a's shadow and swapped it out with its own: p/a then swapped in nothing.
    expect((await readModels.list("a/x")).map((d) => d.id)).toEqual(["p:Cart-1", "p:Cart-2"]);
    const resumed = await rebuildProjection({
      projection: writing("p/a", "x"),
      eventStore,
      readModels,
      collections: ["x"],
    });
    expect(resumed).toMatchObject({ read: 0, swapped: true });
    expect((await readModels.list("x")).map((d) => d.id)).toEqual(["p/a:Cart-1", "p/a:Cart-2"]);
  });

  test("the escaped name counts toward a shadow name's 256 characters, refused before anything is written", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const readModels = new InMemoryReadModelStore();
    // 82 slashes: 93 characters as "~rebuild/<name>/c", 257 escaped (the rebuild checkpoint, shorter, always fits then).
    const name = "/".repeat(82);
    const error = await rebuildProjection({
      projection: projection({ name, handle: async () => {} }),
      eventStore,
      readModels,
      collections: ["c"],
    }).catch((e: unknown) => e);
    // The state's slot, longer than "c", is refused too (see the test above).
    expect(error).toMatchObject({
      code: "VALIDATION_FAILED",
      issues: [{ path: ["collections", 0] }, { path: ["projection", "name"] }],
    });
    expect(await readModels.checkpoints.load(rebuildCheckpointId(name))).toBeUndefined();
    expect(rebuildCheckpointId("/".repeat(83)).length).toBeLessThan(shadowCollection("/".repeat(83), "c").length);
  });
});

describe("rebuildProjection's options", () => {
  test("a bad projection, eventStore, readModels, batchSize, maxBatchSize, swap, restart, owner, lock, onProgress or signal is refused before anything is dropped, built or swapped", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const readModels = new InMemoryReadModelStore();
    const counting = (size: number) =>
      projection({
        name: "sizes",
        handle: async (event: EventEnvelope, { readModels: tx }: { readModels: ReadModelWriter }) => {
          await tx.put("carts", event.streamId, size);
        },
      });
    // A shadow left by an earlier rebuild (swap: false), and the live document.
    await readModels.put("carts", "Cart-1", 0);
    await rebuildProjection({ projection: counting(1), eventStore, readModels, collections: ["carts"], swap: false });
    // An event store without a global feed (a DynamoDB store without one, say).
    const unordered = new InMemoryEventStore();
    Object.defineProperty(unordered, "capabilities", { value: { ...unordered.capabilities, globalOrder: false } });
    for (const bad of [
      // The event store was refused by the runner, after restart had dropped the shadow; the
      // others were TypeErrors, the one of the wrong read-model store too.
      { eventStore: unordered },
      { eventStore: {} },
      { readModels: {} },
      { projection: { name: "sizes" } },
      { batchSize: 0 },
      { batchSize: 10_001 },
      { batchSize: 2.5 },
      { maxBatchSize: 0 },
      { maxBatchSize: 10_001 },
      { maxBatchSize: "8" },
      // Below the default batchSize (1,000), and below a given one.
      { maxBatchSize: 999 },
      { batchSize: 10, maxBatchSize: 9 },
      { swap: "no" },
      { swap: 0 },
      { restart: "yes" },
      { owner: "" },
      { owner: 7 },
      // Were a TypeError at the swap (the shadow built), a hook logged after each batch, an ignored signal.
      { lock: {} },
      { onProgress: 5 },
      { signal: "stop" },
    ]) {
      const error = await rebuildProjection({
        projection: counting(2),
        eventStore,
        readModels,
        collections: ["carts"],
        restart: true,
        ...(bad as object),
      }).catch((e: unknown) => e);
      expect([bad, (error as { code?: string }).code]).toEqual([bad, "VALIDATION_FAILED"]);
      expect(String((error as Error).message)).toContain("Invalid projection rebuild");
      expect(await readModels.get("carts", "Cart-1")).toBe(0);
      expect(await readModels.checkpoints.load(rebuildCheckpointId("sizes"))).toBe(1);
    }
  });

  // Before, lockPollMs past setTimeout's limit slept no time at all (the wait for the lease spun), and a
  // misspelt key was dropped for its default.
  test("lockPollMs and leaseMs are bounded as the runner bounds its waits, and a key rebuildProjection does not take is refused", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    const sizes = projection({ name: "sizes", handle: () => undefined });
    const issuesOf = async (bad: Record<string, unknown>) => {
      const error = await rebuildProjection({
        projection: sizes,
        eventStore,
        readModels,
        collections: ["carts"],
        ...bad,
      }).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe("VALIDATION_FAILED");
      return (error as { issues: { path: unknown[]; message: string }[] }).issues;
    };
    expect(await issuesOf({ lockPollMs: 2 ** 31, leaseMs: Number.MAX_SAFE_INTEGER })).toEqual([
      { path: ["lockPollMs"], message: "lockPollMs must be at most 2147483647 ms" },
      { path: ["leaseMs"], message: "leaseMs must be at most 2147483647 ms" },
    ]);
    expect(await issuesOf({ lockPolMs: 5 })).toEqual([
      { path: ["lockPolMs"], message: expect.stringContaining("is not an option (the options are projection,") },
    ]);
    expect(await readModels.checkpoints.load(rebuildCheckpointId("sizes"))).toBeUndefined();
    // The bound itself is taken.
    const done = await rebuildProjection({
      projection: sizes,
      eventStore,
      readModels,
      collections: ["carts"],
      lockPollMs: 2 ** 31 - 1,
      leaseMs: 2 ** 31 - 1,
    });
    expect(done.swapped).toBe(true);
  });

  test("shadow batches read maxBatchSize, a batchSize given alone, or the live store's capabilities.maxBatchSize", async () => {
    const eventStore = new InMemoryEventStore();
    for (let n = 0; n < 30; n++) await eventStore.appendToStream(`Cart-${n % 3}`, [{ type: "T", data: n }]);
    const sizes = projection({
      name: "sizes",
      handle: async (event: EventEnvelope, { readModels: tx }: { readModels: ReadModelWriter }) => {
        await tx.put("carts", event.streamId, event.data);
      },
    });
    const batches = async (
      readModels: InMemoryReadModelStore,
      options: { batchSize?: number; maxBatchSize?: number },
    ) => {
      const seen: number[] = [];
      let done = 0;
      const result = await rebuildProjection({
        projection: sizes,
        eventStore,
        readModels,
        collections: ["carts"],
        restart: true,
        ...options,
        onProgress: (progress) => {
          seen.push(progress.done - done);
          done = progress.done;
        },
      });
      expect([result.read, result.swapped, await readModels.get("carts", "Cart-2")]).toEqual([30, true, 29]);
      return seen;
    };
    expect(await batches(new InMemoryReadModelStore(), { batchSize: 2, maxBatchSize: 8 })).toEqual([8, 8, 8, 6]);
    expect(await batches(new InMemoryReadModelStore(), { batchSize: 2 })).toEqual(Array.from({ length: 15 }, () => 2));
    // Without the option, the live store's capability: the shadow's transactions are its.
    const growing = new InMemoryReadModelStore();
    Object.defineProperty(growing, "capabilities", { value: { ...growing.capabilities, maxBatchSize: 16 } });
    expect(new ShadowReadModels(growing, "sizes", ["carts"]).capabilities.maxBatchSize).toBe(16);
    // The rebuild's default batchSize (1,000) is above the store's 16: batches of 1,000, all 30 at once.
    expect(await batches(growing, {})).toEqual([30]);
    expect(await batches(growing, { batchSize: 4, maxBatchSize: 16 })).toEqual([16, 14]);
    expect(await batches(growing, { batchSize: 2 })).toEqual(Array.from({ length: 15 }, () => 2));
    // And none: every batch is the rebuild's default batchSize (1,000: all 30 events at once).
    expect(await batches(new InMemoryReadModelStore(), {})).toEqual([30]);
  });
});
