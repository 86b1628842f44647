import type { ExpectedVersion } from "../../src/index.js";
import { num, str } from "./attribute-value.js";
import { type EncodedEvent, eventItem } from "./codec.js";
import { markerItem } from "./commit-log.js";
import {
  A,
  COUNTER_SORT_KEY,
  D,
  M,
  META_PARTITION,
  POSITIONS_PER_COMMIT,
  partitionValue,
  type TableLayout,
} from "./layout.js";

/** One attempt at an append: what it builds on and what it holds. */
export interface AppendAttempt {
  readonly streamId: string;
  /** The stream's version the append builds on: its events take the versions after it. */
  readonly version: number;
  /** The commit number reserved for it (with the global feed), else undefined. */
  readonly commit: number | undefined;
  readonly encoded: readonly EncodedEvent[];
  /** The `ClientRequestToken`: a retried request with the same token and body is applied once. */
  readonly token: string;
  /** The marker's time, ms since the epoch (the writer's clock). */
  readonly now: number;
  /**
   * Version `version` of this stream is known to exist, so the check that it exists can be left
   * out: a conditional put of the next version alone is exact, because no slot is ever freed (a
   * removed event leaves a key-only item, a deleted stream a fence in its next slot), so a stale
   * writer's put finds its slot taken. With a reserved commit number the check stays (it also
   * orders the stream in the feed).
   */
  readonly prevKnown?: boolean;
}

/** The one request an append attempt sends, and where its conditions sit in it. */
export interface AppendPlan extends AppendIndexes {
  readonly operation: "PutItem" | "TransactWriteItems";
  readonly body: Record<string, unknown>;
}

/** Which condition cancelled a write: the reason decides what the append does next. */
export type Cancellation = "stream-moved" | "prev-check" | "marker-taken";

/**
 * Builds the request of one attempt, without I/O: without the feed, a conditional put for a single
 * event to a new stream or after a version known to exist, else one transaction of the marker (with the feed), the previous version's
 * check (unless the stream is new) and the events' puts.
 */
export function planAppend(layout: TableLayout, attempt: AppendAttempt): AppendPlan {
  const { tableName, partitionKey } = layout;
  const { streamId, version, commit, encoded, token } = attempt;
  if (commit === undefined && encoded.length === 1 && (version === 0 || attempt.prevKnown === true)) {
    return {
      operation: "PutItem",
      body: {
        TableName: tableName,
        Item: eventItem(layout, streamId, version + 1, undefined, encoded[0] as EncodedEvent),
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": partitionKey },
      },
      prevIndex: undefined,
      markerIndex: undefined,
      firstEventIndex: 0,
      count: 1,
    };
  }
  const items: Record<string, unknown>[] = [];
  const { prevIndex, markerIndex, firstEventIndex } = pushAppend(layout, items, attempt, commit !== undefined);
  return {
    operation: "TransactWriteItems",
    body: { TransactItems: items, ClientRequestToken: token },
    prevIndex,
    markerIndex,
    firstEventIndex,
    count: encoded.length,
  };
}

/** Where one append's actions sit in a transaction. */
export interface AppendIndexes {
  /** Index in `TransactItems` of the check that the previous version exists (and is older in the feed). */
  readonly prevIndex: number | undefined;
  /** Index of the commit marker's put. */
  readonly markerIndex: number | undefined;
  /** Index of the first event's put; the rest follow it. */
  readonly firstEventIndex: number;
  /** How many event puts follow it. */
  readonly count: number;
}

/**
 * Pushes one append's actions onto a transaction: its marker (with the feed), the check that the
 * previous version exists (unless the stream is new) and its events' puts.
 */
function pushAppend(
  layout: TableLayout,
  items: Record<string, unknown>[],
  attempt: AppendAttempt,
  reserved: boolean,
): AppendIndexes {
  const { tableName, partitionKey, sortKey } = layout;
  const { streamId, version, commit, encoded, token } = attempt;
  const positionOf = (i: number) => (commit === undefined ? undefined : commit * POSITIONS_PER_COMMIT + i);
  const markerIndex =
    commit === undefined
      ? undefined
      : items.push(markerItem(layout, commit, streamId, version + 1, encoded.length, token, attempt.now)) - 1;
  // The stream is at `version` exactly: the previous event exists (and the puts below find no next
  // one). With a reserved number, the previous event also has a lower position than ours. Left out
  // where the previous event is known to exist, unless the number was reserved.
  const prevIndex =
    version === 0 || (attempt.prevKnown === true && !reserved)
      ? undefined
      : items.push({
          ConditionCheck: {
            TableName: tableName,
            Key: { [partitionKey]: str(partitionValue(layout, streamId)), [sortKey]: num(version) },
            // A deleted stream's first item and fence carry `del`: an append built on either is
            // refused by the check it makes anyway. (Removed events keep their slot: a put into
            // one fails on its own, so a truncated stream's `cut` needs no check.)
            ...(commit === undefined || !reserved
              ? {
                  ConditionExpression: PREVIOUS_EXISTS,
                  ExpressionAttributeNames: { "#pk": partitionKey, "#del": D.mode },
                }
              : {
                  ConditionExpression: `${PREVIOUS_EXISTS} AND (attribute_not_exists(#gp) OR #gp < :gp)`,
                  ExpressionAttributeNames: { "#pk": partitionKey, "#del": D.mode, "#gp": A.position },
                  ExpressionAttributeValues: { ":gp": num(commit * POSITIONS_PER_COMMIT) },
                }),
          },
        }) - 1;
  const firstEventIndex = items.length;
  encoded.forEach((e, i) => {
    items.push({
      Put: {
        TableName: tableName,
        Item: eventItem(layout, streamId, version + i + 1, positionOf(i), e),
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": partitionKey },
      },
    });
  });
  return { prevIndex, markerIndex, firstEventIndex, count: encoded.length };
}

