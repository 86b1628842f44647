import {
  checkExpectedVersion,
  lifecycleEvent,
  planStreamChange,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamDeletionState,
  ValidationError,
} from "../../src/index.js";
import { appendEvents, type StoreContext } from "./append.js";
import type { PostgresQueryable } from "./client.js";
import { sqlState } from "./errors.js";

type StateRow = [number, "soft" | "hard" | null, number | null];

/**
 * Commits a deletion, restore or truncation in the transaction `tx`: locks the events table against
 * appends (see `deletion.lock`), reads the stream's state, decides (`planStreamChange`), writes,
 * and appends the lifecycle event to `$streams`, which the transaction's commit makes visible with
 * the change. Appends wait for the commit (milliseconds: one stream's rows), then see the deletion.
 */
export async function commitStreamChangeIn(
  tx: PostgresQueryable,
  context: StoreContext,
  change: StreamChange,
  ownTransaction: boolean,
): Promise<StreamChangeCommit> {
  const st = context.statements.deletion;
  const { streamId } = change;
  // The application's own transaction keeps its settings; the store's bounds its wait.
  if (ownTransaction) await tx.unsafe(st.lockTimeout);
  try {
    await tx.unsafe(st.lock);
  } catch (error) {
    // 25P01: a reserved connection given as `sql` with no transaction open on it. The change joins the
    // application's transaction, and there is none to join.
    if (sqlState(error) !== "25P01") throw error;
    throw new ValidationError("This store runs on a reserved connection with no transaction open", [
      {
        path: ["sql"],
        message:
          "deleting, restoring or truncating a stream there joins your transaction: BEGIN on it first, or give the store a client",
      },
    ]);
  }
  const [row] = (await tx.unsafe(st.state, [streamId], { prepare: true }).values()) as unknown as [StateRow];
  const [stored, mode, deletedVersion] = row;
  const state: StreamDeletionState | undefined =
    mode === null ? undefined : { mode, version: deletedVersion ?? stored };
  const { action, version } = planStreamChange(change, state, stored, checkExpectedVersion);
  let removed = 0;
  switch (action) {
    case "none":
      return { version, removed };
    case "unhide":
      await tx.unsafe(st.unmark, [streamId], { prepare: true });
      break;
    case "remove":
      removed = await removeBelow(tx, st.removeBelow, streamId, 2 ** 31 - 1);
      break;
    case "truncate":
      removed = await removeBelow(tx, st.removeBelow, streamId, change.before as number);
      if (removed === 0) return { version, removed };
      break;
  }
  const committed = await appendEvents(
    tx,
    context,
    STREAM_LIFECYCLE_STREAM,
    [lifecycleEvent(change, version, removed)],
    "any",
    false,
  );
  const event = committed.events[0];
  if (action === "hide" || action === "remove") {
    // After the event, in the same transaction: the row records where it is (streamDeletionEvent reads it by key).
    const mode = action === "hide" ? "soft" : "hard";
    await tx.unsafe(st.mark, [streamId, mode, version, event?.version], { prepare: true });
  }
  // Restored or hard-deleted, the stream may leave few enough soft-deleted ones to hash: the next feed page counts again.
  if (action === "unhide" || action === "remove") context.feed.probing = false;
  return { version, removed, event };
}

async function removeBelow(tx: PostgresQueryable, statement: string, streamId: string, before: number) {
  const [row] = (await tx.unsafe(statement, [streamId, before], { prepare: true }).values()) as unknown as [[number]];
  return row[0];
}
