/**
 * The consumer function: the SQS queue an EventBridge rule fills → envelopes → handlers, reporting
 * only failed messages back (the event source mapping has ReportBatchItemFailures). Events already
 * handled by this instance are skipped; deduplicating across instances needs a shared dedup store.
 *
 * Trust: the queue's policy lets only the rule send (and only over TLS), and the rule forwards only
 * this service's `source` from its own bus. The handler checks the `source` once more, so a message
 * that got in another way is not handled: it fails, and after five receives it waits in the
 * consumer's dead-letter queue for someone to look at it.
 */
import { createSqsEventConsumer, parseEventBridgeEvent } from "../../../adapters/eventbridge/index.js";
import { createSqsHandler, type SqsBatchConsumer, type SqsRecord } from "../../../adapters/lambda/index.js";
import { readEnv } from "../../../src/index.js";
import { orderHandlers } from "./orders.js";

const consumer = createSqsEventConsumer({
  handlers: { OrderPlaced: orderHandlers((line) => console.log(JSON.stringify(line))) },
});

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
