/**
 * @module @eventflows/core/dynamodb: an event store in one DynamoDB table over the JSON protocol
 * (SigV4 over fetch, no AWS SDK), with optimistic concurrency, atomic multi-event appends, consistent reads
 * and a global feed whose ordering and completeness are documented in docs/adapters/dynamodb.md;
 * a snapshot store, in the same table or one of its own; a read-model store, checkpoint store and
 * projection lock for the core's ProjectionRunner; and a saga store for the core's SagaRuntime.
 */
export type { AttributeValue, Item } from "./attribute-value.js";
export { type CastoreDynamoDbSourceOptions, castoreDynamoDbSource } from "./castore-source.js";
export { createDynamoDbClient, isServiceErrorCode } from "./client.js";
export type { CommitMarker } from "./commit-log.js";
export { DEDUP_PARTITION_PREFIX, DynamoDbDedupStore, type DynamoDbDedupStoreOptions } from "./dedup-store.js";
export { EVENT_CORRUPT, EventCorruptError, isEventCorruptError } from "./errors.js";
export { DynamoDbEventStore, type DynamoDbEventStoreOptions } from "./event-store.js";
export {
  type DynamoDbIamAction,
  type DynamoDbPolicyStatement,
  type DynamoDbStoreName,
  type DynamoDbTenantStatementOptions,
  type DynamoDbTenantStoreName,
  dynamoDbIamActions,
  dynamoDbRunTimeActions,
  dynamoDbTenantStatement,
} from "./iam.js";
export {
  DynamoDbIdempotencyStore,
  type DynamoDbIdempotencyStoreOptions,
  IDEMPOTENCY_PARTITION_PREFIX,
} from "./idempotency-store.js";
export { type DynamoDbKeyedStoreOptions, EXPIRES_ATTRIBUTE, TTL_ATTRIBUTE } from "./keyed-store.js";
export {
  LOG_PARTITION,
  MAX_ITEM_BYTES,
  MAX_TRANSACTION_BYTES,
  META_PARTITION,
  POSITIONS_PER_COMMIT,
  type TableLayout,
  type TableLayoutOptions,
  TENANT_KEY_SEPARATOR,
  tableLayout,
  tenantKeyPrefix,
} from "./layout.js";
export {
  DynamoDbProjectionLock,
  type DynamoDbProjectionLockOptions,
  LEASE_PARTITION_PREFIX,
} from "./projection-lock.js";
export { GENERATION_PARTITION_PREFIX, RETIRED_PARTITION } from "./read-model-generations.js";
export type { PurgeRetiredGenerationsOptions, PurgeRetiredGenerationsResult } from "./read-model-purge.js";
export {
  CHECKPOINT_PARTITION_PREFIX,
  DynamoDbCheckpointStore,
  DynamoDbReadModelStore,
  type DynamoDbReadModelStoreOptions,
  READ_MODEL_PARTITION_PREFIX,
} from "./read-model-store.js";
export {
  SAGA_DUE_PARTITION_PREFIX,
  SAGA_FAILURE_PARTITION_PREFIX,
  SAGA_HANDLED_PARTITION_PREFIX,
  SAGA_PARTITION_PREFIX,
} from "./saga-items.js";
export { DynamoDbSagaStore, type DynamoDbSagaStoreOptions } from "./saga-store.js";
export {
  DynamoDbSnapshotStore,
  type DynamoDbSnapshotStoreOptions,
  SNAPSHOT_PARTITION_PREFIX,
} from "./snapshot-store.js";
export {
  type DynamoDbStreamChanges,
  type DynamoDbStreamDeletion,
  dynamoDbStreamDeletion,
  type LifecycleLog,
} from "./stream-deletion.js";
export {
  DynamoDbSubjectKeyStore,
  type DynamoDbSubjectKeyStoreOptions,
  SUBJECT_KEY_PARTITION_PREFIX,
} from "./subject-key-store.js";
export { ensureEventStoreTable, eventStoreTableDefinition } from "./table.js";
export {
  type SharedTableTenantStores,
  type SharedTableTenantStoresOptions,
  sharedTableTenantStores,
} from "./tenant-stores.js";
