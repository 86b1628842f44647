import type { SqliteTableNames } from "./names.js";

export interface EventStatements {
  readonly append: string;
  readonly insertOne: string;
  readonly insertNext: string;
  /** An INSERT of `rows` rows (at most {@link MAX_ROWS_PER_INSERT}), `checked` or not: see {@link insertRows}. */
  readonly insertRows: (rows: number, checked: boolean) => string;
  readonly positionsOf: string;
  readonly eventsByIds: string;
  readonly readForward: string;
  readonly readBackward: string;
  readonly readAll: string;
  readonly streamVersion: string;
  readonly lastPosition: string;
  /** Stream deletion (see stream-deletion.ts). */
  readonly deletion: {
    /** The stream's stored version and deletion state: stream id twice. Also what a transaction's append checks. */
    readonly state: string;
    readonly mark: string;
    readonly unmark: string;
    /** Deletes a stream's rows below a version: stream, version. Returns no rows (a long stream's would all come back). */
    readonly removeBelow: string;
    /** How many rows {@link removeBelow} removes: stream, version. */
    readonly countBelow: string;
    /**
     * For drivers without `transaction` (D1): the stream's state as a batched change is planned from
     * it, with its row count and the rows below a version. Truncation's `before`, stream three times.
     */
    readonly observe: string;
    /**
     * For drivers without `transaction`: the lifecycle event's INSERT, first statement of the change's
     * batch, guarded by the state the change was planned from (see stream-deletion.ts).
     */
    readonly recordIf: string;
    /**
     * The `$streams` version of the stream's `$stream-deleted` event while it is deleted (no row when
     * it is not): `$streams`, `$stream-deleted`, stream, stream. The deletion row records it; only a
     * row of a release before migration 6 (none recorded) has it found by reading `$streams`.
     */
    readonly eventVersion: string;
  };
}

const COLUMNS = "position, stream_id, version, id, type, data, metadata, timestamp";

/**
 * One page of a read: the rows `where` selects, in `order`, at most `limit` of them, and fewer where
 * their data and metadata (UTF-8 bytes, as stored) would pass `budget`: the page ends before the row
 * that would pass it, except that a first row larger than the budget comes alone. So a page holds a
 * bounded number of bytes whatever the events' sizes (1,000 events of 1 MiB would otherwise be 1 GB
 * in one answer).
 *
 * `octet_length` of a column is read from the row's header, without loading the value (SQLite
 * 3.43+), so measuring the page costs no read of its contents. `s` (computed once) holds the rows
 * available up to `limit` and their bytes; only a page over the budget pays for the running sum
 * that finds where it ends. Each row carries `available` (the rows `s` counted): a page shorter than
 * that was cut by the budget, and the rows after it are still to read.
 *
 * Parameters (plain `?`, which every driver binds): `where`'s, limit; `where`'s and `extra`'s;
 * budget; `where`'s, limit, budget.
 */
function pageRead(n: SqliteTableNames, where: string, order: string, extra: string): string {
  const bytes = "octet_length(data) + octet_length(metadata)";
  return `WITH s AS MATERIALIZED (SELECT count(*) AS c, coalesce(sum(b), 0) AS t
  FROM (SELECT ${bytes} AS b FROM ${n.events} WHERE ${where} ORDER BY ${order} LIMIT ?))
SELECT ${COLUMNS}, (SELECT c FROM s) AS available FROM ${n.events} WHERE ${where} ${extra}
ORDER BY ${order}
LIMIT (SELECT CASE WHEN t <= ? THEN c ELSE max(1, (SELECT count(*) FROM (
  SELECT sum(${bytes}) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) AS upto
  FROM ${n.events} WHERE ${where} ORDER BY ${order} LIMIT ?) WHERE upto <= ?)) END FROM s)`;
}

/**
 * Most rows one INSERT of {@link insertRows} carries; a larger batch takes several, in one
 * transaction. Every count up to it is its own statement text, prepared once and cached by the
 * driver, so this also bounds how many the drivers keep (SQLite binds up to 32,766 parameters).
 */
export const MAX_ROWS_PER_INSERT = 100;

/**
 * One INSERT of `rows` events of one stream, for drivers with `write`. Parameters, plain `?` (numbered
 * `?NNN` ones bind in time growing with their count on node:sqlite: 100 rows took 2.8 times as
 * long): per row stream, version, id, type, data JSON, metadata JSON, timestamp; a `checked` first
 * row takes stream, expected version, stream, stream, expected version before those (the stream
 * then stands in the deletion probe, its version after THEN). One statement for the whole batch: each statement SQLite runs
 * costs more than the rows it adds (measured on bun:sqlite, one INSERT of 10 rows 28% faster than
 * ten of one, 100 rows 21%). Rows go in in the order listed, so positions follow versions.
 *
 * `checked`, the first row's version is NULL, so the NOT NULL constraint fails and nothing is
 * written, unless the stream is not deleted and holds the expected version _v_ (for 0, no row at
 * all). With the (stream_id, version) key refusing _v_ + 1 when it is taken, and a stream's
 * versions one unbroken range (appends add at the top, truncation removes from the bottom), that is
 * exactly "the stream is at _v_": an append at a known version is this one statement, atomic on its
 * own, with no BEGIN and COMMIT. Single index probes, not max(version), which measured 10 µs slower
 * inside an INSERT (a one-row INSERT is ~18 µs on bun:sqlite).
 */
