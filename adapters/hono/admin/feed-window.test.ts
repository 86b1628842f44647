import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { EventEnvelope, EventStore, ReadAllOptions } from "../../../src/index.js";
import { countEvents, pageStartBefore } from "./feed-window.js";

/** A feed at these positions (gaps as PostgreSQL leaves them); only `readAll` is needed. */
function feedAt(positions: readonly number[]): { store: EventStore; reads: () => number } {
  let reads = 0;
  const store = {
    async *readAll(options: ReadAllOptions = {}) {
      reads++;
      let left = options.maxCount ?? Number.POSITIVE_INFINITY;
      for (const globalPosition of positions) {
        if (globalPosition <= (options.after ?? 0)) continue;
        if (left-- <= 0) return;
        yield { globalPosition } as EventEnvelope;
      }
    },
  } as unknown as EventStore;
  return { store, reads: () => reads };
}

describe("pageStartBefore", () => {
  test("reading `count` events after it gives exactly the last `count` up to `end`, whatever the gaps (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { maxLength: 60 }).map((p) => p.sort((a, b) => a - b)),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 100_000 }),
        async (positions, count, end) => {
          const { store } = feedAt(positions);
          const start = await pageStartBefore(store, end, count);
          const expected = positions.filter((p) => p <= end).slice(-count);
          const got: number[] = [];
          for await (const event of store.readAll({ after: start, maxCount: count })) {
            if ((event.globalPosition ?? 0) <= end) got.push(event.globalPosition ?? 0);
          }
          expect(got).toEqual(expected);
          expect(await countEvents(store, start, end, count + 1)).toBe(expected.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("one event per PostgreSQL transaction (4,096 positions apart): the newest page in about log2 reads", async () => {
    const positions = Array.from({ length: 500 }, (_, i) => (1000 + i) * 4096 + 1);
    const { store, reads } = feedAt(positions);
    const end = positions[positions.length - 1] as number;
    const start = await pageStartBefore(store, end, 50);
    expect(start).toBeGreaterThanOrEqual(positions[449] as number);
    expect(start).toBeLessThan(positions[450] as number);
    expect(reads()).toBeLessThanOrEqual(Math.ceil(Math.log2(end / 50)) + 2);
  });
});
