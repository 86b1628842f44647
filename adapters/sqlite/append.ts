import {
  assertUnchangedRetry,
  ConcurrencyError,
  EventCorruptError,
  type EventEnvelope,
  type ExpectedVersion,
  matchesExpectedVersion,
  type PendingEvent,
  StreamDeletedError,
  ValidationError,
} from "../../src/index.js";
import type { SqliteDriver, SqliteRow, SqliteValue } from "./driver.js";
import { assertStorableStreamId, type EncodedBatch, encodeBatch, fromRow, storedInteger } from "./encode.js";
import { failureOf, toEventFlowsError } from "./errors.js";
import { type EventStatements, MAX_ROWS_PER_INSERT } from "./statements.js";

/** What the append and read paths need from their store. */
export interface SqliteStoreContext {
  readonly driver: SqliteDriver;
  readonly statements: EventStatements;
  readonly maxEventBytes: number;
  readonly maxValueBytes: number;
  readonly readPageSize: number;
  /** Bytes of data and metadata a read page stops before passing (one larger event comes alone). */
  readonly readPageBytes: number;
}

export interface Committed {
  readonly events: readonly EventEnvelope[];
  readonly retried?: boolean;
}

/**
 * Appends the batch. Through a driver's `write` (bun:sqlite, node:sqlite), see {@link throughWrites}.
 * With only a driver `transaction` (Durable Objects), the stream's version is read and checked and
 * the rows inserted in one write transaction. Without either (D1), in one statement (see `append`
 * in statements.ts), whose NOT NULL failure is the conflict or the deletion. Either way a unique failure means ids
 * already stored, and a conflict may be a retry of a committed append (its version check fails
 * too): the ids are looked up, and a retry answered with the stored events.
 */
export async function appendEvents(
  context: SqliteStoreContext,
  streamId: string,
  events: readonly PendingEvent[],
  expected: ExpectedVersion,
): Promise<Committed> {
  assertStorableStreamId(streamId);
  const { driver } = context;
  const batch = encodeBatch(events, context.maxEventBytes, context.maxValueBytes);
  // The single-statement form sends the batch as one JSON parameter: encoded (and its size checked) first.
  if (driver.transaction === undefined) batch.json();
  let outcome: Outcome;
  try {
    outcome =
      driver.transaction === undefined
        ? await inOneStatement(context, streamId, batch, expected)
        : driver.write === undefined
          ? inTransaction(driver.transaction, context, streamId, batch, expected)
          : throughWrites(driver.write, driver.transaction, context, streamId, batch, expected);
  } catch (error) {
    const failure = failureOf(error);
    if (failure.kind === "not-null" && driver.write !== undefined) {
      outcome = await refusal(context, streamId);
    } else {
      if (failure.kind !== "unique") throw toEventFlowsError(error, "appendToStream", driver.name);
      const stored = await storedByIds(context, batch.ids);
      if (stored.length > 0) return retriedAppend(streamId, events, stored);
      if (failure.column === "id") throw idsTaken(batch.ids.length, 0);
      outcome = { conflict: undefined };
    }
  }
  if (Array.isArray(outcome)) return { events: envelopes(streamId, events, outcome as Placed) };
  if ("deleted" in outcome) throw new StreamDeletedError(streamId, outcome.deleted);
  if ("conflict" in outcome) {
    const stored = await storedByIds(context, batch.ids);
    if (stored.length > 0) return retriedAppend(streamId, events, stored);
    throw new ConcurrencyError(streamId, expected, outcome.conflict ?? (await streamVersion(context, streamId)));
  }
  return { events: envelopes(streamId, events, outcome) };
}

/** The committed batch as envelopes, each with the version and position it got. */
function envelopes(streamId: string, events: readonly PendingEvent[], placed: Placed): EventEnvelope[] {
  return events.map((event, i) => ({
    id: event.id,
    type: event.type,
    streamId,
    version: placed[i]?.version ?? 0,
    globalPosition: placed[i]?.position ?? 0,
    timestamp: event.timestamp,
    data: event.data,
    metadata: event.metadata,
  }));
}

/** Where each event of the batch went, in batch order. */
type Placed = readonly { readonly version: number; readonly position: number }[];

type Outcome = Placed | { readonly conflict: number | undefined } | { readonly deleted: "soft" | "hard" };

/** Rows of `position, version`, as RETURNING gives them (in no promised order), in version order. */
function placedFrom(rows: readonly SqliteRow[]): Placed {
  return rows
    .map((row) => ({ version: Number(row.version), position: Number(row.position) }))
    .sort((a, b) => a.version - b.version);
}

