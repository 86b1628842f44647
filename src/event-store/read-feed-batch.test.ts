import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { InMemoryEventStore } from "./in-memory-event-store.js";
import type { ReadAllOptions } from "./types.js";

async function feed(store: InMemoryEventStore, after: number, maxCount: number): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for await (const event of store.readFeed({ after, maxCount })) events.push(event);
  return events;
}

// readFeedBatch is how the projection runner reads a batch: it must hand out exactly what readFeed
// yields (soft-deleted streams passed by, upcast), only a page at a time.
describe("readFeedBatch", () => {
  test("equals readFeed for any history of appends and deletions, from any position, for any batch size", async () => {
    const registry = eventRegistry().upcast("Tagged", 1, (data: { n: number }) => ({ n: data.n * 10 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("append" as const), stream: fc.nat(4), count: fc.integer({ min: 1, max: 5 }) }),
            fc.record({ op: fc.constant("delete" as const), stream: fc.nat(4), hard: fc.boolean() }),
          ),
          { maxLength: 30 },
        ),
        fc.nat(60),
        fc.integer({ min: 1, max: 40 }),
        async (steps, after, maxCount) => {
          const store = new InMemoryEventStore({ eventRegistry: registry });
          let n = 0;
          const deleted = new Set<string>();
          for (const step of steps) {
            const stream = `Tag-${step.stream}`;
            if (deleted.has(stream)) continue;
            if (step.op === "append") {
              const events = Array.from({ length: step.count }, () => ({ type: "Tagged", data: { n: n++ } }));
              await store.appendToStream(stream, events);
            } else if ((await store.getStreamVersion(stream)) > 0) {
              await store.deleteStream(stream, { mode: step.hard ? "hard" : "soft" });
              deleted.add(stream);
            }
          }
          const batch = await store.readFeedBatch(after, maxCount);
          expect(batch).toEqual(await feed(store, after, maxCount));
          expect(batch.length).toBeLessThanOrEqual(maxCount);
        },
      ),
      { numRuns: 150 },
    );
  });

  test("a store whose class overrides readFeed is read through it", async () => {
    class OddOnly extends InMemoryEventStore {
      override async *readFeed<E extends EventEnvelope = EventEnvelope>(options: ReadAllOptions = {}) {
        for await (const event of super.readFeed<E>(options)) if ((event.globalPosition ?? 0) % 2 === 1) yield event;
      }
    }
    const store = new OddOnly();
    await store.appendToStream(
      "Tag-1",
      [1, 2, 3, 4].map((n) => ({ type: "Tagged", data: { n } })),
    );
    const batch = await store.readFeedBatch(0, 10);
    expect(batch.map((event) => event.data)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  test("refuses a position or size that is not a non-negative integer, as readFeed does", async () => {
    const store = new InMemoryEventStore();
    await expect(store.readFeedBatch(-1, 10)).rejects.toBeInstanceOf(ValidationError);
    await expect(store.readFeedBatch(0, 1.5)).rejects.toBeInstanceOf(ValidationError);
  });
});
