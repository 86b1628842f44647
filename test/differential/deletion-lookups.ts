/**
 * `streamDeletionEvent` through the public API against the changes' own results: fast-check
 * generates sequences of appends, soft and hard deletions, restores and truncations over three
 * streams (each refused or done, as the store decides), and after every step each stream's
 * `streamDeletionEvent` must be the `$stream-deleted` event of its last change that recorded one,
 * while that change was a deletion, and `undefined` otherwise (never deleted, restored). The stores
 * look it up by key in their deletion record: this checks the record names the right event after
 * any history (a soft deletion turned hard, deleted again after a restore, truncated first).
 * Test-only code.
 */
import fc from "fast-check";
import { type EventStore, isEventFlowsError, StreamLifecycleEventType, ulid } from "../../src/index.js";

const OPS = ["append", "soft", "hard", "restore", "truncate"] as const;

export interface DeletionLookupOptions {
  /** Makes a store with stream deletion on the backend under test. */
  readonly create: () => EventStore;
  readonly numRuns?: number;
}

export async function checkDeletionLookups(options: DeletionLookupOptions): Promise<void> {
  const store = options.create();
  const step = fc.record({
    stream: fc.integer({ min: 0, max: 2 }),
    op: fc.constantFrom(...OPS),
    n: fc.integer({ min: 1, max: 3 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
      const run = ulid();
      const streams = [0, 1, 2].map((i) => `Lookup_${run}-${i}`);
      // Each stream's last lifecycle event, as the change that recorded it returned it.
      const last: ({ id: string; type: string } | undefined)[] = [undefined, undefined, undefined];
      for (const { stream, op, n } of steps) {
        const id = streams[stream] as string;
        try {
          if (op === "append") {
            await store.appendToStream(
              id,
              Array.from({ length: n }, () => ({ type: "Happened", data: {} })),
            );
          } else {
            const result =
              op === "soft"
                ? await store.deleteStream(id)
                : op === "hard"
                  ? await store.deleteStream(id, { mode: "hard" })
                  : op === "restore"
                    ? await store.restoreStream(id)
                    : await store.truncateStream(id, { before: n + 1 });
            if (result.event !== undefined) last[stream] = { id: result.event.id, type: result.event.type };
          }
        } catch (error) {
          // Refused (a deleted stream, one that never was, a truncation past its end): typed, and nothing changes.
          if (!isEventFlowsError(error)) throw error;
        }
        for (const [i, streamId] of streams.entries()) {
          const recorded = last[i];
          const expected = recorded?.type === StreamLifecycleEventType.Deleted ? recorded.id : undefined;
          const found = await store.streamDeletionEvent(streamId);
          if (found?.id !== expected) {
            throw new Error(
              `streamDeletionEvent(${streamId}) after ${JSON.stringify(steps)}: got ${found?.id}, want ${expected}`,
            );
          }
        }
      }
    }),
    { numRuns: options.numRuns ?? 20 },
  );
}
