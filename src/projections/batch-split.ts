import { isReadModelTransactionTooLargeError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";

/** What {@link commitInHalves} committed: a prefix of the events, and what its transaction returned. */
export interface CommittedPart<T> {
  readonly events: readonly EventEnvelope[];
  readonly result: T;
}

/**
 * Commits a batch through `commit` (one read-model transaction for the events it is given). When the
 * store refuses that transaction as too large (`ReadModelTransactionTooLargeError`, nothing of it
 * written), the batch's first half is committed instead, in a transaction of its own, halving until
 * a part commits; the caller reads the rest again in its next batch. Retrying the same batch would be
 * refused the same way for ever. `onSplit` is called at each halving. One event whose writes alone
 * are too large cannot be split: `tooLarge(event, error)` says what to throw then. Any other error is
 * thrown as it is. The projection runner and `replay` commit their batches through this.
 */
export async function commitInHalves<T>(
  batch: readonly EventEnvelope[],
  commit: (events: readonly EventEnvelope[]) => Promise<T>,
  tooLarge: (event: EventEnvelope, error: unknown) => unknown,
  onSplit?: () => void,
): Promise<CommittedPart<T>> {
  let events = batch;
  for (;;) {
    try {
      return { events, result: await commit(events) };
    } catch (error) {
      if (!isReadModelTransactionTooLargeError(error)) throw error;
      const [event] = events;
      if (event === undefined) throw error;
      if (events.length === 1) throw tooLarge(event, error);
      events = events.slice(0, Math.floor(events.length / 2));
      onSplit?.();
    }
  }
}
