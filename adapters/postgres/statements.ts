import type { TableNames } from "./names.js";
import { MAX_EVENTS_PER_TRANSACTION, POSITION_BITS } from "./position.js";

/** Every statement the store runs, rendered once per store for its schema and prefix. */
export interface Statements {
  /** The append inside a transaction that may hold other appends. */
  readonly append: string;
  /** The append as a transaction of its own: leaner (see below). */
  readonly appendAlone: string;
  readonly eventsByIds: string;
  readonly readForward: string;
  readonly readBackward: string;
  readonly readAll: string;
  readonly streamVersion: string;
  readonly lastGlobalPosition: string;
  readonly checkpoint: {
    readonly read: string;
    readonly write: string;
    /** Stores $2 only when none is saved or the saved one is 0. */
    readonly writeIfNone: string;
    /** Stores $2 only when the saved one is $3. */
    readonly writeIfAt: string;
    readonly remove: string;
  };
}

// The reader's bound: positions of transactions older than its snapshot's xmin. Every one of those
// has committed or aborted, and every later commit gets a higher position (see position.ts).
const SAFE_BOUND = `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_BITS})`;

// Output names differ from the columns': ORDER BY prefers an output name, and sorting by
// global_position::text would be neither numeric nor served by the index.
const COLUMNS = `global_position::text AS position_text, version, event_id, type, data::text AS data_text,
  metadata::text AS metadata_text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created`;

