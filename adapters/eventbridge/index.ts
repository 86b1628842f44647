/**
 * @module @eventflows/core/eventbridge: publish events to Amazon EventBridge (PutEvents, with
 * retries and a dead-letter queue), and consume them from the SQS queue a rule delivers to, with
 * deduplication and partial batch failures. Web standards only, on the shared AWS client.
 */

// The dedup store port and its contract live in the core since other adapters implement them;
// re-exported here, where consumers first meet them, so existing imports keep working.
export {
  checkDedupId,
  type DedupStore,
  dedupIdIssues,
  InMemoryDedupStore,
  type InMemoryDedupStoreOptions,
  MAX_DEDUP_ID_LENGTH,
} from "../../src/index.js";
export {
  type DedupStoreContractOptions,
  type DedupStoreContractSettings,
  dedupStoreContract,
} from "../../src/testing/index.js";
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
  EventBridgeErrorCode,
  HandlersFailedError,
  MappingFailedError,
  OrderBlockedError,
  PublishIncompleteError,
} from "./errors.js";
export {
  type DeadLetterQueueOptions,
  type EntryRetryOptions,
  EventBridgeEventBus,
  type EventBridgeEventBusOptions,
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
export type { EventBridgePublishResult } from "./publish-result.js";
export { type ReceiveAndConsumeOptions, type ReceiveAndConsumeResult, receiveAndConsume } from "./sqs-poller.js";
