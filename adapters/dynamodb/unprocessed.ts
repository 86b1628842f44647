import { ServiceError } from "../../src/index.js";
import { backoffDelay, type RetryPolicy, retryPolicy } from "../aws/index.js";
import { type AwsJsonClient, sleep } from "./client.js";

/**
 * The defaults, for a client that is only a `send` (a test's, a wrapper) and has no policy of its own:
 * made on first use, not at import (nothing of the library runs at import time).
 */
let defaultPolicy: RetryPolicy | undefined;

/** The retry policy of `client`: its own (its `retry` options), else the defaults. */
export function retryPolicyOf(client: AwsJsonClient): RetryPolicy {
  const own = (client as { retryPolicy?: RetryPolicy }).retryPolicy;
  if (own !== undefined) return own;
  defaultPolicy ??= retryPolicy();
  return defaultPolicy;
}

/**
 * Sends `requests` with `send`, which makes one batch call and answers what DynamoDB left
 * unprocessed, then sends exactly that again until nothing is left. A round that processed part of
 * what it sent (a BatchGetItem answer is cut at 16 MB) is followed at once and not counted: each one
 * takes something off. A round that processed nothing (throttling) counts as an attempt and is
 * followed after the policy's backoff; after `maxAttempts` of those the call throws `stuck(count,
 * attempts)`, so that a throttled table is reported as such rather than waited on without end.
 */
export async function untilProcessed<T>(
  send: (pending: readonly T[]) => Promise<readonly T[]>,
  requests: readonly T[],
  policy: RetryPolicy,
  stuck: (count: number, attempts: number) => Error,
): Promise<void> {
  let pending = requests;
  let idle = 0;
  while (pending.length > 0) {
    const left = await send(pending);
    if (left.length >= pending.length) {
      idle++;
      if (idle >= policy.maxAttempts) throw stuck(left.length, idle);
      await sleep(backoffDelay(policy, idle));
    }
    pending = left;
  }
}

/**
 * Writes one batch (at most 25 requests) with `write`, which sends one BatchWriteItem and answers its
 * `UnprocessedItems`, through {@link untilProcessed} with the client's policy; what stays unprocessed
 * fails the call with a retryable ServiceError (`UnprocessedItems`) whose message is
 * `leftOver(count)`: what the caller should do about it. The callers send the request themselves, so
 * that each file names the operations it needs (iam.test.ts reads them from the source).
 */
export function batchWriteAll(
  client: AwsJsonClient,
  write: (pending: readonly unknown[]) => Promise<readonly unknown[]>,
  requests: readonly unknown[],
  leftOver: (count: number) => string,
): Promise<void> {
  return untilProcessed(
    write,
    requests,
    retryPolicyOf(client),
    (count, attempts) =>
      new ServiceError(
        "DynamoDB",
        "BatchWriteItem",
        "UnprocessedItems",
        true,
        `throttled: nothing processed in ${attempts} attempt(s); ${leftOver(count)}`,
      ),
  );
}
