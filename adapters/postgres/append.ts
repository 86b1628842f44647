import {
  assertUnchangedRetry,
  ConcurrencyError,
  checkExpectedVersion,
  type EventEnvelope,
  type ExpectedVersion,
  type PendingEvent,
  ServiceError,
  StreamDeletedError,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { assertStorableStreamId, type EncodedBatch, encodeBatch } from "./encode.js";
import { constraintOf, guardReconnecting, isLostConnection, SERVICE, sqlState, toEventFlowsError } from "./errors.js";
import type { TableNames } from "./names.js";
import { MAX_EVENTS_PER_TRANSACTION, MAX_VERSION } from "./position.js";
import { type FeedRow, fromFeedRow, toPosition } from "./rows.js";
import type { Statements } from "./statements.js";

/** What the append and read paths need from their store. */
export interface StoreContext {
  readonly names: TableNames;
  readonly statements: Statements;
  readonly maxEventBytes: number;
  readonly readPageSize: number;
  /**
   * Whether a feed page found more soft-deleted streams than it hashes: this store's later pages
   * then run readAllProbing at once, instead of counting first (a stream restored or hard-deleted
   * through it clears the mark; one changed elsewhere leaves it, which costs speed, not correctness).
   */
  readonly feed: { probing: boolean };
}

export interface Committed {
  readonly events: readonly EventEnvelope[];
  readonly retried?: boolean;
}

const lostRaces = new WeakSet<object>();

/**
 * Whether a ConcurrencyError came from losing a race inside a transaction (another append took the
 * version after this statement's snapshot): running the whole transaction again gives the answer.
 */
export function isLostRace(error: unknown): boolean {
  return typeof error === "object" && error !== null && lostRaces.has(error);
}

/** The in-transaction append's answer: the version it saw, the first position, events inserted, ids already stored, deletion mode. */
type AppendRow = [number, string | null, number, number, DeletionMode];
/** The stream's deletion mode, NULL while it is live. */
type DeletionMode = "soft" | "hard" | null;
/** One row per event appendAlone inserted: its position (bigint text) and version. */
type InsertedRow = [string, number];

/**
 * Appends in one statement. `alone`: the statement is its own transaction, so it can use the leaner
 * statement (a refused append then takes a second one, to learn the stream's version or find the
 * batch stored by an earlier try), and a lost race leaves nothing behind: the statement runs again to learn the stream's
 * version (and, with "any" or "stream-exists", to append after the winner). It runs again as often
 * as it loses, which ends: the unique key fails a statement only once the winner has committed, so
 * every lost race is another append stored. Inside a transaction the failed statement has aborted
 * it, and the ConcurrencyError (marked as a lost race) carries the least version the stream can be
 * at; callers that can read after the rollback replace it with the stream's version.
 */
export async function appendEvents(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  events: readonly PendingEvent[],
  expected: ExpectedVersion,
  alone: boolean,
): Promise<Committed> {
  assertStorableStreamId(streamId);
  const timestamp = events[0]?.timestamp ?? new Date().toISOString();
  const batch = encodeBatch(events, context.maxEventBytes, undefined, timestamp);
  // No stream is past MAX_VERSION (an integer column), so a higher expectation is a conflict: the
  // statement gets -1, a version no stream is at, refuses the append and reports the stream's own.
  const [kind, version] =
    typeof expected === "number" ? ["exact", expected > MAX_VERSION ? -1 : expected] : [expected, 0];
  // Alone, the statement is idempotent by its event ids: it runs again on another connection while
  // the one it ran on turns out lost (see attemptsOn), and a batch it then finds stored is this
  // call's own commit, made before the connection went.
  let attempts = alone ? attemptsOn(sql) : 1;
  let reconnected = false;
  for (;;) {
    let rows: AppendRow[] | InsertedRow[];
    try {
      const [statement, parameters] = appendStatement(
        context.statements,
        alone,
        batch,
        events,
        streamId,
        kind,
        version,
        timestamp,
      );
      rows = (await sql.unsafe(statement, parameters, { prepare: true }).values()) as unknown as
        | AppendRow[]
        | InsertedRow[];
    } catch (error) {
      if (isLostConnection(error) && --attempts > 0) {
        reconnected = true;
        continue;
      }
      const constraint = sqlState(error) === "23505" ? constraintOf(error) : undefined;
      if (constraint === context.names.constraints.eventId) {
        if (alone) return ownCommit(await retriedAppend(sql, context, streamId, batch, events), reconnected);
        throw idsTaken(batch.ids.length, undefined);
      }
      // The primary key: two transactions took their positions from one younger block (see append in statements.ts).
      if (constraint === context.names.constraints.streamVersion || constraint === context.names.constraints.position) {
        if (alone) continue;
        const lost = new ConcurrencyError(streamId, expected, leastVersionAfterLoss(expected), {
          cause: toEventFlowsError(error, "appendToStream"),
        });
        lostRaces.add(lost);
        throw lost;
      }
      if (sqlState(error) === "23502") throw tooManyInTransaction(events.length);
      throw toEventFlowsError(error, "appendToStream");
    }
    let current: number;
    let start: number;
    if (alone) {
      const inserted = rows as InsertedRow[];
      let first = inserted[0];
      if (first === undefined) {
        // Refused by the version check: a retry of a stored batch, or a conflict.
        const [actual, idsStored, deleted] = await refusal(sql, context, streamId, batch);
        if (deleted !== null) throw new StreamDeletedError(streamId, deleted);
        if (idsStored > 0) return ownCommit(await retriedAppend(sql, context, streamId, batch, events), reconnected);
        // Throws the conflict; returns when another append moved the stream to the expected version
        // after the refused statement ran, and the append runs again.
        checkExpectedVersion(streamId, expected, actual);
        continue;
      }
      for (const row of inserted) if (row[1] < first[1]) first = row;
      current = first[1] - 1;
      start = toPosition(first[0]);
    } else {
      const row = (rows as AppendRow[])[0];
      if (row === undefined) {
        throw new ServiceError(SERVICE, "appendToStream", "NO_ROW", false, "the append statement returned no row");
      }
      const [seen, first, inserted, idsAlreadyStored, deleted] = row;
      if (deleted !== null && inserted === 0) throw new StreamDeletedError(streamId, deleted);
      if (idsAlreadyStored > 0)
        return ownCommit(await retriedAppend(sql, context, streamId, batch, events), reconnected);
      if (inserted === 0 || first === null) {
        // The statement looked at the first id only; a later one in use refuses the batch as on
        // every store (before its expected version), and a batch stored in full is a retry.
        if (batch.ids.length > 1 && (await refusal(sql, context, streamId, batch))[1] > 0) {
          return ownCommit(await retriedAppend(sql, context, streamId, batch, events), reconnected);
        }
        throw new ConcurrencyError(streamId, expected, seen);
      }
      current = seen;
      start = toPosition(first);
    }
    return {
      events: events.map((event, i) => ({
        id: event.id,
        type: event.type,
        streamId,
        version: current + i + 1,
        globalPosition: start + i,
        timestamp: event.timestamp,
        data: event.data,
        metadata: event.metadata,
      })),
    };
  }
}

/**
 * The statement for this append and its parameters: inside a transaction the CTE form; alone, one
 * event's fields as parameters of their own (appendOne), or the batch as one JSON array.
 */
function appendStatement(
  statements: Statements,
  alone: boolean,
  batch: EncodedBatch,
  events: readonly PendingEvent[],
  streamId: string,
  kind: string,
  version: number,
  timestamp: string,
): [string, (string | number)[]] {
  if (!alone) return [statements.append, [streamId, kind, version, timestamp, batch.json, batch.ids[0] ?? ""]];
  const [first] = events;
  if (batch.one === undefined || first === undefined)
    return [statements.appendAlone, [streamId, kind, version, timestamp, batch.json]];
  const [data, metadata] = batch.one;
  return [statements.appendOne, [streamId, kind, version, timestamp, first.id, first.type, data, metadata]];
}

/** Why an append inserted nothing: the stream's version now, how many of the batch's ids are stored, whether it is deleted. */
async function refusal(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  batch: EncodedBatch,
): Promise<[number, number, DeletionMode]> {
  return guardReconnecting("appendToStream", attemptsOn(sql), async () => {
    const [row] = (await sql
      .unsafe(context.statements.appendRefused, [streamId, JSON.stringify(batch.ids)], { prepare: true })
      .values()) as unknown as [[number, number, DeletionMode]];
    return row;
  });
}

/**
 * Some ids of the batch are stored. If all are, in this stream, in this order, with the same types
 * and data, the batch was committed before: return it as stored. The same ids with other content
 * are a client bug (like an idempotency key reused for another request) and are refused; ids stored
 * elsewhere collide with other events. Metadata may differ: a retry carries its own trace context.
 */
async function retriedAppend(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  batch: EncodedBatch,
  events: readonly PendingEvent[],
): Promise<Committed> {
  let rows: FeedRow[];
  try {
    rows = (await sql
      .unsafe(context.statements.eventsByIds, [JSON.stringify(batch.ids)], { prepare: true })
      .values()) as unknown as FeedRow[];
  } catch (error) {
    throw toEventFlowsError(error, "appendToStream");
  }
  const stored = new Map(rows.map((row) => [row[3], fromFeedRow(row)]));
  const replay = batch.ids.map((id) => stored.get(id));
  const complete = replay.every(
    (event, i) =>
      event !== undefined &&
      event.streamId === streamId &&
      (i === 0 || event.version === (replay[i - 1]?.version ?? 0) + 1),
  );
  if (!complete) throw idsTaken(batch.ids.length, stored.size);
  assertUnchangedRetry(events, replay as EventEnvelope[]);
  return { events: replay as EventEnvelope[], retried: true };
}

/**
 * After a lost connection was retried, a stored batch may be this very call's commit, which was
 * never published: report it as committed now, so it is published (at least once) rather than never.
 */
function ownCommit(committed: Committed, reconnected: boolean): Committed {
  return reconnected ? { events: committed.events } : committed;
}

function idsTaken(total: number, stored: number | undefined): ValidationError {
  const count = stored === undefined ? "some" : `${stored} of ${total}`;
  return new ValidationError("Event ids already used", [
    { path: [], message: `${count} event ids are already stored, in another stream or another order` },
  ]);
}

function tooManyInTransaction(count: number): ValidationError {
  return new ValidationError("Too many events in one transaction", [
    {
      path: [],
      message: `appending ${count} more event(s) would exceed ${MAX_EVENTS_PER_TRANSACTION} events in one transaction`,
    },
  ]);
}

/**
 * What a lost race inside a transaction proves about the stream without asking it (the transaction
 * has aborted): the winner stored at least the first version this append wanted. Never read from
 * the server's message, which quotes the stream id, user data.
 */
function leastVersionAfterLoss(expected: ExpectedVersion): number {
  return typeof expected === "number" ? expected + 1 : 1;
}
