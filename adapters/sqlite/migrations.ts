import { sha256Hex } from "../../src/index.js";
import type { SqliteTableNames } from "./names.js";

/** One schema change: statements run in one transaction (one D1 batch), each on its own. */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: (names: SqliteTableNames) => readonly string[];
}

/**
 * Every schema version, oldest first. Append new ones; never edit one that shipped: databases record
 * a checksum of each applied migration and refuse to run against one that changed.
 */
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "events",
    // position: AUTOINCREMENT never hands out a committed number twice, even after the newest rows went
    // (a hard delete): a reader's checkpoint never points at a position reused later. A rolled-back
    // append takes its numbers back (the counter rolls back with it); no reader saw them.
    statements: (n) => [
      `CREATE TABLE ${n.events} (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  UNIQUE (stream_id, version),
  UNIQUE (id)
)`,
    ],
  },
  {
    version: 2,
    name: "checkpoints",
    statements: (n) => [
      `CREATE TABLE ${n.checkpoints} (
  id TEXT NOT NULL PRIMARY KEY,
  position INTEGER NOT NULL CHECK (position >= 0),
  updated_at TEXT NOT NULL
)`,
    ],
  },
  {
    version: 3,
    name: "snapshots",
    statements: (n) => [
      `CREATE TABLE ${n.snapshots} (
  stream_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  schema_version INTEGER NOT NULL CHECK (schema_version >= 0),
  encoding TEXT NOT NULL,
  payload BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (stream_id, version)
)`,
    ],
  },
  {
    version: 4,
    name: "read-models",
    statements: (n) => [
      `CREATE TABLE ${n.readModels} (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  document TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (collection, id)
)`,
    ],
  },
  {
    version: 5,
    name: "stream-deletions",
    // One row per deleted stream: soft (events kept, hidden) or hard (events removed; the row retires the id).
    statements: (n) => [
      `CREATE TABLE ${n.streamDeletions} (
  stream_id TEXT NOT NULL PRIMARY KEY,
  mode TEXT NOT NULL CHECK (mode IN ('soft', 'hard')),
  version INTEGER NOT NULL,
  deleted_at TEXT NOT NULL
)`,
    ],
  },
  {
    version: 6,
    name: "stream-deletion-events",
    // Where a deleted stream's $stream-deleted event is in $streams, so that streamDeletionEvent reads
    // it by key instead of reading $streams back to it. Rows of earlier releases get it from $streams
    // in one pass (each stream's newest $stream-deleted: the deletion its row records); a row written
    // by an earlier release after this ran has none, and is found as before.
    statements: (n) => [
      `ALTER TABLE ${n.streamDeletions} ADD COLUMN event_version INTEGER`,
      `UPDATE ${n.streamDeletions} SET event_version = e.version
FROM (
  SELECT json_extract(data, '$.streamId') AS stream_id, max(version) AS version FROM ${n.events}
  WHERE stream_id = '$streams' AND type = '$stream-deleted' GROUP BY 1
) AS e
WHERE ${n.streamDeletions}.stream_id = e.stream_id`,
    ],
  },
  {
    version: 7,
    name: "soft-deletions-index",
    // The soft-deleted streams, which every feed page asks about (see readAll): without it, the
    // question scans every deletion row, hard-deleted streams included, three times a page.
    statements: (n) => [
      `CREATE INDEX "${n.prefix}stream_deletions_soft" ON ${n.streamDeletions} (stream_id) WHERE mode = 'soft'`,
    ],
  },
  {
    version: 8,
    name: "sagas",
    // SqliteSagaStore's tables: an instance per row, the ids it handled, its outbox and its timeouts in tables
    // of their own, written together by one batch per commit. seq (the rowid) orders instances, outbox entries
    // and failures as they were written: instances and failures are never deleted, and an outbox entry's rowid
    // is always above the entries left, so rowids are never handed out below a live row.
    statements: (n) => [
      `CREATE TABLE ${n.sagas} (
  seq INTEGER PRIMARY KEY,
  saga TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  state TEXT NOT NULL,
  status TEXT NOT NULL,
  step INTEGER NOT NULL,
  compensations TEXT NOT NULL,
  attention TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (saga, key)
)`,
      `CREATE INDEX "${n.prefix}sagas_status" ON ${n.sagas} (status, saga)`,
      `CREATE TABLE ${n.sagaHandled} (
  saga TEXT NOT NULL,
  key TEXT NOT NULL,
  handled_id TEXT NOT NULL,
  PRIMARY KEY (saga, key, handled_id)
)`,
      `CREATE TABLE ${n.sagaOutbox} (
  seq INTEGER PRIMARY KEY,
  saga TEXT NOT NULL,
  key TEXT NOT NULL,
  entry_id TEXT NOT NULL,
  entry TEXT NOT NULL,
  UNIQUE (saga, key, entry_id)
)`,
      // lease_until: ms since the epoch; a claimed timeout is not claimed again before it.
      `CREATE TABLE ${n.sagaTimeouts} (
  id TEXT NOT NULL PRIMARY KEY,
  saga TEXT NOT NULL,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  data TEXT,
  owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  UNIQUE (saga, key, name)
)`,
      `CREATE INDEX "${n.prefix}saga_timeouts_due" ON ${n.sagaTimeouts} (due_at)`,
      `CREATE TABLE ${n.sagaFailures} (
  seq INTEGER PRIMARY KEY,
  saga TEXT NOT NULL,
  key TEXT,
  failure TEXT NOT NULL
)`,
      `CREATE INDEX "${n.prefix}saga_failures_saga" ON ${n.sagaFailures} (saga, seq)`,
    ],
  },
  {
    version: 9,
    name: "idempotency-keys",
    // SqliteIdempotencyStore's records: one row per key, a claim until status is set, the replayed response
    // after. expires_at: ms since the epoch by the store's clock; rows past it count as absent until purged.
    // Keys compare as BINARY text (SQLite's default): "Key-a" and "key-A" are two keys, as clients mean them.
    statements: (n) => [
      `CREATE TABLE ${n.idempotencyKeys} (
  key TEXT NOT NULL PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  token TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  status INTEGER,
  body TEXT,
  content_type TEXT,
  CHECK ((status IS NULL) = (body IS NULL) AND (status IS NULL) = (content_type IS NULL))
)`,
      `CREATE INDEX "${n.prefix}idempotency_keys_expires_at" ON ${n.idempotencyKeys} (expires_at)`,
    ],
  },
  {
    version: 10,
    name: "subject-keys",
    // SqliteSubjectKeyStore's keys: one row per data subject, its AES-256 key AES-GCM-encrypted under the
    // application's master key (IV first); an erasure leaves the row with no key and its time, a tombstone
    // that keeps the subject from ever getting a key again. Times are ISO 8601 text.
    statements: (n) => [
      `CREATE TABLE ${n.subjectKeys} (
  subject_id TEXT NOT NULL PRIMARY KEY,
  wrapped_key BLOB,
  created_at TEXT NOT NULL,
  erased_at TEXT,
  CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
)`,
    ],
  },
  {
    version: 11,
    name: "dedup",
    // SqliteDedupStore's handled event ids. expires_at: ms since the epoch by the store's clock; rows
    // past it count as absent until purged.
    statements: (n) => [
      `CREATE TABLE ${n.dedup} (
  id TEXT NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL
)`,
      `CREATE INDEX "${n.prefix}dedup_expires_at" ON ${n.dedup} (expires_at)`,
    ],
  },
];

/** The highest schema version (versions need not be contiguous). */
export const LATEST_SQLITE_SCHEMA_VERSION = Math.max(...sqliteMigrations.map((m) => m.version));

/** SHA-256 of a migration's statements as applied, hex. */
export function checksum(statements: readonly string[]): Promise<string> {
  return sha256Hex(statements.join(";\n"));
}
