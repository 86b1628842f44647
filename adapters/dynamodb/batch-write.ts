import { ServiceError } from "../../src/index.js";
import { sleep } from "./client.js";

/** Rounds of BatchWriteItem for one batch's unprocessed requests before the call gives up. */
export const UNPROCESSED_ROUNDS = 10;

/**
 * Writes one batch (at most 25 requests) with `write`, which sends one BatchWriteItem and answers what
 * DynamoDB left unprocessed (throttling); that is sent again after a growing pause, at most
 * {@link UNPROCESSED_ROUNDS} rounds, then the call fails with a retryable ServiceError whose message
 * is `leftOver(count)`: what the caller should do about it. The callers send the request themselves,
 * so that each file names the operations it needs (iam.test.ts reads them from the source).
 */
export async function batchWriteAll(
  write: (pending: readonly unknown[]) => Promise<readonly unknown[]>,
  requests: readonly unknown[],
  leftOver: (count: number) => string,
): Promise<void> {
  let pending = requests;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= UNPROCESSED_ROUNDS) {
      throw new ServiceError("DynamoDB", "BatchWriteItem", "UnprocessedItems", true, leftOver(pending.length));
    }
    if (round > 0) await sleep(Math.min(2 ** round * 10, 1_000));
    pending = await write(pending);
  }
}