/**
 * The append through the driver's `write`: the batch as one INSERT ({@link insertRows}, in chunks of
 * {@link MAX_ROWS_PER_INSERT}), positions from its last rowid. At a known version (a number, or 0
 * for "no-stream") the INSERT checks the version and the deletion state itself, so an append of up
 * to 100 events is that one statement, with no BEGIN and COMMIT around it (a write statement holds
 * SQLite's write lock from before it reads until it commits, and is atomic). Larger batches, and
 * "any" and "stream-exists", which read the stream's state first, run in one write transaction. A
 * failed check throws (NOT NULL), writes nothing, and is told apart by {@link refusal}.
 */
function throughWrites(
  write: NonNullable<SqliteDriver["write"]>,
  transaction: NonNullable<SqliteDriver["transaction"]>,
  context: SqliteStoreContext,
  streamId: string,
  batch: EncodedBatch,
  expected: ExpectedVersion,
): Outcome {
  const { statements } = context;
  const { rows } = batch;
  const known = typeof expected === "number" ? expected : expected === "no-stream" ? 0 : undefined;
  if (known !== undefined && rows.length <= MAX_ROWS_PER_INSERT) {
    return place(write, statements, streamId, rows, known, true);
  }
  return transaction((all): Outcome => {
    if (known !== undefined) return place(write, statements, streamId, rows, known, true);
    const [state] = all(statements.deletion.state, [streamId, streamId]);
    if (state?.mode === "soft" || state?.mode === "hard") return { deleted: state.mode };
    const current = Number(state?.version ?? 0);
    if (!matchesExpectedVersion(expected, current)) return { conflict: current };
    return place(write, statements, streamId, rows, current, false);
  });
}

/**
 * Inserts the rows at versions from `base` + 1, in INSERTs of up to {@link MAX_ROWS_PER_INSERT}
 * rows, the first `checked` or not (see {@link throughWrites}). A plain function, not a closure
 * made per append, and parameters pushed one by one, not spread: this is every append's path.
 */
function place(
  write: NonNullable<SqliteDriver["write"]>,
  statements: EventStatements,
  streamId: string,
  rows: readonly (readonly string[])[],
  base: number,
  checked: boolean,
): Placed {
  const placed: { version: number; position: number }[] = [];
  for (let from = 0; from < rows.length; from += MAX_ROWS_PER_INSERT) {
    const count = Math.min(MAX_ROWS_PER_INSERT, rows.length - from);
    // A checked first row reads stream, expected, stream, stream, expected, then stream and version as every row.
    const params: SqliteValue[] = checked && from === 0 ? [streamId, base, streamId, streamId, base] : [];
    for (let i = from; i < from + count; i++) {
      const row = rows[i] as readonly string[];
      params.push(streamId, base + i + 1, row[0] as string, row[1] as string, row[2] as string);
      params.push(row[3] as string, row[4] as string);
    }
    // One statement's AUTOINCREMENT rowids are consecutive: nothing else writes while it runs.
    const first = write(statements.insertRows(count, checked && from === 0), params).lastInsertRowid - count + 1;
    for (let i = 0; i < count; i++) placed.push({ version: base + from + i + 1, position: first + i });
  }
  return placed;
}

/** Why an append's checked INSERT's check failed: the stream is deleted, or at another version. */
async function refusal(context: SqliteStoreContext, streamId: string): Promise<Outcome> {
  try {
    const [state] = await context.driver.all(context.statements.deletion.state, [streamId, streamId]);
    if (state?.mode === "soft" || state?.mode === "hard") return { deleted: state.mode };
    return { conflict: Number(state?.version ?? 0) };
  } catch (error) {
    throw toEventFlowsError(error, "appendToStream", context.driver.name);
  }
}

/**
 * The single-statement append; a failed version check, or a deleted stream, shows as a NOT NULL
 * failure, after which the stream's state is read to say which.
 */
async function inOneStatement(
  context: SqliteStoreContext,
  streamId: string,
  batch: EncodedBatch,
  expected: ExpectedVersion,
): Promise<Outcome> {
  const [kind, version] = expectation(expected);
  try {
    return placedFrom(
      await context.driver.all(context.statements.append, [
        streamId,
        kind,
        kind,
        kind,
        version,
        streamId,
        streamId,
        batch.json(),
      ]),
    );
  } catch (error) {
    if (failureOf(error).kind !== "not-null") throw error;
  }
  // Refused: the expectation did not hold or the stream is deleted. One read says which (a change
  // committed since may blur it; what was refused stays refused).
  const [state] = await context.driver.all(context.statements.deletion.state, [streamId, streamId]);
  if (state?.mode === "soft" || state?.mode === "hard") return { deleted: state.mode };
  return { conflict: Number(state?.version ?? 0) };
}

