/**
 * @module @eventflows/core/sqlite: the event, snapshot, checkpoint, read-model, saga, dedup, idempotency and subject key stores on SQLite, over a small
 * driver port with drivers for bun:sqlite, node:sqlite (or better-sqlite3), Cloudflare D1 and
 * Durable Object storage; versioned migrations; an event store a Durable Object serves to Workers,
 * pushing new events to live subscribers over hibernatable WebSockets.
 */

export { BUN_SQLITE, type BunSqliteDatabase, type BunSqliteDriverOptions, bunSqliteDriver } from "./bun-driver.js";
export { SqliteCheckpointStore, type SqliteCheckpointStoreOptions } from "./checkpoint-store.js";
export {
  D1,
  D1_MAX_BATCH_STATEMENTS,
  D1_MAX_VALUE_BYTES,
  type D1DatabaseLike,
  type D1DriverOptions,
  type D1StatementLike,
  d1Driver,
} from "./d1-driver.js";
export {
  type D1TenantBindings,
  type D1TenantDatabases,
  type D1TenantDatabasesOptions,
  d1TenantDatabases,
} from "./d1-tenants.js";
export { SqliteDedupStore, type SqliteDedupStoreOptions } from "./dedup-store.js";
export type {
  SqliteDriver,
  SqliteRow,
  SqliteStatement,
  SqliteValue,
  SqliteWriteResult,
  SyncStatementRunner,
  SyncWriteRunner,
} from "./driver.js";
export {
  DURABLE_OBJECT,
  DURABLE_OBJECT_MAX_VALUE_BYTES,
  type DurableObjectStorageLike,
  durableObjectDriver,
} from "./durable-object-driver.js";
export { DEFAULT_MAX_EVENT_BYTES as DEFAULT_MAX_SQLITE_EVENT_BYTES } from "./encode.js";
export { SERVICE as SQLITE_SERVICE } from "./errors.js";
export { createSqliteEventStore, SqliteEventStore, type SqliteEventStoreOptions } from "./event-store.js";
export {
  DurableObjectEventStore,
  type DurableObjectEventStoreOptions,
  type DurableObjectStubLike,
  type HandleEventStoreRequestOptions,
  handleEventStoreRequest,
} from "./event-store-object.js";
export { SqliteIdempotencyStore, type SqliteIdempotencyStoreOptions } from "./idempotency-store.js";
export {
  type DurableObjectStateLike,
  type HibernatableWebSocketLike,
  LiveSubscribers,
  type LiveSubscribersOptions,
} from "./live-subscribers.js";
export type { ClientWebSocketLike, SubscribeLiveOptions } from "./live-subscription.js";
export {
  migrateSqlite,
  type SqliteAppliedMigration,
  type SqliteMigrateOptions,
  type SqliteMigrateResult,
  sqliteAppliedMigrations,
  sqliteSchemaVersion,
} from "./migrate.js";
export { LATEST_SQLITE_SCHEMA_VERSION, type SqliteMigration, sqliteMigrations } from "./migrations.js";
export {
  DEFAULT_TABLE_PREFIX as DEFAULT_SQLITE_TABLE_PREFIX,
  type SqliteNameOptions,
  type SqliteTableNames,
  tableNames as sqliteTableNames,
} from "./names.js";
export {
  NODE_SQLITE,
  type NodeSqliteDatabase,
  type NodeSqliteDriverOptions,
  type NodeSqliteStatement,
  nodeSqliteDriver,
} from "./node-driver.js";
export { OBJECT_SERVICE as EVENT_STORE_OBJECT_SERVICE } from "./object-wire.js";
export { SqliteReadModelStore, type SqliteReadModelStoreOptions } from "./read-model-store.js";
export { SqliteSagaStore, type SqliteSagaStoreOptions } from "./saga-store.js";
export {
  DEFAULT_MAX_SQLITE_SNAPSHOT_BYTES,
  SqliteSnapshotStore,
  type SqliteSnapshotStoreOptions,
} from "./snapshot-store.js";
export { type SqliteStoreStats, sqliteStoreStats } from "./stats.js";
export { SqliteSubjectKeyStore, type SqliteSubjectKeyStoreOptions } from "./subject-key-store.js";
export { DEFAULT_BUSY_TIMEOUT_MS, type FileDefaultsOptions } from "./sync-driver.js";
