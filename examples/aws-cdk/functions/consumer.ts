/**
 * The consumer function: the SQS queue an EventBridge rule fills → envelopes → handlers, reporting
 * only failed messages back (the event source mapping has ReportBatchItemFailures). Events already
 * handled by this instance are skipped; deduplicating across instances needs a shared dedup store.
 */
import { createSqsEventConsumer } from "../../../adapters/eventbridge/index.js";
import { createSqsHandler } from "../../../adapters/lambda/index.js";
import { orderHandlers } from "./orders.js";

const consumer = createSqsEventConsumer({
  handlers: { OrderPlaced: orderHandlers((line) => console.log(JSON.stringify(line))) },
});

export const handler = createSqsHandler(consumer);
