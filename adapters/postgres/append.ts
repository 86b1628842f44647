import {
  ConcurrencyError,
  type EventEnvelope,
  type ExpectedVersion,
  type PendingEvent,
  ValidationError,
} from "../../src/index.js";
import type { PostgresQueryable } from "./client.js";
import { assertStorableStreamId, type EncodedBatch, encodeBatch } from "./encode.js";
import { constraintOf, sqlState, toEventFlowsError } from "./errors.js";
import type { TableNames } from "./names.js";
import { MAX_EVENTS_PER_TRANSACTION } from "./position.js";
import { type FeedRow, fromFeedRow, toPosition } from "./rows.js";
import type { Statements } from "./statements.js";

/** What the append and read paths need from their store. */
export interface StoreContext {
  readonly names: TableNames;
  readonly statements: Statements;
  readonly maxEventBytes: number;
  readonly readPageSize: number;
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

/** How often an append outside a transaction re-runs after losing a race on (stream, version). */
const RACE_RERUNS = 10;

type AppendRow = [number, string | null, number, number];

/**
 * Appends in one statement. `alone`: the statement is its own transaction, so it can use the leaner
 * statement, and a lost race leaves nothing behind: the statement runs again to learn the stream's
 * version (and, with "any", to append after the winner). Inside a transaction the failed statement
 * has aborted it, and the ConcurrencyError reports the version that was taken.
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
  const batch = encodeBatch(events, context.maxEventBytes);
  const [kind, version] = typeof expected === "number" ? ["exact", expected] : [expected, 0];
  const timestamp = events[0]?.timestamp ?? new Date().toISOString();
  for (let attempt = 0; ; attempt++) {
    let row: AppendRow | undefined;
    try {
      [row] = (await sql
        .unsafe(
          alone ? context.statements.appendAlone : context.statements.append,
          [streamId, kind, version, timestamp, batch.json, batch.ids[0] ?? ""],
          {
            prepare: true,
          },
        )
        .values()) as unknown as AppendRow[];
    } catch (error) {
      const constraint = sqlState(error) === "23505" ? constraintOf(error) : undefined;
      if (constraint === context.names.constraints.eventId) {
        if (alone) return retriedAppend(sql, context, streamId, batch);
        throw idsTaken(batch.ids.length, undefined);
      }
      if (constraint === context.names.constraints.streamVersion) {
        if (alone && attempt < RACE_RERUNS) continue;
        const lost = new ConcurrencyError(streamId, expected, takenVersion(error, expected), {
          cause: toEventFlowsError(error, "appendToStream"),
        });
        lostRaces.add(lost);
        throw lost;
      }
      if (sqlState(error) === "23502") throw tooManyInTransaction(events.length);
      throw toEventFlowsError(error, "appendToStream");
    }
    if (row === undefined) throw new Error("the append statement returned no row");
    const [current, first, inserted, idsAlreadyStored] = row;
    if (idsAlreadyStored > 0) return retriedAppend(sql, context, streamId, batch);
    if (inserted === 0 || first === null) throw new ConcurrencyError(streamId, expected, current);
    const start = toPosition(first);
    return {
      events: events.map((event, i) => ({
        id: event.id,
        type: event.type,
        streamId,
        version: current + i + 1,
        globalPosition: start + i,
        timestamp,
        data: event.data,
        metadata: event.metadata,
      })),
    };
  }
}

/**
 * Some ids of the batch are stored. If all are, in this stream, in this order, the batch was
 * committed before: return it as stored. Otherwise the ids collide with other events.
 */
async function retriedAppend(
  sql: PostgresQueryable,
  context: StoreContext,
  streamId: string,
  batch: EncodedBatch,
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
  if (complete) return { events: replay as EventEnvelope[], retried: true };
  throw idsTaken(batch.ids.length, stored.size);
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

/** The version the winner of a race wrote, from the server's detail ("Key (stream_id, version)=(…, 7)"). */
function takenVersion(error: unknown, expected: ExpectedVersion): number {
  const detail = (error as { detail?: unknown }).detail;
  const match = typeof detail === "string" ? /, (\d+)\) already exists/.exec(detail) : null;
  if (match?.[1] !== undefined) return Number(match[1]);
  return typeof expected === "number" ? expected + 1 : 1;
}
