import { ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import { readablePosition } from "../event-store/readable.js";
import type { AppendToStreamResult } from "../event-store/types.js";
import { assertDelayMs, kindOf } from "../internal/validate.js";
import { AssertionError } from "./assert.js";

/**
 * How long {@link untilReadable} waits. Another client's transaction (an application's write, an
 * autovacuum ANALYZE, a worker process of another test) is open for milliseconds, a few hundred at
 * most; 10 s is far past that and well inside a contract case's 20 s, and only a transaction left
 * open gets there, which the error then says instead of a case failing on a count.
 */
const READABLE_WAIT_MS = 10_000;

/**
 * Resolves once the store's feed readers see `position` (`getLastGlobalPosition()` has reached it).
 * At once on every store whose readers see each committed event; on PostgreSQL the feed's readers
 * stop below transactions still in flight anywhere on the server (anyone's: see `getHeadPosition`),
 * so an event that committed can stay unread for as long as an older transaction is open. A case that
 * appends and then reads the feed (`catchUp`, a rebuild, a replay) waits here first, so that it tests
 * what the runner makes of the events, not whether another client happened to be mid-transaction.
 */
export async function untilReadable(
  store: EventStore,
  position: number | AppendToStreamResult,
  timeoutMs = READABLE_WAIT_MS,
): Promise<void> {
  const issues = [];
  if (typeof (store as { getLastGlobalPosition?: unknown } | null)?.getLastGlobalPosition !== "function") {
    issues.push({ path: ["store"], message: `must be an event store, got ${kindOf(store)}` });
  }
  const isNumber = typeof position === "number";
  if (isNumber ? !Number.isSafeInteger(position) || position < 0 : !Array.isArray(position?.events)) {
    issues.push({
      path: ["position"],
      message: `must be a global position (a non-negative integer) or an append's result, got ${kindOf(position)}`,
    });
  }
  if (issues.length > 0) throw new ValidationError("Invalid untilReadable arguments", issues);
  assertDelayMs(timeoutMs, "timeoutMs", "Invalid untilReadable arguments");
  const target =
    typeof position === "number" ? position : Math.max(0, ...position.events.map((e) => e.globalPosition ?? 0));
  const readable = await readablePosition(store, target, Date.now() + timeoutMs);
  if (readable < target) {
    throw new AssertionError(
      `the feed's readers did not reach position ${target} within ${timeoutMs} ms (at ${readable}): a transaction left open on the server?`,
    );
  }
}

/** {@link untilReadable} for every event committed so far (`getHeadPosition()` now). */
export async function untilHeadReadable(store: EventStore, timeoutMs = READABLE_WAIT_MS): Promise<number> {
  if (typeof (store as { getHeadPosition?: unknown } | null)?.getHeadPosition !== "function") {
    throw new ValidationError("Invalid untilHeadReadable arguments", [
      { path: ["store"], message: `must be an event store, got ${kindOf(store)}` },
    ]);
  }
  assertDelayMs(timeoutMs, "timeoutMs", "Invalid untilHeadReadable arguments");
  const head = await store.getHeadPosition();
  await untilReadable(store, head, timeoutMs);
  return head;
}