/**
 * The append in one write transaction, the lock held from its start: the stream's version read and
 * checked, then one prepared INSERT per event. Only the first and last return their position: in
 * between, AUTOINCREMENT under the held lock hands out the next numbers, and when the last is
 * exactly first + n - 1 the n increasing positions can only be consecutive. Otherwise (which SQLite
 * does not do) they are read back.
 */
function inTransaction(
  transaction: NonNullable<SqliteDriver["transaction"]>,
  context: SqliteStoreContext,
  streamId: string,
  batch: EncodedBatch,
  expected: ExpectedVersion,
): Outcome {
  const { statements } = context;
  return transaction((all) => {
    // One read, under the write lock: the stream's version and whether it is deleted (refused then).
    const [state] = all(statements.deletion.state, [streamId, streamId]);
    if (state?.mode === "soft" || state?.mode === "hard") return { deleted: state.mode };
    const current = Number(state?.version ?? 0);
    if (!matchesExpectedVersion(expected, current)) return { conflict: current };
    const { rows } = batch;
    const last = rows.length - 1;
    const at = (i: number) => [streamId, current + i + 1, ...(rows[i] as readonly string[])];
    const head = all(statements.insertOne, at(0));
    if (last === 0) return placedFrom(head);
    for (let i = 1; i < last; i++) all(statements.insertNext, at(i));
    const first = Number(head[0]?.position);
    if (Number(all(statements.insertOne, at(last))[0]?.position) - first !== last) {
      return placedFrom(all(statements.positionsOf, [streamId, current + 1, current + rows.length]));
    }
    return rows.map((_, i) => ({ version: current + i + 1, position: first + i }));
  });
}

/** An expectation as `append` binds it: its kind, and the exact version (-1 for the others). */
function expectation(expected: ExpectedVersion): [kind: string, version: number] {
  return typeof expected === "number" ? ["exact", expected] : [expected, -1];
}

async function storedByIds(context: SqliteStoreContext, ids: readonly string[]): Promise<EventEnvelope[]> {
  try {
    const rows = await context.driver.all(context.statements.eventsByIds, [JSON.stringify(ids)]);
    return rows.map(fromRow);
  } catch (error) {
    throw toEventFlowsError(error, "appendToStream", context.driver.name);
  }
}

export async function streamVersion(context: SqliteStoreContext, streamId: string): Promise<number> {
  let stored: unknown;
  try {
    const [row] = await context.driver.all(context.statements.streamVersion, [streamId]);
    stored = row?.version ?? 0;
  } catch (error) {
    throw toEventFlowsError(error, "getStreamVersion", context.driver.name);
  }
  // A version another tool wrote (past 2^53, text, a BLOB, which max() ranks above every integer) is
  // refused as a read of the stream refuses it: Number() rounded 2^53 + 1 down and answered that.
  const version = storedInteger(stored);
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new EventCorruptError(streamId, 0, "its version is not an integer from 1");
  }
  return version;
}

/**
 * Some ids of the batch are stored. If all are, in this stream, in consecutive versions, with the
 * same types and data, the batch was committed before: return it as stored. The same ids with other
 * content are refused (a client bug, like an idempotency key reused for another request); ids
 * stored elsewhere collide with other events. Metadata may differ: a retry carries its own trace.
 */
function retriedAppend(streamId: string, events: readonly PendingEvent[], stored: EventEnvelope[]): Committed {
  const byId = new Map(stored.map((event) => [event.id, event]));
  const replay = events.map((event) => byId.get(event.id));
  const complete = replay.every(
    (event, i) =>
      event !== undefined &&
      event.streamId === streamId &&
      (i === 0 || event.version === (replay[i - 1]?.version ?? 0) + 1),
  );
  if (!complete) throw idsTaken(events.length, stored.length);
  assertUnchangedRetry(events, replay as EventEnvelope[]);
  return { events: replay as EventEnvelope[], retried: true };
}

function idsTaken(total: number, stored: number): ValidationError {
  const count = stored === 0 ? "some" : `${stored} of ${total}`;
  return new ValidationError("Event ids already used", [
    { path: [], message: `${count} event ids are already stored, in another stream or another order` },
  ]);
}