export function statements(names: TableNames): Statements {
  const events = names.events;
  return {
    /*
     * One round trip: reads the stream's version, checks the expectation, and inserts the batch,
     * all in one statement under one snapshot. A concurrent append to the same version loses on
     * the (stream_id, version) unique key. Positions continue the numbering of a block: this
     * transaction's own (its id << POSITION_BITS), or, when the stream's last event sits in a
     * younger transaction's block (that one took its id later but committed before this statement
     * began), that block, so that within a stream the feed order is the version order. Such a block
     * is final (its transaction has committed); two borrowers racing for one number meet on the
     * primary key. Either way a position is at least this transaction's id << POSITION_BITS, which
     * is all the never-skip guarantee needs (see position.ts). Past a block's last number the
     * position is NULL, which the primary key refuses. `start` is computed once, before the insert
     * (MATERIALIZED: inlined, it would run per row and wade through the rows being inserted).
     * $1 stream id, $2 expectation kind, $3 expected version, $4 timestamp (of every event without a "c" time of its own), $5 events as JSON, $6 the first event's id:
     * a retry repeats every id, so one index probe tells a retry from a new batch (an id reused
     * elsewhere in the batch still fails on the unique key).
     */
    append: `
WITH last AS (
  SELECT version, global_position FROM ${events} WHERE stream_id = $1 ORDER BY version DESC LIMIT 1
), cur AS (
  SELECT coalesce((SELECT version FROM last), 0) AS version, coalesce((SELECT global_position FROM last), 0) AS position
), tx AS MATERIALIZED (
  SELECT pg_current_xact_id() AS xid,
    greatest(pg_current_xact_id()::text::bigint << ${POSITION_BITS}, cur.position >> ${POSITION_BITS} << ${POSITION_BITS}) AS base
  FROM cur
), start AS MATERIALIZED (
  SELECT tx.xid, tx.base, coalesce((SELECT max(global_position) FROM ${events}
    WHERE global_position > tx.base AND global_position <= tx.base + ${MAX_EVENTS_PER_TRANSACTION}), tx.base) AS last
  FROM tx
), input AS (
  SELECT e.n, e.value FROM jsonb_array_elements($5::text::jsonb) WITH ORDINALITY AS e(value, n)
), taken AS (
  SELECT count(*) AS ids FROM ${events} WHERE event_id = $6
), ins AS (
  INSERT INTO ${events} (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
  SELECT CASE WHEN start.last + input.n <= start.base + ${MAX_EVENTS_PER_TRANSACTION} THEN start.last + input.n END,
    start.xid, $1, cur.version + input.n, input.value->>'i', input.value->>'t', input.value->'d', input.value->'m',
    coalesce((input.value->>'c')::timestamptz, $4::text::timestamptz)
  FROM cur, start, input, taken
  WHERE taken.ids = 0 AND CASE $2::text
    WHEN 'any' THEN true
    WHEN 'no-stream' THEN cur.version = 0
    WHEN 'stream-exists' THEN cur.version > 0
    ELSE cur.version = $3::integer END
  RETURNING global_position
)
SELECT cur.version, (SELECT min(global_position) FROM ins)::text, (SELECT count(*) FROM ins)::integer, taken.ids::integer
FROM cur, taken`,
    /*
     * The same append when the statement is its transaction (the store's own appends): no earlier
     * event of the transaction can hold a position, no younger transaction's event is visible (the
     * statement's snapshot is taken before it gets its id), and a retry's ids need looking up only when
     * nothing was inserted; with "any", a retry fails on the event_id key instead, which aborts
     * nothing here. About a third less server time for a single event.
     */
    appendAlone: `
WITH cur AS (
  SELECT coalesce((SELECT version FROM ${events} WHERE stream_id = $1 ORDER BY version DESC LIMIT 1), 0) AS version
), tx AS (
  SELECT pg_current_xact_id() AS xid, pg_current_xact_id()::text::bigint << ${POSITION_BITS} AS base
), ins AS (
  INSERT INTO ${events} (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
  SELECT tx.base + e.n, tx.xid, $1, cur.version + e.n, e.value->>'i', e.value->>'t', e.value->'d', e.value->'m',
    coalesce((e.value->>'c')::timestamptz, $4::text::timestamptz)
  FROM cur, tx, jsonb_array_elements($5::text::jsonb) WITH ORDINALITY AS e(value, n)
  WHERE CASE $2::text
    WHEN 'any' THEN true
    WHEN 'no-stream' THEN cur.version = 0
    WHEN 'stream-exists' THEN cur.version > 0
    ELSE cur.version = $3::integer END
  RETURNING global_position
)
SELECT cur.version, (SELECT min(global_position) FROM ins)::text, (SELECT count(*) FROM ins)::integer,
  CASE WHEN EXISTS (SELECT 1 FROM ins) THEN 0 ELSE (SELECT count(*) FROM ${events} WHERE event_id = $6)::integer END
FROM cur`,
    // Ids as a JSON array: postgres.js can only send array parameters once it has fetched the
    // server's array types, which clients made with fetch_types: false never do.
    eventsByIds: `SELECT stream_id, ${COLUMNS} FROM ${events}
  WHERE event_id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))`,
    readForward: `SELECT ${COLUMNS} FROM ${events}
  WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`,
    readBackward: `SELECT ${COLUMNS} FROM ${events}
  WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`,
    readAll: `SELECT stream_id, ${COLUMNS} FROM ${events}
  WHERE global_position > $1 AND global_position < ${SAFE_BOUND} ORDER BY global_position LIMIT $2`,
    streamVersion: `SELECT coalesce(max(version), 0) FROM ${events} WHERE stream_id = $1`,
    checkpoint: {
      read: `SELECT position::text FROM ${names.checkpoints} WHERE id = $1`,
      write: `INSERT INTO ${names.checkpoints} AS c (id, position) VALUES ($1, $2::text::bigint)
  ON CONFLICT (id) DO UPDATE SET position = excluded.position, updated_at = now()`,
      writeIfNone: `INSERT INTO ${names.checkpoints} AS c (id, position) VALUES ($1, $2::text::bigint)
  ON CONFLICT (id) DO UPDATE SET position = excluded.position, updated_at = now() WHERE c.position = 0
  RETURNING 1`,
      writeIfAt: `UPDATE ${names.checkpoints} SET position = $2::text::bigint, updated_at = now()
  WHERE id = $1 AND position = $3::text::bigint RETURNING 1`,
      remove: `DELETE FROM ${names.checkpoints} WHERE id = $1`,
    },
    lastGlobalPosition: `SELECT coalesce(max(global_position), 0)::text FROM ${events} WHERE global_position < ${SAFE_BOUND}`,
  };
}
