import type { TableNames } from "./names.js";
import { MAX_EVENTS_PER_TRANSACTION, POSITION_BITS } from "./position.js";

/** Every statement the store runs, rendered once per store for its schema and prefix. */
export interface Statements {
  /** The append inside a transaction that may hold other appends. */
  readonly append: string;
  /** The append as a transaction of its own: leaner (see below). */
  readonly appendAlone: string;
  /** appendAlone for one event, its id, type, data and metadata as parameters of their own. */
  readonly appendOne: string;
  /** After appendAlone or appendOne inserted nothing: the stream's version and whether the batch's ids are stored. */
  readonly appendRefused: string;
  readonly eventsByIds: string;
  readonly readForward: string;
  readonly readBackward: string;
  /** A feed page without soft-deleted streams; one row with a NULL stream id when more than HASHED_HIDDEN are. */
  readonly readAll: string;
  /** A feed page without soft-deleted streams, however many: each row's stream probed. */
  readonly readAllProbing: string;
  readonly streamVersion: string;
  readonly lastGlobalPosition: string;
  readonly headPosition: string;
  readonly headEvent: string;
  /** Stream deletion (see stream-deletion.ts). */
  readonly deletion: {
    /** Serializes the change with every append: waits for appends under way, holds new ones until commit. */
    readonly lock: string;
    /** Bounds the lock's wait, in a transaction of the store's own. */
    readonly lockTimeout: string;
    /** The stream's stored version, its deletion mode and recorded version (NULLs when live). $1 stream id. */
    readonly state: string;
    /** $1 stream id, $2 mode, $3 version, $4 the `$streams` version of its `$stream-deleted` event. */
    readonly mark: string;
    readonly unmark: string;
    /** Removes the stream's events below $2 and counts them. */
    readonly removeBelow: string;
    /**
     * The stream's `$stream-deleted` event while it is deleted: $1 stream id, $2 `$streams`,
     * $3 `$stream-deleted`. A stream with no deletion row reads nothing of `$streams`; one whose row
     * records the event's version reads that one row by key. Only a row of a release before
     * migration 12 (no version recorded) walks `$streams` back to the stream's newest one.
     */
    readonly event: string;
  };
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

/** How many soft-deleted streams a feed page leaves out through a hash of their ids (see readAll). */
export const HASHED_HIDDEN = 10_000;

// Output names differ from the columns': ORDER BY prefers an output name, and sorting by
// global_position::text would be neither numeric nor served by the index.
const COLUMNS = `global_position::text AS position_text, version, event_id, type, data::text AS data_text,
  metadata::text AS metadata_text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created`;

/** The page of a stream read: $1 stream id, $2 the first version to read, $3 how many. */
function streamPage(events: string, deletions: string, from: ">=" | "<=", order: "ASC" | "DESC"): string {
  return `SELECT ${COLUMNS} FROM (
  SELECT global_position, version, event_id, type, data, metadata, created_at FROM ${events}
  WHERE stream_id = $1 AND version ${from} $2 AND NOT EXISTS (SELECT 1 FROM ${deletions} WHERE stream_id = $1)
  ORDER BY version ${order} LIMIT $3
) AS page ORDER BY version ${order}`;
}

/** Rendered once per names object (tableNames hands out one per schema and prefix). */
const rendered = new WeakMap<TableNames, Statements>();

export function statements(names: TableNames): Statements {
  let known = rendered.get(names);
  if (known === undefined) {
    known = render(names);
    rendered.set(names, known);
  }
  return known;
}

function render(names: TableNames): Statements {
  const events = names.events;
  const deletions = names.streamDeletions;
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
     * (MATERIALIZED: inlined, it would run per row and wade through the rows being inserted), and
     * with it the timestamp parameter is parsed once, not per row.
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
  SELECT pg_current_xact_id() AS xid, $4::text::timestamptz AS at,
    greatest(pg_current_xact_id()::text::bigint << ${POSITION_BITS}, cur.position >> ${POSITION_BITS} << ${POSITION_BITS}) AS base
  FROM cur
), start AS MATERIALIZED (
  SELECT tx.xid, tx.at, tx.base, coalesce((SELECT max(global_position) FROM ${events}
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
    coalesce((input.value->>'c')::timestamptz, start.at)
  FROM cur, start, input, taken
  WHERE taken.ids = 0 AND NOT EXISTS (SELECT 1 FROM ${deletions} WHERE stream_id = $1) AND CASE $2::text
    WHEN 'any' THEN true
    WHEN 'no-stream' THEN cur.version = 0
    WHEN 'stream-exists' THEN cur.version > 0
    ELSE cur.version = $3::integer END
  RETURNING global_position
)
SELECT cur.version, (SELECT min(global_position) FROM ins)::text, (SELECT count(*) FROM ins)::integer, taken.ids::integer,
  (SELECT mode FROM ${deletions} WHERE stream_id = $1)
FROM cur, taken`,
    /*
     * The same append when the statement is its transaction (the store's own appends): no earlier
     * event of the transaction can hold a position, and no younger transaction's event is visible
     * (the statement's snapshot is taken before it gets its id). A bare INSERT ... SELECT ...
     * RETURNING: the version check filters the rows, so a refused append inserts and returns none,
     * and only then does {@link Statements.appendRefused} ask why. The CTE form above, with its
     * subqueries over the inserted rows, took about half as much server time again (EXPLAIN ANALYZE,
     * one event: 109 µs against 73 µs; a bare INSERT into the same table 54-60 µs).
     * `cur` is computed once (OFFSET 0 keeps the planner from pulling it up): pulled up, its stream
     * version probe ran twice (once for the check, once for the versions) and the timestamp was
     * parsed for every row, which took 10-30% more server time (pg_stat_statements, 400 interleaved
     * runs: 100 events 2.9-3.2 ms against 2.3-2.4 ms, one event 110-183 µs against 99-127 µs).
     * In the generic plan each of its four uses (the version and the three branches of the check)
     * was a lookup of its own, which PostgreSQL then estimated dearer than planning each call: on
     * row-level-security tables (whose lookups cost more in the estimate) it planned the statement
     * anew on every call, always.
     * $1 stream id, $2 expectation kind, $3 expected version, $4 timestamp, $5 events as JSON.
     */
    appendAlone: appendAlone(events, deletions, false),
    /*
     * appendAlone for one event, its fields as parameters of their own: no JSON array for the server
     * to parse into jsonb and walk, no function scan, no extraction of its fields.
     * $1 stream id, $2 expectation kind, $3 expected version, $4 timestamp, $5 event id, $6 type,
     * $7 data as JSON, $8 metadata as JSON.
     */
    appendOne: appendAlone(events, deletions, true),
    // Why an append inserted nothing: the stream's version, how many of the batch's ids are stored
    // (a retry repeats every id; ids in use refuse the batch before its expected version does, as on
    // every store), and whether the stream is deleted. Only refused appends pay for it.
    // $1 stream id, $2 the batch's ids as a JSON array.
    appendRefused: `SELECT coalesce((SELECT version FROM ${events} WHERE stream_id = $1 ORDER BY version DESC LIMIT 1), 0),
  (SELECT count(*) FROM ${events} WHERE event_id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb))))::integer,
  (SELECT mode FROM ${deletions} WHERE stream_id = $1)`,
    // Ids as a JSON array: postgres.js can only send array parameters once it has fetched the
    // server's array types, which clients made with fetch_types: false never do.
    eventsByIds: `SELECT stream_id, ${COLUMNS} FROM ${events}
  WHERE event_id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))`,
    /*
     * A soft-deleted stream reads as empty (a hard-deleted one has no rows). The page first, then
     * the columns as text, as in readAll: where the planner gathers the stream's rows by a bitmap
     * scan and sorts them (a table not analyzed since the stream grew, or a generic plan that
     * expects a short stream), the casts would otherwise run on every row from the cursor to the
     * stream's end, for every page: a 10,000-event read cast 24,000 rows (server time per page
     * 40 ms instead of a few), and took twice as long as reading the same rows from the feed.
     */
    readForward: streamPage(events, deletions, ">=", "ASC"),
    readBackward: streamPage(events, deletions, "<=", "DESC"),
    /*
     * The page first, then the reader's bound: with the bound in the index condition the planner
     * cannot estimate the range (its upper end is unknown until the statement runs) and assumes
     * 0.5% of the table, so below ~200,000 rows it chose a bitmap scan that fetched and sorted every
     * row after the cursor for each page (a 10,000-event read took seconds on an 85,000-row table).
     * Rows at or past the bound sort after every row below it, so filtering them leaves a prefix of
     * the page, and a short page ends the read as before. The bound is a subquery, so it is
     * computed once per page, not once per row (pg_current_snapshot() builds a snapshot per call).
     *
     * Soft-deleted streams are left out before the LIMIT, so a page counts only what it yields and
     * a page of hidden events alone never looks like the end (a query of their ids per read cost a
     * projection batch a round trip of its own). Their ids are gathered once per page into a hash,
     * probed by each row: unnest hides their number from the planner, which takes 10 and so always
     * hashes them and costs a probe as one comparison. A correlated NOT EXISTS, as until
     * 2026-12-05, runs hashed too, but the planner costs it as an index probe per row: while the
     * deletions table had never been analyzed (autovacuum waits for 50 changed rows, so an empty one
     * or one of a few deleted streams never is), a 9,000-row page of a 60,000-row table was
     * estimated at 136,000, past jit_above_cost, and every page was JIT-compiled (6 of its 9 ms).
     * The hash holds at most HASHED_HIDDEN ids (a hash of 300,000 took over 100 ms to build, for
     * every page): past that many (counted first, up to one more) the page is not read, the
     * statement yields one row with a NULL stream id, and the reader turns to readAllProbing. The
     * count and the ids come from migration 13's partial index of the soft-deleted streams, not a scan
     * of every deletion (a schema before it reads the same, slower).
     * Without an outer ORDER BY (a sort the planner would add above the join) the rows come in the
     * page's order: the join is a nested loop (the page refers to the outer row) over one row.
     */
    readAll: `SELECT page.stream_id, ${COLUMNS}
