/**
 * The projection of the kill-and-resume test, shared by the test and its worker process: per stream,
 * how many `Counted` events and the sum of their `n`, as documents in `collection`, plus a total as
 * state. Increments, not idempotent writes: applying a batch twice would show.
 */
import { type EventEnvelope, type Projection, projection } from "../../src/index.ts";

export type Counted = EventEnvelope<"Counted", { readonly i: number; readonly n: number }>;
export interface CountTotals {
  readonly count: number;
  readonly sum: number;
}

export function countingProjection(name: string, collection: string, delayMs = 0): Projection<Counted, CountTotals> {
  return projection<Counted, CountTotals>({
    name,
    types: ["Counted"],
    initialState: { count: 0, sum: 0 },
    handle: async (event, { readModels, state }) => {
      const doc = (await readModels.get<CountTotals>(collection, event.streamId)) ?? { count: 0, sum: 0 };
      await readModels.put(collection, event.streamId, { count: doc.count + 1, sum: doc.sum + event.data.n });
      // Slow handlers, so that a kill can land inside a batch as well as between two.
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { count: state.count + 1, sum: state.sum + event.data.n };
    },
  });
}
