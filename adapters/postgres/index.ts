/**
 * @module @eventflows/core/postgres: the event store, transactions, the read-model store and
 * projection lock for the core's ProjectionRunner, checkpoints, snapshots, saga instances and
 * schema migrations on PostgreSQL, with postgres.js.
 */

export { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from "./checkpoint-store.js";
export {
  CLI_URL_VARIABLE,
  CLI_USAGE,
  type CliIo,
  type PostgresUrlOptions,
  resolvePostgresUrl,
  runPostgresCli,
} from "./cli.js";
export {
  createPostgresClient,
  DEFAULT_CLIENT_OPTIONS,
  MIN_STATEMENT_TIMEOUT_MS,
  type PostgresClientOptions,
  type PostgresQueryable,
  type PostgresReservedSql,
  type PostgresSql,
  type PostgresTransactionSql,
  URL_VARIABLE,
} from "./client.js";
export { PostgresDedupStore, type PostgresDedupStoreOptions } from "./dedup-store.js";
export { type EmmettPostgresSourceOptions, emmettPostgresSource } from "./emmett-source.js";
export { DEFAULT_MAX_EVENT_BYTES, MAX_BATCH_BYTES } from "./encode.js";
export { SERVICE as POSTGRES_SERVICE, toEventFlowsError } from "./errors.js";
export {
  createPostgresEventStore,
  PostgresEventStore,
  type PostgresEventStoreOptions,
  type TransactionIsolation,
  type WithTransactionOptions,
} from "./event-store.js";
export { PostgresIdempotencyStore, type PostgresIdempotencyStoreOptions } from "./idempotency-store.js";
export type { AnyProjection } from "./inline-projection.js";
export {
  type AppliedMigration,
  appliedMigrations,
  type MigrateOptions,
  type MigrateResult,
  migrate,
  schemaVersion,
} from "./migrate.js";
export { LATEST_SCHEMA_VERSION, type Migration, migrations, TENANT_SETTING } from "./migrations.js";
export { DEFAULT_SCHEMA, type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
export { MAX_EVENTS_PER_TRANSACTION, POSITION_BITS } from "./position.js";
export { type PostgresProjectionRunnerOptions, postgresProjectionRunner } from "./postgres-projection-runner.js";
export { PostgresProjectionLock, type PostgresProjectionLockOptions } from "./projection-lock.js";
export {
  PostgresReadModelStore,
  type PostgresReadModelStoreOptions,
  PostgresReadModelTransaction,
  postgresSqlOf,
} from "./read-model-store.js";
export {
  enableRowLevelSecurity,
  rowLevelSecurityEnabled,
  tenantOf,
  tenantScopedSql,
} from "./row-level-security.js";
export { PostgresSagaStore, type PostgresSagaStoreOptions } from "./saga-store.js";
export {
  DEFAULT_MAX_SNAPSHOT_BYTES,
  PostgresSnapshotStore,
  type PostgresSnapshotStoreOptions,
} from "./snapshot-store.js";
export { type PostgresStoreStats, postgresStoreStats } from "./stats.js";
export { PostgresSubjectKeyStore, type PostgresSubjectKeyStoreOptions } from "./subject-key-store.js";
export {
  DEFAULT_TENANT_SCHEMA_PREFIX,
  dropTenantSchema,
  ensureTenantSchema,
  listTenantSchemas,
  migrateTenantSchemas,
  type TenantMigrateResult,
  type TenantSchema,
  type TenantSchemaOptions,
  tenantSchemaName,
} from "./tenant-schemas.js";
export { PostgresTransaction } from "./transaction.js";