FROM (SELECT count(*) AS n FROM (SELECT 1 FROM ${deletions} WHERE mode = 'soft' LIMIT ${HASHED_HIDDEN + 1}) AS s) AS soft
LEFT JOIN LATERAL (
  SELECT global_position, stream_id, version, event_id, type, data, metadata, created_at FROM ${events}
  WHERE global_position > $1 AND soft.n <= ${HASHED_HIDDEN}
    AND stream_id NOT IN (SELECT unnest(ARRAY(SELECT stream_id FROM ${deletions} WHERE mode = 'soft')))
  ORDER BY global_position LIMIT $2
) AS page ON true
WHERE soft.n > ${HASHED_HIDDEN} OR page.global_position < (SELECT ${SAFE_BOUND})`,
    /*
     * The feed while more than HASHED_HIDDEN streams are soft-deleted: each row's stream probed in
     * the deletions table (hashed once per page, or by index; the planner picks by their number).
     * The first test runs once per page (streams restored since leave none to probe). As a bare
     * anti-join the planner, misled by a large deletions table, hash-joined and sorted every event
     * after the cursor for each page; inside the OR the probe stays a filter on the walk of the
     * primary key. Its estimate, an index probe per row, can pass jit_above_cost on a large table
     * (see the PostgreSQL guide's Reads).
     */
    readAllProbing: `SELECT stream_id, ${COLUMNS} FROM (
  SELECT global_position, stream_id, version, event_id, type, data, metadata, created_at FROM ${events} AS e
  WHERE global_position > $1
    AND (NOT EXISTS (SELECT 1 FROM ${deletions} WHERE mode = 'soft')
      OR NOT EXISTS (SELECT 1 FROM ${deletions} AS d WHERE d.stream_id = e.stream_id AND d.mode = 'soft'))
  ORDER BY global_position LIMIT $2
) AS page WHERE global_position < (SELECT ${SAFE_BOUND}) ORDER BY global_position`,
    streamVersion: `SELECT coalesce(max(version), 0) FROM ${events} WHERE stream_id = $1`,
    deletion: {
      // SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE every INSERT takes, and with itself.
      // Appends queue behind a waiting lock request, so the wait is bounded: past 5 s (an open
      // transaction that appended and lingers) the change fails, retryable (55P03), and appends go on.
      lockTimeout: "SET LOCAL lock_timeout = '5s'",
      lock: `LOCK TABLE ${events} IN SHARE ROW EXCLUSIVE MODE`,
      state: `SELECT coalesce((SELECT max(version) FROM ${events} WHERE stream_id = $1), 0), d.mode, d.version
  FROM (SELECT 1) AS one LEFT JOIN ${deletions} AS d ON d.stream_id = $1`,
      mark: `INSERT INTO ${deletions} (stream_id, mode, version, event_version) VALUES ($1, $2, $3, $4)
  ON CONFLICT (stream_id, tenant_id) DO UPDATE SET mode = excluded.mode, event_version = excluded.event_version,
    deleted_at = now()`,
      unmark: `DELETE FROM ${deletions} WHERE stream_id = $1`,
      removeBelow: `WITH gone AS (DELETE FROM ${events} WHERE stream_id = $1 AND version < $2 RETURNING 1)
  SELECT count(*)::integer FROM gone`,
      event: `SELECT ${COLUMNS} FROM ${events}
  WHERE stream_id = $2 AND version = (SELECT event_version FROM ${deletions} WHERE stream_id = $1)
