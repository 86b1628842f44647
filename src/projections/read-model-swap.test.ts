import { describe, expect, test } from "bun:test";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";

describe("ReadModelStore.swap and drop", () => {
  test("swap replaces whole collections, moves single documents and checkpoints, in one step", async () => {
    const store = new InMemoryReadModelStore();
    await store.put("live", "old", 1);
    await store.put("next", "new", 2);
    await store.put("state-next", "p", { s: 2 });
    await store.put("state", "p", { s: 1 });
    await store.put("state", "q", { s: 9 });
    await store.checkpoints.store("next", 5);
    await store.checkpoints.store("live", 3);
    await store.swap({
      collections: [{ from: "next", to: "live" }],
      documents: [{ from: { collection: "state-next", id: "p" }, to: { collection: "state", id: "p" } }],
      checkpoints: [{ from: "next", to: "live" }],
    });
    expect(await store.list("live")).toEqual([{ id: "new", document: 2 }]);
    expect(await store.list("next")).toEqual([]);
    expect(await store.list("state")).toEqual([
      { id: "p", document: { s: 2 } },
      { id: "q", document: { s: 9 } },
    ]);
    expect(await store.checkpoints.load("live")).toBe(5);
    expect(await store.checkpoints.load("next")).toBeUndefined();
    await store.drop({ collections: ["live"], documents: [{ collection: "state", id: "q" }], checkpoints: ["live"] });
    expect(await store.list("live")).toEqual([]);
    expect(await store.list("state")).toEqual([{ id: "p", document: { s: 2 } }]);
    expect(await store.checkpoints.load("live")).toBeUndefined();
  });

  test("malformed moves are refused; a store without the capability refuses with REBUILD_NOT_SUPPORTED", async () => {
    const store = new InMemoryReadModelStore();
    await expect(
      store.swap({ collections: [{ from: "", to: "x" }], documents: [], checkpoints: [] }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(store.swap({ collections: "x", documents: [], checkpoints: [] } as never)).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    // From JavaScript: a drop or swap that is no object, or holds no lists, named as such (a null drop was a TypeError).
    for (const wrong of [null, true, "live", { collections: null, documents: [], checkpoints: [] }]) {
      await expect(store.drop(wrong as never)).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: expect.stringContaining("Invalid read-model drop"),
      });
      await expect(store.swap(wrong as never)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    // A move onto itself: PostgreSQL and SQLite emptied the collection, DynamoDB refused it.
    await store.put("kept", "a", { n: 1 });
    await store.checkpoints.store("kept", 3);
    for (const swap of [
      { collections: [{ from: "kept", to: "kept" }], documents: [], checkpoints: [] },
      {
        collections: [],
        documents: [{ from: { collection: "kept", id: "a" }, to: { collection: "kept", id: "a" } }],
        checkpoints: [],
      },
      { collections: [], documents: [], checkpoints: [{ from: "kept", to: "kept" }] },
    ]) {
      await expect(store.swap(swap)).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: expect.stringContaining("swap"),
      });
    }
    expect(await store.list("kept")).toEqual([{ id: "a", document: { n: 1 } }]);
    expect(await store.checkpoints.load("kept")).toBe(3);
    class Unable extends InMemoryReadModelStore {
      override readonly capabilities = { atomicCheckpoints: true };
    }
    const unable = new Unable();
    await expect(unable.swap({ collections: [], documents: [], checkpoints: [] })).rejects.toMatchObject({
      code: "REBUILD_NOT_SUPPORTED",
    });
    await expect(unable.drop({ collections: [], documents: [], checkpoints: [] })).rejects.toMatchObject({
      code: "REBUILD_NOT_SUPPORTED",
    });
  });
});
