import {
  checkExpectedVersion,
  type EventEnvelope,
  lifecycleEvent,
  planStreamChange,
  ServiceError,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamDeletionState,
} from "../../src/index.js";
import type { SqliteStoreContext } from "./append.js";
import type { SqliteDriver, SqliteRow, SqliteStatement } from "./driver.js";
import { encodeBatch } from "./encode.js";
import { failureOf, SERVICE } from "./errors.js";

/**
 * Commits a deletion, restore or truncation in one write transaction of the driver: SQLite's single
 * writer holds every append off from the read of the stream's state to the commit, so the decision
 * (`planStreamChange`) and the writes, the lifecycle event in `$streams` included, are one step.
 */
export function commitStreamChangeIn(
  transaction: NonNullable<SqliteDriver["transaction"]>,
  context: SqliteStoreContext,
  change: StreamChange,
): StreamChangeCommit {
  const st = context.statements;
  const { streamId } = change;
  return transaction((all) => {
    const [row] = all(st.deletion.state, [streamId, streamId]);
    const stored = Number(row?.version ?? 0);
    const { action, version } = planStreamChange(change, deletionStateOf(row, stored), stored, checkExpectedVersion);
    let removed = 0;
    const now = new Date().toISOString();
    // Counted, then deleted: a DELETE … RETURNING would bring every removed row into memory.
    const removeBelow = (bound: number) => {
      const count = Number(all(st.deletion.countBelow, [streamId, bound])[0]?.n ?? 0);
      if (count > 0) all(st.deletion.removeBelow, [streamId, bound]);
      return count;
    };
    switch (action) {
      case "none":
        return { version, removed };
      case "unhide":
        all(st.deletion.unmark, [streamId]);
        break;
      case "remove":
        removed = removeBelow(2 ** 31 - 1);
        break;
      case "truncate":
        removed = removeBelow(change.before as number);
        if (removed === 0) return { version, removed };
        break;
    }
    const pending = lifecycleEvent(change, version, removed);
    const [encoded] = encodeBatch([pending], context.maxEventBytes, context.maxValueBytes).rows;
    const next = Number(all(st.streamVersion, [STREAM_LIFECYCLE_STREAM])[0]?.version ?? 0) + 1;
    const [inserted] = all(st.insertOne, [STREAM_LIFECYCLE_STREAM, next, ...(encoded as readonly string[])]);
    // After the event: the row records where it is (streamDeletionEvent reads it by key).
    if (action === "hide" || action === "remove") {
      all(st.deletion.mark, [streamId, action === "hide" ? "soft" : "hard", version, now, STREAM_LIFECYCLE_STREAM]);
    }
    return { version, removed, event: recorded(pending, inserted) };
  });
}

/** Attempts of a batched change whose stream moved between its read and its batch, before giving up. */
export const BATCHED_CHANGE_ATTEMPTS = 8;

/**
 * Commits a deletion, restore or truncation without an interactive transaction (D1), as one
 * `batch()`, which D1 runs as one transaction. The stream's state is read first and the change
 * planned from it (`planStreamChange`), as in a transaction; the batch then opens with the lifecycle
 * event's INSERT, guarded in SQL by that same state (version, row count, deletion mode and version):
 * if an append or another change moved the stream in between, the guard fails the INSERT's NOT NULL
 * constraint, the whole batch rolls back, and the change is planned again from the new state. What
 * commits was therefore decided on the state it commits over, as the transactional form's is.
 */
export async function commitStreamChangeInBatch(
  context: SqliteStoreContext,
  change: StreamChange,
): Promise<StreamChangeCommit> {
  const st = context.statements;
  const { streamId } = change;
  const before = change.kind === "truncate" ? (change.before as number) : 0;
  for (let attempt = 1; attempt <= BATCHED_CHANGE_ATTEMPTS; attempt++) {
    const [row] = await context.driver.all(st.deletion.observe, [before, streamId, streamId, streamId]);
    const stored = Number(row?.version ?? 0);
    const state = deletionStateOf(row, stored);
    const { action, version } = planStreamChange(change, state, stored, checkExpectedVersion);
    const removed =
      action === "remove" ? Number(row?.events ?? 0) : action === "truncate" ? Number(row?.below ?? 0) : 0;
    if (action === "none" || (action === "truncate" && removed === 0)) return { version, removed };
    const pending = lifecycleEvent(change, version, removed);
    const [encoded] = encodeBatch([pending], context.maxEventBytes, context.maxValueBytes).rows;
    const guard = [stored, Number(row?.events ?? 0), streamId, state?.mode ?? null];
    const record: SqliteStatement = {
      sql: st.deletion.recordIf,
      params: [
        STREAM_LIFECYCLE_STREAM,
        STREAM_LIFECYCLE_STREAM,
        ...(encoded as readonly string[]),
        ...guard,
        streamId,
        row?.mode === "soft" || row?.mode === "hard" ? Number(row.deleted_version) : null,
        streamId,
      ],
    };
    const now = new Date().toISOString();
    const writes: SqliteStatement[] =
      action === "hide"
        ? [{ sql: st.deletion.mark, params: [streamId, "soft", version, now, STREAM_LIFECYCLE_STREAM] }]
        : action === "unhide"
          ? [{ sql: st.deletion.unmark, params: [streamId] }]
          : action === "remove"
            ? [
                { sql: st.deletion.removeBelow, params: [streamId, 2 ** 31 - 1] },
                { sql: st.deletion.mark, params: [streamId, "hard", version, now, STREAM_LIFECYCLE_STREAM] },
              ]
            : [{ sql: st.deletion.removeBelow, params: [streamId, before] }];
    try {
      const [inserted] = await context.driver.batch([record, ...writes]);
      return { version, removed, event: recorded(pending, inserted?.[0]) };
    } catch (error) {
      // The guard failed: the stream moved since it was read. Anything else is the database's failure.
      if (failureOf(error).kind !== "not-null") throw error;
    }
  }
  throw new ServiceError(
    SERVICE,
    changeOperation(change),
    "CONTENDED",
    true,
    `the stream changed under each of ${BATCHED_CHANGE_ATTEMPTS} attempts: retry later`,
  );
}

/** The store method a change comes from, as its errors name it. */
export function changeOperation(change: StreamChange): "deleteStream" | "restoreStream" | "truncateStream" {
  return change.kind === "truncate" ? "truncateStream" : change.kind === "restore" ? "restoreStream" : "deleteStream";
}

/** The deletion state of a stream's state row (`state` or `observe`). */
function deletionStateOf(row: SqliteRow | undefined, stored: number): StreamDeletionState | undefined {
  const mode = row?.mode;
  return mode === "soft" || mode === "hard" ? { mode, version: Number(row?.deleted_version ?? stored) } : undefined;
}

/** The lifecycle event as stored in `$streams`, from its INSERT's returned row. */
function recorded(pending: ReturnType<typeof lifecycleEvent>, inserted: SqliteRow | undefined): EventEnvelope {
  return {
    id: pending.id,
    type: pending.type,
    streamId: STREAM_LIFECYCLE_STREAM,
    version: Number(inserted?.version),
    globalPosition: Number(inserted?.position),
    timestamp: pending.timestamp,
    data: pending.data,
    metadata: pending.metadata,
  };
}