UNION ALL (
  SELECT ${COLUMNS} FROM ${events}
  WHERE EXISTS (SELECT 1 FROM ${deletions} WHERE stream_id = $1 AND event_version IS NULL)
    AND stream_id = $2 AND type = $3 AND data->>'streamId' = $1
  ORDER BY version DESC LIMIT 1
)`,
    },
    checkpoint: {
      read: `SELECT position::text FROM ${names.checkpoints} WHERE id = $1`,
      write: `INSERT INTO ${names.checkpoints} AS c (id, position) VALUES ($1, $2::text::bigint)
  ON CONFLICT (id, tenant_id) DO UPDATE SET position = excluded.position, updated_at = now()`,
      writeIfNone: `INSERT INTO ${names.checkpoints} AS c (id, position) VALUES ($1, $2::text::bigint)
  ON CONFLICT (id, tenant_id) DO UPDATE SET position = excluded.position, updated_at = now() WHERE c.position = 0
  RETURNING 1`,
      writeIfAt: `UPDATE ${names.checkpoints} SET position = $2::text::bigint, updated_at = now()
  WHERE id = $1 AND position = $3::text::bigint RETURNING 1`,
      remove: `DELETE FROM ${names.checkpoints} WHERE id = $1`,
    },
    lastGlobalPosition: `SELECT coalesce(max(global_position), 0)::text FROM ${events} WHERE global_position < ${SAFE_BOUND}`,
    headPosition: `SELECT coalesce(max(global_position), 0)::text FROM ${events}`,
    // The head's row itself, whatever transaction is open (the feed's reads stop below one): the
    // tenant layer checks whose it is before answering getHeadPosition.
    headEvent: `SELECT stream_id, ${COLUMNS} FROM ${events} ORDER BY global_position DESC LIMIT 1`,
  };
}

/** appendAlone's insert, from the batch's JSON array, or (`one`) from one event's own parameters. */
function appendAlone(events: string, deletions: string, one: boolean): string {
  const [n, values, source] = one
    ? ["1", "$5, $6, $7::text::jsonb, $8::text::jsonb, cur.at", ""]
    : [
        "e.n",
        "e.value->>'i', e.value->>'t', e.value->'d', e.value->'m', coalesce((e.value->>'c')::timestamptz, cur.at)",
        ",\n  jsonb_array_elements($5::text::jsonb) WITH ORDINALITY AS e(value, n)",
      ];
  return `
INSERT INTO ${events} (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
SELECT (pg_current_xact_id()::text::bigint << ${POSITION_BITS}) + ${n}, pg_current_xact_id(), $1, cur.version + ${n},
  ${values}
FROM (SELECT coalesce((SELECT version FROM ${events} WHERE stream_id = $1 ORDER BY version DESC LIMIT 1), 0) AS version,
    $4::text::timestamptz AS at OFFSET 0) AS cur${source}
WHERE NOT EXISTS (SELECT 1 FROM ${deletions} WHERE stream_id = $1) AND CASE $2::text
  WHEN 'any' THEN true
  WHEN 'no-stream' THEN cur.version = 0
  WHEN 'stream-exists' THEN cur.version > 0
  ELSE cur.version = $3::integer END
RETURNING global_position::text, version`;
}
