import {
  assertFunction,
  assertObject,
  callHook,
  getLogger,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { LambdaContext } from "./api-gateway-types.js";
import type { SqsBatchResponse, SqsEvent, SqsRecord } from "./sqs-types.js";

/**
 * What turns a batch of SQS messages into a partial batch response: the EventBridge adapter's
 * `createSqsEventConsumer` is one. Structural, so this adapter depends on no other.
 */
export interface SqsBatchConsumer {
  consume(messages: readonly SqsRecord[]): Promise<SqsBatchResponse>;
}

export type SqsHandler = (event: SqsEvent, context?: LambdaContext) => Promise<SqsBatchResponse>;

/**
 * A Lambda handler for an SQS event source mapping. Only the messages the consumer reports as
 * failed return to the queue, so enable `ReportBatchItemFailures` on the mapping; without it, Lambda
 * retries the whole batch whenever one message fails.
 *
 * If the consumer itself throws (not one message failing, the whole batch), every message is
 * reported as failed: nothing is acknowledged that was not handled.
 *
 * @example
 * const consumer = createSqsEventConsumer({ handlers: { OrderPlaced: sendReceipt } });
 * export const handler = createSqsHandler(consumer);
 */
export function createSqsHandler(
  consumer: SqsBatchConsumer,
  given?: { readonly onError?: (error: unknown) => void } | null,
): SqsHandler {
  if (typeof consumer?.consume !== "function") {
    throw new ValidationError("Invalid SQS handler", [
      { path: ["consumer"], message: "consumer must have a consume(messages) method" },
    ]);
  }
  // null is no options, as undefined is: never a TypeError when the batch fails.
  assertObject(given ?? undefined, "options", "SQS handler", false);
  const options = given ?? {};
  // A misspelt `onErorr` was dropped: a failed batch went to the default log line, not the hook given.
  const unknown = unknownKeyIssues(options, ["onError"]);
  if (unknown.length > 0) throw new ValidationError("Invalid SQS handler", unknown);
  assertFunction(options.onError, "onError", "SQS handler", false);
  return async (event) => {
    const records = recordsOf(event);
    try {
      const response = await consumer.consume(records);
      return { batchItemFailures: response.batchItemFailures.map((f) => ({ itemIdentifier: f.itemIdentifier })) };
    } catch (error) {
      callHook("onError", options?.onError ?? defaultOnError, error);
      return { batchItemFailures: records.map((record) => ({ itemIdentifier: record.messageId })) };
    }
  };
}

function recordsOf(event: unknown): readonly SqsRecord[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) {
    throw new ValidationError("Not an SQS event", [{ path: ["Records"], message: "expected an array of SQS records" }]);
  }
  // Array.from visits a hole of a sparse array (as undefined), which flatMap passes by.
  const issues = Array.from(records, (record, index) =>
    typeof record?.messageId === "string" && typeof record.body === "string"
      ? []
      : [{ path: ["Records", index], message: "an SQS record needs a string messageId and body" }],
  ).flat();
  // Without a messageId a record cannot be reported back; refusing the batch returns it to the queue whole.
  if (issues.length > 0) throw new ValidationError("Not an SQS event", issues);
  return records as SqsRecord[];
}

function _typeName(value: unknown): string {
  return value === null ? "null" : typeof value;
}

function defaultOnError(error: unknown): void {
  getLogger().error("the SQS consumer failed", { error });
}
