/**
 * @module @eventflows/core: aggregates, events, event store and bus ports with in-memory
 * implementations, command and query buses, the repository, and the error hierarchy.
 */
export {
  AggregateRoot,
  type AggregateSnapshot,
  type AnyAggregate,
  type AppliedEvent,
  type ConventionHandler,
  type ConventionHandlers,
  type EventHandlerMap,
  type EventOfType,
  type EventsOf,
  type HandlerName,
  handlerMethodName,
  type ReadonlyState,
  type StateOf,
} from "./aggregate/aggregate-root.js";
export {
  AggregateRepository,
  type AggregateRepositoryOptions,
  type SaveOptions,
  type UpdateOptions,
  type UpdateResult,
} from "./aggregate/repository.js";
export {
  assertCheckpointId,
  CheckpointStore,
  checkpointConflict,
  MAX_CHECKPOINT_ID_LENGTH,
  type StoreCheckpointOptions,
} from "./checkpoint/checkpoint-store.js";
export { InMemoryCheckpointStore } from "./checkpoint/in-memory-checkpoint-store.js";
export { type StagedCheckpoint, StagedCheckpointStore } from "./checkpoint/staged-checkpoint-store.js";
export {
  checkDedupId,
  type DedupStore,
  dedupIdIssues,
  MAX_DEDUP_ID_LENGTH,
} from "./dedup/dedup-store.js";
export { InMemoryDedupStore, type InMemoryDedupStoreOptions } from "./dedup/in-memory-dedup-store.js";
export { ambientEnv, type EnvSource, type ReadEnvOptions, readEnv } from "./env.js";
export {
  AbortedError,
  AggregateBrokenError,
  ConcurrencyError,
  clipKey,
  clipText,
  DuplicateHandlerError,
  ErrorCode,
  ErrorCodeRegistry,
  EventCorruptError,
  EventFlowsError,
  type EventFlowsErrorOptions,
  EventHandlerTimeoutError,
  type HandlerKind,
  HandlerNotFoundError,
  type HandlerNotFoundErrorOptions,
  IdempotencyClaimLostError,
  type Issue,
  isAbortedError,
  isAggregateBrokenError,
  isConcurrencyError,
  isDuplicateHandlerError,
  isEventCorruptError,
  isEventFlowsError,
  isEventHandlerTimeoutError,
  isHandlerNotFoundError,
  isIdempotencyClaimLostError,
  isNoTransitionError,
  isPayloadTooLargeError,
  isPersonalDataError,
  isProjectionFailedError,
  isReadModelGenerationChangedError,
  isReadModelTransactionTooLargeError,
  isRebuildNotSupportedError,
  isRehydrationError,
  isReplayFailedError,
  isSagaStepTimeoutError,
  isServiceError,
  isSnapshotCorruptError,
  isStreamDeletedError,
  isStreamDeletionNotSupportedError,
  isStreamNotFoundError,
  isSubjectErasedError,
  isUpcastError,
  isValidationError,
  NoTransitionError,
  PayloadTooLargeError,
  PersonalDataError,
  type PersonalDataFailure,
  ProjectionFailedError,
  ReadModelGenerationChangedError,
  ReadModelTransactionTooLargeError,
  RebuildNotSupportedError,
  RehydrationError,
  ReplayFailedError,
  SagaStepTimeoutError,
  ServiceError,
  SnapshotCorruptError,
  StreamDeletedError,
  StreamDeletionNotSupportedError,
  StreamNotFoundError,
  SubjectErasedError,
  UpcastError,
  ValidationError,
} from "./errors.js";
export {
  EventBus,
  type EventBusCapabilities,
  type EventBusOptions,
  type EventHandler,
  type HandlerFailure,
  matcherFor,
  type PublishResult,
  patternIssues,
  type SubscribeOptions,
  type SubscriptionPattern,
  type Unsubscribe,
} from "./event-bus/event-bus.js";
export { InMemoryEventBus, type InMemoryEventBusOptions } from "./event-bus/in-memory-event-bus.js";
export { defaultOnPublishError, type EventPublisher, type PublishErrorHook } from "./event-store/after-commit.js";
export {
  assertExpectedVersion,
  type CommitResult,
  checkExpectedVersion,
  EVENT_STORE_OPTIONS,
  EventStore,
  type EventStoreOptions,
  matchesExpectedVersion,
} from "./event-store/event-store.js";
export { InMemoryEventStore } from "./event-store/in-memory-event-store.js";
export { type EventPages, type EventReader, eventsOf, pagesOf } from "./event-store/read-pages.js";
export {
  type ApplyRetentionOptions,
  applyRetention,
  type RetentionPolicies,
  type RetentionReport,
  type RetentionRule,
  type RetentionSkip,
  retention,
} from "./event-store/retention.js";
export { assertUnchangedRetry } from "./event-store/retried-append.js";
export {
  type DeleteStreamOptions,
  isStreamLifecycleEvent,
  lifecycleEvent,
  planStreamChange,
  type RestoreStreamOptions,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeAction,
  type StreamChangeCommit,
  type StreamChangeKind,
  type StreamChangeResult,
  type StreamDeletionMode,
  type StreamDeletionState,
  type StreamLifecycleData,
  type StreamLifecycleEvent,
  StreamLifecycleEventType,
  type TruncateStreamOptions,
} from "./event-store/stream-deletion.js";
export type { StoreSubscription, SubscribeToAllOptions } from "./event-store/subscription.js";
export type {
  AppendToStreamOptions,
  AppendToStreamResult,
  EventStoreCapabilities,
  ExpectedVersion,
  ReadAllOptions,
  ReadDirection,
  ReadStreamOptions,
} from "./event-store/types.js";
export {
  createEvent,
  type DomainEvent,
  type EnvelopeOf,
  type EventEnvelope,
  type EventMetadata,
  type NewEvent,
  type PendingEvent,
  type PrepareEventsOptions,
  prepareEvents,
  storedEventFlaw,
} from "./events/envelope.js";
export {
  categoryOf,
  defineStream,
  type EventStream,
  parseStreamName,
  STREAM_SEPARATOR,
  streamName,
} from "./events/stream.js";
export {
  EventRegistry,
  type EventRegistryOptions,
  eventRegistry,
  type RegisteredSchema,
  type RegistryEvents,
} from "./evolution/event-registry.js";
export { splitEventId } from "./evolution/split-ids.js";
export type {
  DataOf,
  StandardIssue,
  StandardResult,
  StandardSchema,
  UpcastEvent,
  UpcastStep,
} from "./evolution/types.js";
export {
  DEFAULT_HEALTH_TIMEOUT_MS,
  HEALTH_CHECK_STREAM,
  type HealthCheckFunction,
  type HealthCheckOptions,
  type HealthCheckResult,
  type HealthCheckTarget,
  type HealthReport,
  healthCheck,
  type Pingable,
} from "./health/health-check.js";
export {
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  idempotencyClaimedInputIssues,
  idempotencyInputIssues,
  MAX_CLAIM_TOKEN_LENGTH,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "./idempotency/idempotency-store.js";
export {
  InMemoryIdempotencyStore,
  type InMemoryIdempotencyStoreOptions,
  idempotencyScopeOf,
} from "./idempotency/in-memory-idempotency-store.js";
export { compareUlids, defineId, type Id, type IdType, isUlid, ulid, ulidTimestamp } from "./ids.js";
export { ImportConflictError, ImportErrorCode, isImportConflictError } from "./import/errors.js";
export { type ImportEventsOptions, importEvents } from "./import/import-events.js";
export { importedEventId } from "./import/imported-event-id.js";
export type { ImportBatch, ImportEventsResult, ImportedEvent, ImportSource } from "./import/types.js";
export { callHook } from "./internal/hooks.js";
export { isIsoTime } from "./internal/iso-time.js";
export {
  assertMaxJsonDepth,
  DEFAULT_MAX_JSON_DEPTH,
  type JsonIssuesOptions,
  type JsonValue,
  jsonIssues,
  jsonRoundTrip,
  MAX_JSON_DEPTH_LIMIT,
  utf8Length,
} from "./internal/json.js";
export { objectShapeCheck } from "./internal/object-shape.js";
export { sha256Hex } from "./internal/sha256.js";
export { compareCodePoints, isWellFormedUnicode } from "./internal/unicode.js";
export {
  assertDelayMs,
  assertFunction,
  assertKnownOptions,
  assertObject,
  checkedClock,
  functionIssues,
  integerOptionIssues,
  MAX_DELAY_MS,
  MAX_STREAM_ID_LENGTH,
  MAX_TYPE_LENGTH,
  nameIssues,
  objectIssues,
  unknownKeyIssues,
} from "./internal/validate.js";
export {
  checkFilter,
  filterFromQuery,
  filterToQuery,
  type LiveConnection,
  type LiveConnectOptions,
  type LiveEndReason,
  LiveErrorCode,
  type LiveFilter,
  LiveHub,
  LiveHubClosedError,
  type LiveHubOptions,
  type LiveItem,
  MAX_FILTER_ENTRIES,
  matchesFilter,
  TooManyLiveClientsError,
} from "./live/index.js";
export {
  type ConsoleLoggerOptions,
  consoleLogger,
  type JsonLoggerOptions,
  jsonLogger,
  type PinoLike,
  pinoLogger,
} from "./logging/json-logger.js";
export { eventFields, getLogger, setLogger } from "./logging/library-logger.js";
export type { LogFields, Logger, LogLevel } from "./logging/logger.js";
export { DEFAULT_REDACTED_FIELDS, REDACTED, redactedCause, redactText } from "./logging/redaction.js";
export { CommandBus } from "./messaging/command-bus.js";
export {
  type ExecuteOptions,
  eventMetadataFor,
  type Message,
  type MessageKind,
  type MessageMap,
  type MessageMetadata,
  type PayloadOf,
  type ResultOf,
} from "./messaging/message.js";
export {
  type AfterHook,
  type BeforeHook,
  type ExecutionStats,
  MessageBus,
  type MessageBusOptions,
  type MessageHandler,
  type Middleware,
  type Outcome,
} from "./messaging/message-bus.js";
export {
  type AnySchema,
  logging,
  type PayloadSchemas,
  type RetryOptions,
  retryOnConcurrency,
  toIssue,
  validation,
} from "./messaging/middleware.js";
export { QueryBus } from "./messaging/query-bus.js";
export { ENCRYPTED_MARKER, type EncryptedValue } from "./personal-data/field-crypto.js";
export { InMemorySubjectKeyStore } from "./personal-data/in-memory-subject-key-store.js";
export {
  ERASED_FIELDS_METADATA,
  PersonalData,
  type PersonalDataOptions,
  type PersonalEventInput,
  type PersonalFields,
  type PersonalSnapshotInput,
  personalData,
} from "./personal-data/personal-data.js";
export { isSealedRecord, markSealedRecord } from "./personal-data/sealed-records.js";
export {
  assertSubjectId,
  DEFAULT_KEY_CACHE_SIZE,
  DEFAULT_KEY_CACHE_TTL_MS,
  MAX_SUBJECT_ID_LENGTH,
  masterKeyIssues,
  newSubjectKey,
  SUBJECT_KEY_STORE_OPTIONS,
  type SubjectKeyLookup,
  SubjectKeyStore,
  type SubjectKeyStoreOptions,
  unwrapSubjectKey,
  type WebCryptoKey,
  wrapSubjectKey,
} from "./personal-data/subject-key-store.js";
export { InMemoryReadModelStore } from "./projections/in-memory-read-model-store.js";
export type { Progress } from "./projections/progress.js";
export {
  MAX_PROJECTION_NAME_LENGTH,
  type PrefetchKey,
  type Projection,
  type ProjectionContext,
  type ProjectionDefinition,
  type ProjectionFilters,
  type ProjectionResult,
  projection,
} from "./projections/projection.js";
export { InMemoryProjectionLock, ProjectionLock } from "./projections/projection-lock.js";
export {
  type BatchResult,
  INLINE_WAIT_MS,
  PROJECTION_STATE_COLLECTION,
  type ProjectionLag,
  ProjectionRunner,
  type ProjectionRunnerOptions,
  projectionCheckpointId,
} from "./projections/projection-runner.js";
export {
  MAX_READ_MODEL_KEY_LENGTH,
  type ReadModelDocument,
  type ReadModelDrop,
  type ReadModelKey,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
  type ReadModelWriter,
  transactionEndedError,
} from "./projections/read-model-store.js";
export {
  type RebuildProjectionOptions,
  type RebuildProjectionResult,
  rebuildProjection,
} from "./projections/rebuild.js";
export {
  MAX_RECORDED_WRITES,
  type RecordedWrite,
  type ReplayContext,
  type ReplayOptions,
  type ReplayResult,
  replay,
} from "./projections/replay.js";
export { rebuildCheckpointId, shadowCollection } from "./projections/shadow-read-models.js";
export {
  type Correlate,
  defineSaga,
  type FiredTimeout,
  type SagaContext,
  type SagaDefinition,
  type SagaDefinitionInput,
  type SagaHandler,
  type ScheduleOptions,
} from "./sagas/define-saga.js";
export { InMemorySagaStore } from "./sagas/in-memory-saga-store.js";
export type { CommandDispatcher } from "./sagas/outbox-dispatcher.js";
export {
  defineProcessManager,
  type ProcessManagerInput,
  type ProcessState,
  type Transition,
  type Transitions,
} from "./sagas/process-manager.js";
export {
  type FiredTimeoutReport,
  type SagaOutcome,
  type SagaOutcomeKind,
  SagaRuntime,
  type SagaRuntimeOptions,
  type SubscribeSagasOptions,
  type TickResult,
} from "./sagas/saga-runtime.js";
export {
  DEFAULT_MAX_SAGA_STATE_BYTES,
  MAX_SAGA_ID_LENGTH,
  MAX_SAGA_KEY_LENGTH,
  outboxEntryInUse,
  SAGA_STORE_OPTIONS,
  SagaStore,
  type SagaStoreOptions,
  sagaConflict,
  sagaCorruptError,
  sagaRecordFlaw,
  sagaTimeoutId,
} from "./sagas/saga-store.js";
export {
  type AlarmStorageLike,
  SagaAlarmDriver,
  type SagaAlarmDriverOptions,
  type SagaRuntimeSource,
  type ScheduledControllerLike,
  sagaCronHandler,
  type WaitUntilContext,
} from "./sagas/timer-drivers.js";
export type {
  ClaimDueTimeoutsOptions,
  Compensation,
  ListSagasOptions,
  NextDueAtOptions,
  OutboxEntry,
  SagaAttention,
  SagaCommit,
  SagaFailure,
  SagaFailureReport,
  SagaRecord,
  SagaStatus,
  SagaTimeout,
} from "./sagas/types.js";
export { COMPRESSION_FORMATS, type CompressionFormat, compress, decompress } from "./snapshot/compression.js";
export { InMemorySnapshotStore, type InMemorySnapshotStoreOptions } from "./snapshot/in-memory-snapshot-store.js";
export { jsonSerializer } from "./snapshot/json-serializer.js";
export { msgpackSerializer } from "./snapshot/msgpack-serializer.js";
export {
  allPolicies,
  anyPolicy,
  everyNEvents,
  olderThan,
  type SnapshotPolicy,
  type SnapshotPolicyContext,
} from "./snapshot/policies.js";
export type {
  RepositorySnapshotOptions,
  RepositorySnapshotStore,
  SnapshotErrorContext,
  SnapshotOperation,
} from "./snapshot/repository-snapshots.js";
export { type SnapshotSerializer, snapshotIssues } from "./snapshot/serializer.js";
export {
  DEFAULT_KEEP_LAST,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  SNAPSHOT_STORE_OPTIONS,
  type SnapshotCompression,
  SnapshotStore,
  type SnapshotStoreOptions,
} from "./snapshot/snapshot-store.js";
export type {
  LoadSnapshotOptions,
  NewSnapshot,
  SaveSnapshotResult,
  Snapshot,
  SnapshotStoreCapabilities,
  StoredSnapshot,
} from "./snapshot/types.js";
export { checkAppliedMigrations, type MigrationRecord } from "./sql/applied-migrations.js";
export { configureTelemetry, type TelemetryConfig } from "./telemetry/config.js";
export { eventAttributes, processEvent } from "./telemetry/consumer-spans.js";
export {
  configureMetrics,
  countConsumed,
  countError,
  countUnhandled,
  type Failure as MetricFailure,
  MAX_LABEL_VALUES,
  METER_NAME,
  MetricLabel,
  MetricName,
  type MetricsSettings,
  OTHER_LABEL,
} from "./telemetry/metrics.js";
export {
  consumerParent,
  contextFromMetadata,
  formatTraceparent,
  parseTraceparent,
  stampTraceContext,
} from "./telemetry/propagation.js";
export { reportSlowPath, type SlowPathReport } from "./telemetry/slow-paths.js";
export {
  currentContext,
  endSpan,
  errorCode,
  inSpan,
  recordError,
  setSpanAttribute,
  setSpanAttributes,
  startSpan,
  withActiveSpan,
} from "./telemetry/spans.js";
export { activeTracer, TRACER_NAME } from "./telemetry/tracer.js";
export {
  InvalidTenantError,
  isInvalidTenantError,
  isTenantId,
  isTenantIsolationError,
  isTenantQuotaExceededError,
  isUnknownTenantError,
  MAX_TENANT_ID_LENGTH,
  QuotaCounter,
  type ScopedStores,
  TENANT_METADATA_KEY,
  type Tenancy,
  TenancyErrorCode,
  type TenancyOptions,
  TenantEventStore,
  type TenantId,
  TenantIsolationError,
  TenantQuotaExceededError,
  type TenantQuotaLimit,
  type TenantQuotas,
  type TenantScope,
  type TenantStores,
  tenancy,
  tenantId,
  tenantIdentifier,
  UnknownTenantError,
} from "./tenancy/index.js";
export { ValueObject } from "./value-object.js";
