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
export { type DedupStore, InMemoryDedupStore, type InMemoryDedupStoreOptions } from "./dedup-store.js";
export { EventBridgeErrorCode, HandlersFailedError, OrderBlockedError } from "./errors.js";
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
  envelopeMapping,
} from "./mapping.js";
