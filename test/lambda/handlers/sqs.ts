/**
 * The SQS function: `createSqsHandler` over the EventBridge adapter's SQS consumer, as the docs
 * wire it. An event whose data says `fail` throws in its handler, so that message (and any whose
 * body is not an EventBridge event) comes back in `batchItemFailures`, the others acknowledged.
 */
import { createSqsEventConsumer } from "../../../adapters/eventbridge/index.js";
import { createSqsHandler } from "../../../adapters/lambda/index.js";

const consumer = createSqsEventConsumer({
  handlers: {
    ItemAdded: async (event) => {
      if ((event.data as { fail?: boolean }).fail === true) throw new Error("this item cannot be added");
    },
  },
  // The runner reads the failures from the response.
  onFailure: () => {},
});

export const handler = createSqsHandler(consumer);
