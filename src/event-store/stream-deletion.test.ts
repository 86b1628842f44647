import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkDeletionLookups } from "../../test/differential/deletion-lookups.ts";
import { isAbortedError, isValidationError } from "../errors.js";
import { projection } from "../projections/projection.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { registerContract } from "../testing/contract.js";
import { StoreView } from "../testing/store-view.js";
import { streamDeletionContract } from "../testing/stream-deletion-contract.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";
import { applyRetention, retention } from "./retention.js";

registerContract(
  streamDeletionContract({
    name: "InMemoryEventStore stream deletion contract",
    create: (options) => new InMemoryEventStore(options),
  }),
  { describe, test },
);

// A view forwards deletions to the store behind it; its own followers hear of them.
const shared = new InMemoryEventStore();
registerContract(
  streamDeletionContract({
    name: "StoreView stream deletion contract",
    create: (options) => new StoreView(shared, options),
  }),
  { describe, test },
);

describe("lifecycle events and projections", () => {
  test("a projection that lists $stream-deleted gets it for the streams its filters take, by the stream named", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Cart-1", [{ type: "ItemAdded", data: {} }]);
    await store.appendToStream("Order-1", [{ type: "Placed", data: {} }]);
    const cart = (await store.deleteStream("Cart-1", { mode: "hard" })).event;
    const order = (await store.deleteStream("Order-1", { mode: "hard" })).event;
    const carts = projection({
      name: "carts",
      categories: ["Cart"],
      types: ["ItemAdded", "$stream-deleted"],
      handle: () => {},
    });
    const untyped = projection({ name: "carts-untyped", categories: ["Cart"], handle: () => {} });
    expect(cart !== undefined && carts.matches(cart)).toBe(true);
    expect(order !== undefined && carts.matches(order)).toBe(false);
    // Without a types filter a projection of one category is not handed system events it did not ask for.
    expect(cart !== undefined && untyped.matches(cart)).toBe(false);
  });
});

describe("retention", () => {
  test("refuses malformed rules, naming each", () => {
    for (const bad of [
      { A: {} },
      { A: { keepLast: 0 } },
      { A: { maxAgeMs: 1.5 } },
      { $streams: { keepLast: 1 } },
      { A: null },
    ]) {
      let error: unknown;
      try {
        retention(bad as never);
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error)).toBe(true);
    }
  });

  test("refuses a rule's key it does not take, a category that holds a '-', and options applyRetention does not take", async () => {
    // A misspelt limit beside a valid one was dropped: the streams it should expire were kept for good.
    const issues = (bad: unknown) => {
      try {
        retention(bad as never);
      } catch (e) {
        return isValidationError(e) ? e.issues.map((issue) => issue.path) : "untyped";
      }
      return "accepted";
    };
    expect(issues({ Session: { maxAgeMS: 1000, keepLast: 5 } })).toEqual([["Session", "maxAgeMS"]]);
    // The category ends at a stream id's first "-": "Session-eu" is no category and would match no stream.
    expect(issues({ "Session-eu": { keepLast: 5 } })).toEqual([["Session-eu"]]);
    // Its message named a `streams` option (the projections' advice) that retention does not take.
    expect(() => retention({ "Session-eu": { keepLast: 5 } })).toThrow(
      'Session-eu: a category holds no "-" ("-" ends it): it would match no stream',
    );

    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    await store.appendToStream("Session-1", [{ type: "A", data: {} }]);
    await snapshots.save({ streamId: "Session-1", version: 1, state: { email: "ada@example.com" } });
    const later = new Date(Date.now() + 5000);
    // A misspelt snapshots option hard-deleted the stream and left its snapshots, personal data included.
    const misspelt = await applyRetention({
      store,
      policies: retention({ Session: { maxAgeMs: 1000 } }),
      snapshot: snapshots,
      now: later,
    } as never).catch((e: unknown) => e);
    expect(isValidationError(misspelt) && misspelt.issues.map((issue) => issue.path)).toEqual([["snapshot"]]);
    // Policies written as a literal, not through retention(), are checked the same way, before anything is read.
    const literal = await applyRetention({
      store,
      policies: { Session: { maxAgeMS: 1000, keepLast: 5 } } as never,
      now: later,
    }).catch((e: unknown) => e);
    expect(isValidationError(literal)).toBe(true);
    expect(await store.getStreamVersion("Session-1")).toBe(1);
    expect(await snapshots.load("Session-1")).toBeDefined();
  });

  test("applyRetention without its options or their store is a ValidationError, not a TypeError", async () => {
    const policies = retention({ Session: { keepLast: 1 } });
    for (const options of [undefined, null, "Session", { policies }, { store: {}, policies }]) {
      const refused = await applyRetention(options as never).catch((e: unknown) => e);
      expect({ options, validation: isValidationError(refused) }).toEqual({ options, validation: true });
    }
  });

  test("a stream whose category is a name Object.prototype has (constructor, toString) is no stream of a rule", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("constructor-1", [{ type: "A", data: {} }]);
    await store.appendToStream("Long-1", [{ type: "A", data: {} }]);
    const report = await applyRetention({ store, policies: retention({ Long: { keepLast: 1 } }) });
    expect(report.scanned).toBe(1);
  });

  test("deletes the snapshots of deleted streams, and those a truncation passed", async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    await store.appendToStream("Old-1", [{ type: "A", data: {} }]);
    await store.appendToStream(
      "Long-1",
      Array.from({ length: 6 }, () => ({ type: "A", data: {} })),
    );
    await store.appendToStream(
      "Long-2",
      Array.from({ length: 6 }, () => ({ type: "A", data: {} })),
    );
    await snapshots.save({ streamId: "Old-1", version: 1, state: {} });
    await snapshots.save({ streamId: "Long-1", version: 2, state: {} }); // older than the cut: goes
    await snapshots.save({ streamId: "Long-2", version: 5, state: {} }); // the kept events follow it: stays
    const report = await applyRetention({
      store,
      snapshots,
      policies: retention({ Old: { maxAgeMs: 1000 }, Long: { keepLast: 2 } }),
      now: new Date(Date.now() + 5000),
    });
    expect(report.deleted.map((r) => r.streamId)).toEqual(["Old-1"]);
    expect(report.truncated.map((r) => [r.streamId, r.removed])).toEqual([
      ["Long-1", 4],
      ["Long-2", 4],
    ]);
    expect(report.snapshotsDeleted).toBe(2);
    expect(await snapshots.load("Long-1")).toBeUndefined();
    expect((await snapshots.load("Long-2"))?.version).toBe(5);
  });

  test("a fired signal stops a run with an AbortedError, the signal's reason as its cause; what was done stays done", async () => {
    const store = new InMemoryEventStore();
    for (const id of ["Long-1", "Long-2"]) {
      await store.appendToStream(
        id,
        Array.from({ length: 3 }, () => ({ type: "A", data: {} })),
      );
    }
    const policies = retention({ Long: { keepLast: 1 } });
    const reason = new Error("shutting down");
    const before = new AbortController();
    before.abort(reason);
    const early = await applyRetention({ store, policies, signal: before.signal }).catch((error: unknown) => error);
    expect(isAbortedError(early)).toBe(true);
    expect((early as Error).cause).toBe(reason);
    expect(await store.getStreamVersion("Long-1")).toBe(3);
    // Fired after the first stream's truncation: that one stays truncated, the second is not touched.
    const midway = new AbortController();
    const truncate = store.truncateStream.bind(store);
    store.truncateStream = async (id, options) => {
      const result = await truncate(id, options);
      midway.abort(reason);
      return result;
    };
    const late = await applyRetention({ store, policies, signal: midway.signal }).catch((error: unknown) => error);
    expect(isAbortedError(late)).toBe(true);
    const kept = async (id: string) => {
      const versions: number[] = [];
      for await (const event of store.readStream(id)) versions.push(event.version);
      return versions;
    };
    expect([await kept("Long-1"), await kept("Long-2")]).toEqual([[3], [1, 2, 3]]);
  });
});