const PREVIOUS_EXISTS = "attribute_exists(#pk) AND attribute_not_exists(#del)";

/** Actions one append takes in a group transaction: its marker, the version check, its events. */
export function groupActions(member: GroupMember): number {
  return 1 + (member.version === 0 || member.prevKnown === true ? 0 : 1) + member.encoded.length;
}

/**
 * The transaction action that moves the commit counter from `counter` to `next`, on condition that
 * it still holds `counter` (`ALL_OLD` returns its value when it does not).
 */
export function counterUpdate(layout: TableLayout, counter: number, next: number): Record<string, unknown> {
  return {
    Update: {
      TableName: layout.tableName,
      Key: {
        [layout.partitionKey]: str(partitionValue(layout, META_PARTITION)),
        [layout.sortKey]: num(COUNTER_SORT_KEY),
      },
      UpdateExpression: "SET #next = :next",
      // The counter item exists once any number was taken; before that it holds no value.
      ConditionExpression: counter === 0 ? "attribute_not_exists(#next)" : "#next = :counter",
      ExpressionAttributeNames: { "#next": M.next },
      ExpressionAttributeValues:
        counter === 0 ? { ":next": num(next) } : { ":next": num(next), ":counter": num(counter) },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    },
  };
}

/** One append of a group: the stream's version it builds on and its events. */
export interface GroupMember {
  readonly streamId: string;
  readonly version: number;
  readonly encoded: readonly EncodedEvent[];
  /** The store has seen `version` exist: no check that it does (see {@link AppendAttempt}). */
  readonly prevKnown?: boolean;
}

/** The transaction of a group commit: the counter's update first, then each member's actions. */
export interface GroupPlan {
  readonly body: Record<string, unknown>;
  /** Member i commits under number `counter + 1 + i`. */
  readonly counter: number;
  readonly members: readonly AppendIndexes[];
}

/** Index of the counter's update in a group transaction. */
export const COUNTER_INDEX = 0;

/**
 * Builds the one transaction of a group commit, without I/O. Its first action moves the commit
 * counter from `counter` (the value the writer last saw) to `counter + members`, on condition that it
 * still holds `counter`; member i's marker takes number `counter + 1 + i`. Numbers are thus taken
 * in the same atomic write as the events and markers that use them: no number is ever reserved
 * ahead of its commit, so a reader never meets one whose events could still commit. A stale
 * `counter` fails only the condition, and `ALL_OLD` returns the counter's value for the next try.
 * While the condition holds, every number ever taken (here or reserved) is at most `counter`, so
 * the stream's previous event has a lower position than ours: the version check only needs the
 * previous event to exist, and is left out where the store knows it does.
 */
export function planGroup(
  layout: TableLayout,
  group: {
    readonly counter: number;
    readonly members: readonly GroupMember[];
    readonly token: string;
    readonly now: number;
  },
): GroupPlan {
  const { counter, token, now } = group;
  const items: Record<string, unknown>[] = [counterUpdate(layout, counter, counter + group.members.length)];
  const members = group.members.map((member, i) =>
    pushAppend(layout, items, { ...member, commit: counter + 1 + i, token, now }, false),
  );
  return { body: { TransactItems: items, ClientRequestToken: token }, counter, members };
}

/**
 * What the head read says before writing: go on at its version, refuse ("stream-exists" on a new
 * stream), or take a fresh commit number because the stream's last append already took a later one
 * (ours would put this append before it in the feed).
 */
export function checkHead(
  expected: ExpectedVersion,
  head: { readonly version: number; readonly position: number | undefined },
  commit: number | undefined,
): "write" | "conflict" | "stale-number" {
  if (expected === "stream-exists" && head.version === 0) return "conflict";
  if (commit !== undefined && (head.position ?? 0) >= commit * POSITIONS_PER_COMMIT) return "stale-number";
  return "write";
}

/**
 * Which condition cancelled the write, from DynamoDB's cancellation reasons (in the plan's action
 * order); undefined when the failure is something else. A taken version wins over the other
 * reasons: the stream moved whatever else failed.
 */
export function cancellationCause(
  plan: AppendIndexes,
  serviceCode: string | undefined,
  reasons: readonly { readonly code: string }[],
): Cancellation | undefined {
  if (serviceCode === "ConditionalCheckFailedException") return "stream-moved";
  if (serviceCode !== "TransactionCanceledException") return undefined;
  const failed = (index: number | undefined) =>
    index !== undefined && reasons[index]?.code === "ConditionalCheckFailed";
  const events = reasons.slice(plan.firstEventIndex, plan.firstEventIndex + plan.count);
  if (events.some((r) => r.code === "ConditionalCheckFailed")) return "stream-moved";
  if (failed(plan.prevIndex)) return "prev-check";
  if (failed(plan.markerIndex)) return "marker-taken";
  return undefined;
}
