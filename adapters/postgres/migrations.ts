import { sha256Hex } from "../../src/index.js";
import type { TableNames } from "./names.js";
import { POSITION_BITS } from "./position.js";

/** One schema change. Shipped as TypeScript strings: adapters read no files, so Workers can run them. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (names: TableNames) => string;
}

/**
 * Every schema version, oldest first. Append new ones; never edit one that shipped: databases record
 * a checksum of each applied migration and refuse to run against one that changed.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "events",
    sql: (n) => `
CREATE TABLE ${n.events} (
  global_position bigint NOT NULL,
  transaction_id xid8 NOT NULL,
  stream_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  CONSTRAINT "${n.tablePrefix}events_pkey" PRIMARY KEY (global_position),
  CONSTRAINT "${n.constraints.streamVersion}" UNIQUE (stream_id, version),
  CONSTRAINT "${n.constraints.eventId}" UNIQUE (event_id),
  CONSTRAINT "${n.tablePrefix}events_version_positive" CHECK (version > 0),
  CONSTRAINT "${n.tablePrefix}events_position_of_transaction"
    CHECK (global_position >> ${POSITION_BITS} = transaction_id::text::bigint)
);
COMMENT ON COLUMN ${n.events}.global_position IS
  'transaction id * 2^${POSITION_BITS} + the event''s number within its transaction: increasing in the order in which readers may safely see events';
COMMENT ON COLUMN ${n.events}.transaction_id IS
  'pg_current_xact_id() of the appending transaction; readers return only events of transactions older than their snapshot''s xmin';
`,
  },
  {
    version: 2,
    name: "checkpoints",
    sql: (n) => `
CREATE TABLE ${n.checkpoints} (
  id text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "${n.tablePrefix}checkpoints_pkey" PRIMARY KEY (id),
  CONSTRAINT "${n.tablePrefix}checkpoints_position_not_negative" CHECK (position >= 0)
);
`,
  },
  {
    version: 3,
    name: "snapshots",
    sql: (n) => `
CREATE TABLE ${n.snapshots} (
  stream_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  schema_version integer NOT NULL,
  encoding text NOT NULL,
  payload bytea NOT NULL,
  created_at timestamptz NOT NULL,
  CONSTRAINT "${n.tablePrefix}snapshots_pkey" PRIMARY KEY (stream_id, version),
  CONSTRAINT "${n.tablePrefix}snapshots_version_positive" CHECK (version > 0),
  CONSTRAINT "${n.tablePrefix}snapshots_schema_version_valid" CHECK (schema_version >= 0)
);
COMMENT ON COLUMN ${n.snapshots}.encoding IS
  'the serializer''s name, then +gzip, +deflate or +deflate-raw when the payload is compressed';
`,
  },
  {
    version: 4,
    name: "dedup-and-idempotency",
    sql: (n) => `
CREATE TABLE ${n.dedup} (
  id text COLLATE "C" NOT NULL,
  expires_at bigint NOT NULL,
  CONSTRAINT "${n.tablePrefix}dedup_pkey" PRIMARY KEY (id)
);
CREATE INDEX "${n.tablePrefix}dedup_expires_at" ON ${n.dedup} (expires_at);
COMMENT ON COLUMN ${n.dedup}.expires_at IS
  'ms since the epoch, by the store''s clock; rows past it count as absent until purged';
CREATE TABLE ${n.idempotencyKeys} (
  key text COLLATE "C" NOT NULL,
  fingerprint text COLLATE "C" NOT NULL,
  expires_at bigint NOT NULL,
  status smallint,
  body text,
  content_type text,
  CONSTRAINT "${n.tablePrefix}idempotency_keys_pkey" PRIMARY KEY (key),
  CONSTRAINT "${n.tablePrefix}idempotency_keys_response_whole"
    CHECK ((status IS NULL) = (body IS NULL) AND (status IS NULL) = (content_type IS NULL))
);
CREATE INDEX "${n.tablePrefix}idempotency_keys_expires_at" ON ${n.idempotencyKeys} (expires_at);
COMMENT ON COLUMN ${n.idempotencyKeys}.status IS
  'NULL while the claiming request runs; the replayed response once it completed';
`,
  },
  {
    version: 5,
    name: "stream-order",
    // A transaction that appends to a stream whose last event a younger transaction wrote takes its
    // positions after that event (see append in statements.ts), so a position may sit above its own
    // transaction's block. Rows written before this migration meet the stricter constraint it
    // replaces, hence NOT VALID: no scan of the table under its exclusive lock.
    sql: (n) => `
ALTER TABLE ${n.events} DROP CONSTRAINT "${n.tablePrefix}events_position_of_transaction";
ALTER TABLE ${n.events} ADD CONSTRAINT "${n.tablePrefix}events_position_not_below_transaction"
  CHECK (global_position >> ${POSITION_BITS} >= transaction_id::text::bigint) NOT VALID;
COMMENT ON COLUMN ${n.events}.global_position IS
  'at least transaction id * 2^${POSITION_BITS}: increasing in the order in which readers may safely see events, and within a stream in version order';
`,
  },
  {
    version: 6,
    name: "read-models",
    sql: (n) => `
CREATE TABLE ${n.readModels} (
  collection text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  document jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "${n.tablePrefix}read_models_pkey" PRIMARY KEY (collection, id)
);
COMMENT ON TABLE ${n.readModels} IS
  'projection read models as JSON documents (PostgresReadModelStore), written in the transaction that moves the projection''s checkpoint';
`,
  },
  {
    version: 7,
    name: "sagas",
    // One row per saga instance, with the ids it handled, its outbox and its timeouts in tables of
    // their own, written together in one transaction by PostgresSagaStore.commit.
    sql: (n) => `
CREATE TABLE ${n.sagas} (
  saga text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  state jsonb NOT NULL,
  status text NOT NULL,
  step integer NOT NULL,
  compensations jsonb NOT NULL,
  attention jsonb,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "${n.tablePrefix}sagas_pkey" PRIMARY KEY (saga, key),
  CONSTRAINT "${n.tablePrefix}sagas_version_positive" CHECK (version > 0)
);
CREATE INDEX "${n.tablePrefix}sagas_status" ON ${n.sagas} (status, saga);
CREATE TABLE ${n.sagaHandled} (
  saga text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  handled_id text COLLATE "C" NOT NULL,
  CONSTRAINT "${n.tablePrefix}saga_handled_pkey" PRIMARY KEY (saga, key, handled_id)
);
CREATE TABLE ${n.sagaOutbox} (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  saga text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  entry_id text COLLATE "C" NOT NULL,
  entry jsonb NOT NULL,
  CONSTRAINT "${n.tablePrefix}saga_outbox_pkey" PRIMARY KEY (saga, key, entry_id)
);
CREATE INDEX "${n.tablePrefix}saga_outbox_seq" ON ${n.sagaOutbox} (saga, key, seq);
CREATE TABLE ${n.sagaTimeouts} (
  id text COLLATE "C" NOT NULL,
  saga text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  due_at bigint NOT NULL,
  data jsonb NOT NULL,
  owner text COLLATE "C",
  lease_until bigint NOT NULL DEFAULT 0,
  CONSTRAINT "${n.tablePrefix}saga_timeouts_pkey" PRIMARY KEY (id),
  CONSTRAINT "${n.tablePrefix}saga_timeouts_name" UNIQUE (saga, key, name)
);
CREATE INDEX "${n.tablePrefix}saga_timeouts_due" ON ${n.sagaTimeouts} (due_at);
COMMENT ON COLUMN ${n.sagaTimeouts}.lease_until IS
  'ms since the epoch: a claimed timeout is not claimed again before it, so competing schedulers fire each once';
CREATE TABLE ${n.sagaFailures} (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  saga text COLLATE "C" NOT NULL,
  key text COLLATE "C",
  failure jsonb NOT NULL,
  CONSTRAINT "${n.tablePrefix}saga_failures_pkey" PRIMARY KEY (seq)
);
CREATE INDEX "${n.tablePrefix}saga_failures_saga" ON ${n.sagaFailures} (saga, seq);
`,
  },
  {
    version: 8,
    name: "subject-keys",
    // Crypto-shredding: one row per data subject. Erasing nulls the wrapped key and keeps the row as
    // a tombstone, so no key is ever made for the subject again.
    sql: (n) => `
CREATE TABLE ${n.subjectKeys} (
  subject_id text COLLATE "C" NOT NULL,
  wrapped_key bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  erased_at timestamptz,
  CONSTRAINT "${n.tablePrefix}subject_keys_pkey" PRIMARY KEY (subject_id),
  CONSTRAINT "${n.tablePrefix}subject_keys_erased_has_no_key" CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);
COMMENT ON COLUMN ${n.subjectKeys}.wrapped_key IS
  'the subject''s AES-256 key, AES-GCM-encrypted under the application''s master key (IV first); NULL once erased';
`,
  },
  {
    version: 9,
    name: "tenant-column",
    // Row-level-security tenancy on one shared set of tables (see row-level-security.ts). Every
    // table holding tenant data gets tenant_id, and every unique key gets it as its LAST column, so
    // that the lookups every store runs without naming a tenant (stream_id = $1, id = $1) still use
    // the key's index as a prefix, and the same stream id or checkpoint name may exist once per tenant.
    // Existing rows, and every row written without a tenant, belong to the empty tenant '' (two steps:
    // a constant default first, so the column is added without rewriting the table, then the setting).
    // The policies exist from here on but bind only once enableRowLevelSecurity has run on the schema.
    sql: (n) => {
      const tenantTables: readonly (readonly [string, string, readonly (readonly [string, string])[]])[] = [
        [
          n.events,
          "events",
          [
            [n.constraints.streamVersion, "UNIQUE (stream_id, version, tenant_id)"],
            [n.constraints.eventId, "UNIQUE (event_id, tenant_id)"],
          ],
        ],
        [n.checkpoints, "checkpoints", [[`${n.tablePrefix}checkpoints_pkey`, "PRIMARY KEY (id, tenant_id)"]]],
        [n.snapshots, "snapshots", [[`${n.tablePrefix}snapshots_pkey`, "PRIMARY KEY (stream_id, version, tenant_id)"]]],
        [n.dedup, "dedup", [[`${n.tablePrefix}dedup_pkey`, "PRIMARY KEY (id, tenant_id)"]]],
        [
          n.idempotencyKeys,
          "idempotency_keys",
          [[`${n.tablePrefix}idempotency_keys_pkey`, "PRIMARY KEY (key, tenant_id)"]],
        ],
        [
          n.readModels,
          "read_models",
          [[`${n.tablePrefix}read_models_pkey`, "PRIMARY KEY (collection, id, tenant_id)"]],
        ],
        [n.sagas, "sagas", [[`${n.tablePrefix}sagas_pkey`, "PRIMARY KEY (saga, key, tenant_id)"]]],
        [
          n.sagaHandled,
          "saga_handled",
          [[`${n.tablePrefix}saga_handled_pkey`, "PRIMARY KEY (saga, key, handled_id, tenant_id)"]],
        ],
        [
          n.sagaOutbox,
          "saga_outbox",
          [[`${n.tablePrefix}saga_outbox_pkey`, "PRIMARY KEY (saga, key, entry_id, tenant_id)"]],
        ],
        [
          n.sagaTimeouts,
          "saga_timeouts",
          [
            [`${n.tablePrefix}saga_timeouts_pkey`, "PRIMARY KEY (id, tenant_id)"],
            [`${n.tablePrefix}saga_timeouts_name`, "UNIQUE (saga, key, name, tenant_id)"],
          ],
        ],
        [n.sagaFailures, "saga_failures", []],
        [n.subjectKeys, "subject_keys", [[`${n.tablePrefix}subject_keys_pkey`, "PRIMARY KEY (subject_id, tenant_id)"]]],
      ];
      return tenantTables
        .map(([table, name, keys]) => {
          const rekeyed = keys.map(
            ([constraint, key]) => `,
  DROP CONSTRAINT "${constraint}", ADD CONSTRAINT "${constraint}" ${key}`,
          );
          return `
ALTER TABLE ${table} ADD COLUMN tenant_id text COLLATE "C" NOT NULL DEFAULT ''${rekeyed.join("")};
ALTER TABLE ${table} ALTER COLUMN tenant_id SET DEFAULT ${TENANT_DEFAULT};
CREATE POLICY "${n.tablePrefix}${name}_tenant" ON ${table}
  USING (tenant_id = ${TENANT_OF_TRANSACTION}) WITH CHECK (tenant_id = ${TENANT_OF_TRANSACTION});`;
        })
        .join("\n");
    },
  },
  {
    version: 10,
    name: "stream-deletions",
    // One row per deleted stream (per tenant under row-level security, as migration 9's tables): soft
    // (events kept, hidden from reads) or hard (events removed; the row stays as the tombstone that
    // retires the id). Appends check it in their one statement.
    sql: (n) => `
CREATE TABLE ${n.streamDeletions} (
  stream_id text COLLATE "C" NOT NULL,
  tenant_id text COLLATE "C" NOT NULL DEFAULT ${TENANT_DEFAULT},
  mode text NOT NULL,
  version integer NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "${n.tablePrefix}stream_deletions_pkey" PRIMARY KEY (stream_id, tenant_id),
  CONSTRAINT "${n.tablePrefix}stream_deletions_mode" CHECK (mode IN ('soft', 'hard'))
);
CREATE POLICY "${n.tablePrefix}stream_deletions_tenant" ON ${n.streamDeletions}
  USING (tenant_id = ${TENANT_OF_TRANSACTION}) WITH CHECK (tenant_id = ${TENANT_OF_TRANSACTION});
COMMENT ON COLUMN ${n.streamDeletions}.version IS
  'the stream''s version when it was deleted (a hard-deleted stream has no rows left to tell it)';
`,
  },
  {
    version: 11,
    name: "idempotency-claim-tokens",
    // Each claim's own token: complete and release act only on the claim that holds the key, so a
    // request whose claim expired cannot overwrite the response, or free the claim, of the request
    // that took the key over. Rows of earlier releases have none: theirs count as another's claim.
    sql: (n) => `
ALTER TABLE ${n.idempotencyKeys} ADD COLUMN token text COLLATE "C";
COMMENT ON COLUMN ${n.idempotencyKeys}.token IS
  'the token of the claim that holds the key; complete and release must name it';
`,
  },
  {
    version: 12,
    name: "stream-deletion-events",
    // Where a deleted stream's $stream-deleted event is in $streams, so that streamDeletionEvent reads
    // it by key instead of walking $streams back to it past every lifecycle event since. Rows of
    // earlier releases get it from $streams in one pass (the newest $stream-deleted of each stream and
    // tenant: the deletion the row records); a row it cannot fill (written by an earlier release after
    // this ran, or not visible to the migrating role under forced row-level security) stays NULL and
    // is found by the walk, as before.
    sql: (n) => `
ALTER TABLE ${n.streamDeletions} ADD COLUMN event_version integer;
UPDATE ${n.streamDeletions} AS d SET event_version = e.version
FROM (
  SELECT DISTINCT ON (tenant_id, data->>'streamId') tenant_id, data->>'streamId' AS stream_id, version
  FROM ${n.events} WHERE stream_id = '$streams' AND type = '$stream-deleted'
  ORDER BY tenant_id, data->>'streamId', version DESC
) AS e
WHERE d.stream_id = e.stream_id AND d.tenant_id = e.tenant_id;
COMMENT ON COLUMN ${n.streamDeletions}.event_version IS
  'the $streams version of the deletion''s $stream-deleted event; NULL for a row of a release before migration 12';
`,
  },
  {
    version: 13,
    name: "soft-deletions-index",
    // The soft-deleted streams alone, which every feed page counts and gathers (see readAll in
    // statements.ts): without it each page read the whole table, hard-deleted streams too (100,000
    // of those made a 1,000-event page take 12 ms instead of 1). Per tenant first, as the tenant
    // policy filters. The feed reads the same without it, only slower.
    sql: (n) => `
CREATE INDEX "${n.tablePrefix}stream_deletions_soft" ON ${n.streamDeletions} (tenant_id, stream_id) WHERE mode = 'soft';
`,
  },
];

/** The transaction-local setting naming the tenant of row-level-security stores (see tenantScopedSql). */
export const TENANT_SETTING = "eventflows.tenant";
// What a row written without naming tenant_id belongs to: the transaction's tenant, or '' (none).
const TENANT_DEFAULT = `coalesce(current_setting('${TENANT_SETTING}', true), '')`;
// Unset and '' (what PostgreSQL leaves after a transaction-local value ended) both give NULL, which
// matches no row: a statement run without a tenant sees nothing and writes nothing (fail closed).
const TENANT_OF_TRANSACTION = `nullif(current_setting('${TENANT_SETTING}', true), '')`;

/** The highest schema version (versions need not be contiguous). */
export const LATEST_SCHEMA_VERSION = Math.max(...migrations.map((m) => m.version));

/** SHA-256 of a migration's SQL as applied, hex. */
export function checksum(text: string): Promise<string> {
  return sha256Hex(text);
}