describe("stream deletion, property", () => {
  test("whatever the sequence of appends, deletes, restores and truncations, the feed is what the streams hold", async () => {
    type Op =
      | { kind: "append"; stream: number; count: number }
      | { kind: "soft" | "hard" | "restore"; stream: number }
      | { kind: "truncate"; stream: number; before: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("append" as const), stream: fc.nat(3), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constantFrom("soft" as const, "hard" as const, "restore" as const), stream: fc.nat(3) }),
      fc.record({ kind: fc.constant("truncate" as const), stream: fc.nat(3), before: fc.integer({ min: 1, max: 12 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const store = new InMemoryEventStore();
        for (const o of ops) {
          const id = `S-${o.stream}`;
          const run =
            o.kind === "append"
              ? store.appendToStream(
                  id,
                  Array.from({ length: o.count }, () => ({ type: "A", data: {} })),
                )
              : o.kind === "truncate"
                ? store.truncateStream(id, { before: o.before })
                : o.kind === "restore"
                  ? store.restoreStream(id)
                  : store.deleteStream(id, { mode: o.kind });
          // Refusals (deleted, not found, past the end) are typed and change nothing; the invariant must still hold.
          await run.catch((error: { code?: string }) => expect(typeof error.code).toBe("string"));
        }
        const feed = (await Array.fromAsync(store.readAll())).filter((e) => !e.streamId.startsWith("$"));
        const byStream = new Map<string, number[]>();
        for (const e of feed) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.version]);
        for (let s = 0; s <= 3; s++) {
          const id = `S-${s}`;
          const read = (await Array.fromAsync(store.readStream(id))).map((e) => e.version);
          expect(byStream.get(id) ?? []).toEqual(read);
          expect([...read].sort((a, b) => a - b)).toEqual(read);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("streamDeletionEvent after generated histories", () => {
  test("names the last $stream-deleted while the stream is deleted, undefined otherwise (property)", () =>
    checkDeletionLookups({ create: () => new InMemoryEventStore(), numRuns: 100 }));
});
