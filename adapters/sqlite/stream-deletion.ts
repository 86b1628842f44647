import {
  checkExpectedVersion,
  type EventEnvelope,
  lifecycleEvent,
  planStreamChange,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamDeletionState,
} from "../../src/index.js";
import type { SqliteStoreContext } from "./append.js";
import type { SqliteDriver } from "./driver.js";
import { encodeBatch } from "./encode.js";
import { toEventFlowsError } from "./errors.js";

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
    const mode = row?.mode;
    const state: StreamDeletionState | undefined =
      mode === "soft" || mode === "hard" ? { mode, version: Number(row?.deleted_version ?? stored) } : undefined;
    const { action, version } = planStreamChange(change, state, stored, checkExpectedVersion);
    let removed = 0;
    const now = new Date().toISOString();
    switch (action) {
      case "none":
        return { version, removed };
      case "hide":
        all(st.deletion.mark, [streamId, "soft", version, now]);
        break;
      case "unhide":
        all(st.deletion.unmark, [streamId]);
        break;
      case "remove":
        removed = all(st.deletion.removeBelow, [streamId, 2 ** 31 - 1]).length;
        all(st.deletion.mark, [streamId, "hard", version, now]);
        break;
      case "truncate":
        removed = all(st.deletion.removeBelow, [streamId, change.before as number]).length;
        if (removed === 0) return { version, removed };
        break;
    }
    const pending = lifecycleEvent(change, version, removed);
    const [encoded] = encodeBatch([pending], context.maxEventBytes, context.maxValueBytes).rows;
    const next = Number(all(st.streamVersion, [STREAM_LIFECYCLE_STREAM])[0]?.version ?? 0) + 1;
    const [inserted] = all(st.insertOne, [STREAM_LIFECYCLE_STREAM, next, ...(encoded as readonly string[])]);
    const event: EventEnvelope = {
      id: pending.id,
      type: pending.type,
      streamId: STREAM_LIFECYCLE_STREAM,
      version: next,
      globalPosition: Number(inserted?.position),
      timestamp: pending.timestamp,
      data: pending.data,
      metadata: pending.metadata,
    };
    return { version, removed, event };
  });
}

/** The soft-deleted stream ids (one statement per `readAll`). */
export async function hiddenStreamsOf(context: SqliteStoreContext): Promise<ReadonlySet<string>> {
  try {
    const rows = await context.driver.all(context.statements.deletion.hidden);
    return new Set(rows.map((r) => String(r.stream_id)));
  } catch (error) {
    throw toEventFlowsError(error, "readAll", context.driver.name);
  }
}
