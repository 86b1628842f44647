import { ServiceError } from "../../src/index.js";
import { type AwsJsonClient, sleep } from "./client.js";

/** Rounds of BatchWriteItem for one batch's unprocessed requests before the call gives up. */
export const UNPROCESSED_ROUNDS = 10;

/**
 * Sends one BatchWriteItem (at most 25 requests) and sends again what DynamoDB left unprocessed
 * (throttling) after a growing pause, at most {@link UNPROCESSED_ROUNDS} rounds; then fails with a
 * retryable ServiceError whose message is `leftOver(count)`: what the caller should do about it.
 */
export async function batchWriteAll(
  send: AwsJsonClient["send"],
  tableName: string,
  requests: readonly unknown[],
  leftOver: (count: number) => string,
): Promise<void> {
  let pending = requests;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= UNPROCESSED_ROUNDS) {
      throw new ServiceError("DynamoDB", "BatchWriteItem", "UnprocessedItems", true, leftOver(pending.length));
    }
    if (round > 0) await sleep(Math.min(2 ** round * 10, 1_000));
    const result = await send<{ UnprocessedItems?: Record<string, unknown[]> }>("BatchWriteItem", {
      RequestItems: { [tableName]: pending },
    });
    pending = result.UnprocessedItems?.[tableName] ?? [];
  }
}
