/**
 * The workloads the overhead benches (tenancy, tenant-stores, personal-data) time on a plain store and
 * on the same store with the feature on: appends of 1 or 10 events, and a whole-stream read.
 */
import type { EventStore, NewEvent } from "../../src/index.js";

const sink: unknown[] = [];

/** Reads `streamId` whole, keeping a little of each event so the read cannot be optimized away; the count read. */
export async function readAllOf(store: EventStore, streamId: string): Promise<number> {
  let n = 0;
  for await (const event of store.readStream(streamId)) sink[n++ % 16] = event.data;
  return n;
}

/**
 * Appends of `size` events made by `eventOf` (numbered on from one call to the next), spread over 50
 * streams named `<prefix>-<n>`. Each call of this makes its own counter.
 */
export function appendsOf(
  eventOf: (n: number) => NewEvent,
): (store: EventStore, size: number, prefix: string) => () => Promise<unknown> {
  let counter = 0;
  return (store, size, prefix) => () => {
    const n = counter++;
    return store.appendToStream(
      `${prefix}-${n % 50}`,
      Array.from({ length: size }, (_, i) => eventOf(n * size + i)),
    );
  };
}