export function insertRows(n: SqliteTableNames, rows: number, checked: boolean): string {
  const row = "(?, ?, ?, ?, ?, ?, ?)";
  const first = checked
    ? `(?, CASE WHEN (CASE WHEN ? = 0 THEN NOT EXISTS (SELECT 1 FROM ${n.events} WHERE stream_id = ?)
    ELSE EXISTS (SELECT 1 FROM ${n.events} WHERE stream_id = ? AND version = ?) END)
  AND NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} WHERE stream_id = ?) THEN ? END, ?, ?, ?, ?, ?)`
    : row;
  return `INSERT INTO ${n.events} (stream_id, version, id, type, data, metadata, timestamp) VALUES
${[first, ...Array.from({ length: rows - 1 }, () => row)].join(",\n")}`;
}

/** {@link insertRows}, each text built once. */
function insertRowsCache(n: SqliteTableNames): (rows: number, checked: boolean) => string {
  const built = new Map<number, string>();
  return (rows, checked) => {
    const key = checked ? -rows : rows;
    let sql = built.get(key);
    if (sql === undefined) {
      sql = insertRows(n, rows, checked);
      built.set(key, sql);
    }
    return sql;
  };
}

export function eventStatements(n: SqliteTableNames): EventStatements {
  return {
    /*
     * Parameters: stream, the expectation's kind three times, its version, stream twice more, then the
     * batch as one JSON array of [id, type, data JSON, metadata JSON, timestamp] (one parameter
     * whatever the batch size: D1 binds at most 100). `->>` (SQLite 3.38+) reads an element as SQL
     * text; D1, Durable Objects, Bun and Node 22 all ship a newer SQLite.
     *
     * For drivers without `transaction` (D1): one statement, so atomic. `head` reads the stream's version and yields it as
     * the base only when the expectation holds and the stream is not deleted, NULL otherwise, and a NULL version fails the NOT NULL
     * constraint, which rolls the whole statement back (that failure is how a conflict shows). A
     * write statement takes SQLite's write lock before it reads, so no other append can move the
     * stream between the check and the insert. Rows go in in batch order, so positions follow
     * versions: stream order is feed order.
     */
    append: `INSERT INTO ${n.events} (stream_id, version, id, type, data, metadata, timestamp)
SELECT ?, head.base + j.key + 1,
  j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4
FROM (
  SELECT CASE WHEN (? = 'any' OR (? = 'no-stream' AND cur = 0) OR (? = 'stream-exists' AND cur > 0) OR cur = ?)
    AND NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} WHERE stream_id = ?) THEN cur END AS base
  FROM (SELECT coalesce(max(version), 0) AS cur FROM ${n.events} WHERE stream_id = ?)
) AS head, json_each(?) AS j
ORDER BY j.key
RETURNING position, version`,
    /*
     * Inside a driver's transaction, once the stream's version is checked there, each event is one
     * prepared INSERT (stream, version, id, type, data JSON, metadata JSON, timestamp): measured
     * 20-30% faster for batches of 10 and 100 than one json_each statement on bun:sqlite and
     * node:sqlite, whose JSON-in-JSON text costs more to build and to parse than the calls. Folding
     * the version check into the first INSERT (as INSERT … SELECT, or as a scalar subquery in
     * VALUES) measured slower on bun:sqlite than the separate read and INSERT: 16-23 µs against 9.
     * insertOne returns the row's position (first and last event); insertNext, for the others, none.
     */
    insertOne: `INSERT INTO ${n.events} (stream_id, version, id, type, data, metadata, timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?)
RETURNING position, version`,
    insertNext: `INSERT INTO ${n.events} (stream_id, version, id, type, data, metadata, timestamp)
VALUES (?, ?, ?, ?, ?, ?, ?)`,
    insertRows: insertRowsCache(n),
    /* Stream, lowest and highest version: those rows' positions, in version order. */
    positionsOf: `SELECT position, version FROM ${n.events} WHERE stream_id = ? AND version BETWEEN ? AND ? ORDER BY version`,
    eventsByIds: `SELECT ${COLUMNS} FROM ${n.events} WHERE id IN (SELECT value FROM json_each(?))`,
    // A soft-deleted stream reads as empty (a hard-deleted one has no rows). Pages bounded in rows
    // and bytes: see pageRead for the parameters.
    readForward: pageRead(
      n,
      "stream_id = ? AND version >= ?",
      "version",
      `AND NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} WHERE stream_id = ?)`,
    ),
    readBackward: pageRead(
      n,
      "stream_id = ? AND version <= ?",
      "version DESC",
      `AND NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} WHERE stream_id = ?)`,
    ),
    // Soft-deleted streams' events are passed by in the statement, page by page (a stream soft-deleted
    // while a read runs is hidden from its next page on, as on PostgreSQL). The first EXISTS is not
    // correlated: SQLite evaluates it once where it stands (three times a page: the statement reads the
    // page three times, see pageRead), not per row, from the partial index of migration 7; and
    // while no stream is soft-deleted it settles the OR for every row, so the per-row probe of the
    // deletions' key, ~13% of a feed read, runs only while one is. Before, each readAll asked first
    // in a statement of its own (a round trip more on D1) and kept its answer for every page.
    readAll: pageRead(
      n,
      `position > ? AND (NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} WHERE mode = 'soft')
    OR NOT EXISTS (SELECT 1 FROM ${n.streamDeletions} AS d WHERE d.stream_id = ${n.events}.stream_id AND d.mode = 'soft'))`,
      "position",
      "",
    ),
    streamVersion: `SELECT coalesce(max(version), 0) AS version FROM ${n.events} WHERE stream_id = ?`,
    lastPosition: `SELECT coalesce(max(position), 0) AS position FROM ${n.events}`,
    deletion: {
      state: `SELECT coalesce((SELECT max(version) FROM ${n.events} WHERE stream_id = ?), 0) AS version,
  d.mode AS mode, d.version AS deleted_version
  FROM (SELECT 1) AS one LEFT JOIN ${n.streamDeletions} AS d ON d.stream_id = ?`,
      // After the change's $stream-deleted event: the newest of $streams (the last parameter), whose
      // version the row records. SQLite's single writer (or the batch's transaction) lets no other in between.
      mark: `INSERT INTO ${n.streamDeletions} (stream_id, mode, version, deleted_at, event_version)
  VALUES (?, ?, ?, ?, (SELECT max(version) FROM ${n.events} WHERE stream_id = ?))
  ON CONFLICT (stream_id) DO UPDATE SET mode = excluded.mode, deleted_at = excluded.deleted_at,
    event_version = excluded.event_version`,
      unmark: `DELETE FROM ${n.streamDeletions} WHERE stream_id = ?`,
      eventVersion: `SELECT CASE WHEN d.event_version IS NOT NULL THEN d.event_version ELSE (
    SELECT max(version) FROM ${n.events} WHERE stream_id = ? AND type = ? AND json_extract(data, '$.streamId') = ?
  ) END AS version
  FROM ${n.streamDeletions} AS d WHERE d.stream_id = ?`,
      removeBelow: `DELETE FROM ${n.events} WHERE stream_id = ? AND version < ?`,
      countBelow: `SELECT count(*) AS n FROM ${n.events} WHERE stream_id = ? AND version < ?`,
      observe: `SELECT coalesce(max(version), 0) AS version, count(*) AS events, coalesce(sum(version < ?), 0) AS below,
  (SELECT mode FROM ${n.streamDeletions} WHERE stream_id = ?) AS mode,
  (SELECT version FROM ${n.streamDeletions} WHERE stream_id = ?) AS deleted_version
  FROM ${n.events} WHERE stream_id = ?`,
      /*
       * Parameters: the lifecycle stream twice; the event's id, type, data, metadata and timestamp; the
       * state planned from: version, row count, stream, mode, stream, deleted version (mode and deleted
       * version NULL for a stream not deleted); the stream once more. When the stream still is as observed, the event takes the lifecycle
       * stream's next version; otherwise its version is NULL, which fails the NOT NULL constraint and
       * with it the whole batch (nothing of the change is written). The row count catches a concurrent
       * truncation, which leaves the version as it was.
       */
      recordIf: `INSERT INTO ${n.events} (stream_id, version, id, type, data, metadata, timestamp)
SELECT ?, CASE WHEN s.matches THEN (SELECT coalesce(max(version), 0) + 1 FROM ${n.events} WHERE stream_id = ?) END,
  ?, ?, ?, ?, ?
FROM (
  SELECT coalesce(max(version), 0) = ? AND count(*) = ?
    AND (SELECT mode FROM ${n.streamDeletions} WHERE stream_id = ?) IS ?
    AND (SELECT version FROM ${n.streamDeletions} WHERE stream_id = ?) IS ? AS matches
  FROM ${n.events} WHERE stream_id = ?
) AS s
RETURNING position, version`,
    },
  };
}
