/**
 * @module @eventflows/core/eventbridge: publish events to Amazon EventBridge (PutEvents, with
 * retries and a dead-letter queue), and consume them from the SQS queue a rule delivers to, with
 * deduplication and partial batch failures. Web standards only, on the shared AWS client.
 */
export {
  type ConsumeResult,
  createSqsEventConsumer,
  type EventTarget,
  type MessageFailure,
  parseEventBridgeEvent,
  SqsEventConsumer,
  type SqsEventConsumerOptions,
  type SqsMessage,
} from "./consumer.js";
export {
  DEAD_LETTER_FIELD,
  type DeadLetter,
  type DeadLetterHandler,
  type DeadLetterSink,
  deadLetterBody,
  SQS_MAX_MESSAGE_BYTES,
} from "./dead-letters.js";
export {
  checkDedupId,
  type DedupStore,
  dedupIdIssues,
  InMemoryDedupStore,
  type InMemoryDedupStoreOptions,
  MAX_DEDUP_ID_LENGTH,
} from "./dedup-store.js";
export {
  type DedupStoreContractOptions,
  type DedupStoreContractSettings,
  dedupStoreContract,
} from "./dedup-store-contract.js";
export { EventBridgeErrorCode, HandlersFailedError, OrderBlockedError, PublishIncompleteError } from "./errors.js";
export {
  type DeadLetterQueueOptions,
  type EntryRetryOptions,
  EventBridgeEventBus,
  type EventBridgeEventBusOptions,
  type EventBridgePublishResult,
  MAX_ENTRIES_PER_REQUEST,
  MAX_REQUEST_BYTES,
  RETRYABLE_ENTRY_CODES,
} from "./event-bus.js";
export type {
  EventBridgeEvent,
  PutEventsRequestEntry,
  PutEventsResponse,
  PutEventsResultEntry,
} from "./eventbridge-types.js";
export {
  DEFAULT_SOURCE,
  type EntryParts,
  type EnvelopeMappingOptions,
  type EventBridgeMapping,
  entrySize,
  envelopeDetail,
  envelopeFromDetail,
  envelopeIssues,
  envelopeMapping,
} from "./mapping.js";
export { type ReceiveAndConsumeOptions, type ReceiveAndConsumeResult, receiveAndConsume } from "./sqs-poller.js";
