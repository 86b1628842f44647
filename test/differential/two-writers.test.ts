/**
 * The two-writer property (two-writers.ts) catches what it claims to: run on stores that break one
 * of its rules, it fails; run on a sound store, it passes, and its generated mixes do meet conflicts.
 */
import { describe, expect, test } from "bun:test";
import { type EventStore, InMemoryEventStore, isConcurrencyError } from "../../src/index.js";
import { checkTwoWriters } from "./two-writers.ts";

/** The store with one method replaced, the rest its own. */
function patched<K extends keyof EventStore>(store: EventStore, key: K, make: (own: EventStore[K]) => EventStore[K]) {
  const own = (store[key] as (...args: unknown[]) => unknown).bind(store) as EventStore[K];
  Object.defineProperty(store, key, { value: make(own) });
  return store;
}

/** The store, whose appends hand each refusal to `onRefusal`, which throws what the caller sees. */
function onRefusal(store: EventStore, seen: (error: unknown) => never): EventStore {
  return patched(
    store,
    "appendToStream",
    (own) =>
      (async (...args: Parameters<typeof own>) => {
        try {
          return await own(...args);
        } catch (error) {
          seen(error);
        }
      }) as typeof own,
  );
}

/** Why the property failed: fast-check reports the counterexample, with the check's own error as its cause. */
async function failure(check: Promise<unknown>): Promise<string> {
  const error = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return String(((error as Error).cause as Error | undefined)?.message);
}

describe("checkTwoWriters", () => {
  test("passes for one sound store written through twice, and its mixes meet conflicts", async () => {
    let refused = 0;
    const store = onRefusal(new InMemoryEventStore(), (error) => {
      if (isConcurrencyError(error)) refused += 1;
      throw error;
    });
    const { committed, conflicts } = await checkTwoWriters({ writers: [store, store], numRuns: 20 });
    expect(committed).toBeGreaterThan(0);
    // The tally counts what the store refused, and the mixes do meet conflicts.
    expect(conflicts).toBe(refused);
    expect(conflicts).toBeGreaterThan(0);
  });

  test("fails when the two instances do not share a backend: the feed lacks the other's events", async () => {
    expect(await failure(checkTwoWriters({ writers: [new InMemoryEventStore(), new InMemoryEventStore()] }))).toMatch(
      /the feed holds \d+ of the run's events, \d+ were committed/,
    );
  });

  test("fails when a conflict surfaces as another error than ConcurrencyError", async () => {
    const store = onRefusal(new InMemoryEventStore(), (error) => {
      throw isConcurrencyError(error) ? new Error("conflict, untyped") : error;
    });
    expect(await failure(checkTwoWriters({ writers: [store, store], numRuns: 50 }))).toBe("conflict, untyped");
  });

  test("fails when getLastGlobalPosition is not the last position read (a cached answer that never moves)", async () => {
    const store = patched(new InMemoryEventStore(), "getLastGlobalPosition", (own) => {
      let cached: Promise<number> | undefined;
      return () => {
        cached ??= own();
        return cached;
      };
    });
    expect(await failure(checkTwoWriters({ writers: [store, store] }))).toMatch(/^getLastGlobalPosition is \d+/);
  });

  test("fails when the feed repeats an event", async () => {
    const store = patched(
      new InMemoryEventStore(),
      "readAll",
      (own) =>
        ((options) => {
          const events = own(options);
          return (async function* () {
            let first = true;
            for await (const event of events) {
              yield event;
              if (first && event.streamId.startsWith("Two_")) yield event;
              first = false;
            }
          })();
        }) as typeof own,
    );
    expect(await failure(checkTwoWriters({ writers: [store, store] }))).toMatch(/positions do not strictly increase/);
  });
});
