/**
 * The consumer function: the SQS queue an EventBridge rule fills → envelopes → handlers (a log line,
 * and the follow-up saga: functions/follow-up.ts), reporting only failed messages back (the event source mapping has ReportBatchItemFailures). Events already
 * handled by this instance are skipped; deduplicating across instances needs a shared dedup store.
 *
 * Trust: the queue's policy lets only the rule send (and only over TLS), and the rule forwards only
 * this service's `source` from its own bus. The handler checks the `source` once more, so a message
 * that got in another way is not handled: it fails, and after five receives it waits in the
 * consumer's dead-letter queue for someone to look at it.
 */
import { createSqsEventConsumer, parseEventBridgeEvent } from "../../../adapters/eventbridge/index.js";
import { createSqsHandler, type SqsBatchConsumer, type SqsRecord } from "../../../adapters/lambda/index.js";
import { readEnv, type SagaRuntime } from "../../../src/index.js";
import { followUpRuntime, tableSagaStore } from "./follow-up.js";
import { orderHandlers } from "./orders.js";

const logOrder = orderHandlers((line) => console.log(JSON.stringify(line)));
// Made on the first message: the saga store's client reads the table name and credentials then.
let sagas: SagaRuntime | undefined;

const consumer = createSqsEventConsumer({
  handlers: {
    OrderPlaced: async (event) => {
      await logOrder(event);
      sagas ??= followUpRuntime(tableSagaStore(requiredEnv("EVENTFLOWS_TABLE")));
      // A step the store failed is worth a redelivery: the message fails and SQS retries it (the saga
      // recognises an event it already handled). A step the saga refused is recorded and not retried.
      const retry = (await sagas.handle(event)).find((outcome) => outcome.retryable === true);
      if (retry !== undefined) throw retry.error;
    },
  },
});

function requiredEnv(name: string): string {
  const value = readEnv(name);
  if (value === undefined) throw new Error(`${name} is not set: deploy with the stack in examples/aws-cdk`);
  return value;
}

/** Hands on only the messages whose EventBridge `source` is `source`; the others are reported failed. */
export function onlyFromSource(source: string, inner: SqsBatchConsumer): SqsBatchConsumer {
  const fromSource = (record: SqsRecord) => {
    try {
      return parseEventBridgeEvent(record.body).source === source;
    } catch {
      return true; // not an EventBridge event at all: the consumer reports it as it reports any bad body
    }
  };
  return {
    async consume(records) {
      const foreign = records.filter((record) => !fromSource(record));
      const result = await inner.consume(records.filter((record) => !foreign.includes(record)));
      return {
        batchItemFailures: [
          ...result.batchItemFailures,
          ...foreign.map((record) => ({ itemIdentifier: record.messageId })),
        ],
      };
    },
  };
}

const source = readEnv("EVENTFLOWS_EVENT_SOURCE");
if (source === undefined)
  throw new Error("EVENTFLOWS_EVENT_SOURCE is not set: deploy with the stack in examples/aws-cdk");

export const handler = createSqsHandler(onlyFromSource(source, consumer));
