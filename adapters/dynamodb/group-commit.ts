import { ServiceError } from "../../src/index.js";
import {
  type Cancellation,
  COUNTER_INDEX,
  cancellationCause,
  counterUpdate,
  type GroupMember,
  groupActions,
  planGroup,
} from "./append-plan.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, AwsServiceError } from "./client.js";
import { tombstoneItem } from "./commit-log.js";
import {
  LOG_PARTITION,
  M,
  MAX_TRANSACTION_BYTES,
  MAX_TRANSACTION_ITEMS,
  partitionValue,
  type TableLayout,
} from "./layout.js";

/** An append handed to the group committer, with the deadlines of its `appendToStream` call. */
export interface GroupAppend extends GroupMember {
  readonly deadlines: { readonly write: number; readonly settle: number };
}

/**
 * How an append of a group ended: committed under a number; refused by its own condition (the
 * store decides what that means for its expected version); or handed back because the counter kept
 * moving under it (other processes appending), so that it reserves a number instead.
 */
export type GroupOutcome =
  | { readonly commit: number }
  | { readonly cancelled: Exclude<Cancellation, "marker-taken"> }
  | { readonly contended: true };

/** Appends that go out together, and what they take of a transaction's limits. */
interface Group {
  readonly entries: Entry[];
  actions: number;
  bytes: number;
  readonly streams: Set<string>;
}

interface Entry {
  readonly append: GroupAppend;
  readonly resolve: (outcome: GroupOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** Transactions of this append cancelled by a moved counter. */
  conflicts: number;
}

/**
 * Counter conflicts an append accepts before it takes a reserved number instead: the first conflict
 * teaches the writer the counter's value (`ALL_OLD`), a second means another process is appending
 * as fast, and the reservation path (one counter increment that never conflicts) makes progress
 * where optimistic retries could keep losing.
 */
const MAX_COUNTER_CONFLICTS = 2;
/** What an item costs besides its event's body, at most (keys, position, names): for the 4 MB check. */
const ITEM_OVERHEAD_BYTES = 1_200;

/**
 * Group commit for appends with the global feed: the appends of this process that wait together go
 * out as one `TransactWriteItems` that also moves the commit counter (see {@link planGroup}), so an
 * append costs one round trip. One such transaction is in flight at a time (each builds on the
 * counter value the previous one left); appends arriving meanwhile queue up in groups of up to 100
 * actions and 4 MB, one append per stream (two would collide on the same item), sent in order. Only
 * an append too large for any group (98 events to a stream whose version the store has not seen) is
 * refused (`submit` returns undefined) and reserves a number instead.
 */
export class GroupCommitter {
  readonly #client: AwsJsonClient;
  readonly #layout: TableLayout;
  /** The counter's value as this process last saw it: the next group's numbers follow it. */
  #counter = 0;
  /** The groups waiting to be sent, in order; the last one takes new appends while they fit. */
  readonly #queue: Group[] = [];
  #busy = false;

  constructor(client: AwsJsonClient, layout: TableLayout) {
    this.#client = client;
    this.#layout = layout;
  }

  /** Queues an append for the next group it fits in; undefined when it cannot fit in any. */
  submit(append: GroupAppend): Promise<GroupOutcome> | undefined {
    const actions = groupActions(append);
    let bytes = ITEM_OVERHEAD_BYTES;
    for (const e of append.encoded) bytes += e.bodyBytes + ITEM_OVERHEAD_BYTES;
    if (1 + actions > MAX_TRANSACTION_ITEMS || bytes > MAX_TRANSACTION_BYTES) return undefined;
    let group = this.#queue[this.#queue.length - 1];
    if (
      group === undefined ||
      group.streams.has(append.streamId) ||
      group.actions + actions > MAX_TRANSACTION_ITEMS ||
      group.bytes + bytes > MAX_TRANSACTION_BYTES
    ) {
      group = { entries: [], actions: 1, bytes: 0, streams: new Set() };
      this.#queue.push(group);
    }
    group.actions += actions;
    group.bytes += bytes;
    group.streams.add(append.streamId);
    const entries = group.entries;
    return new Promise((resolve, reject) => {
      entries.push({ append, resolve, reject, conflicts: 0 });
      if (this.#busy) return;
      this.#busy = true;
      // After the current task: appends started together (Promise.all) share the first group.
      queueMicrotask(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      for (let group = this.#queue.shift(); group !== undefined; group = this.#queue.shift()) {
        let entries = group.entries;
        try {
          while (entries.length > 0) entries = await this.#commit(entries);
        } catch (error) {
          // #commit settles every entry itself; this only keeps a bug from leaving appends waiting.
          this.#fail(entries, error);
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Sends one group; returns the appends to send again (cancelled by another member or the counter). */
  async #commit(group: Entry[]): Promise<Entry[]> {
    const token = crypto.randomUUID();
    const plan = planGroup(this.#layout, {
      counter: this.#counter,
      members: group.map((entry) => entry.append),
      token,
      now: Date.now(),
    });
    const deadline = (pick: (d: GroupAppend["deadlines"]) => number) =>
      Math.min(...group.map((entry) => pick(entry.append.deadlines)));
    try {
      await this.#client.send("TransactWriteItems", plan.body, { deadline: deadline((d) => d.write) });
      this.#committed(plan.counter, group);
      return [];
    } catch (error) {
      if (!isDefinitiveFailure(error)) {
        // The transaction may have committed on an attempt whose answer was lost: settle it.
        const fate = await this.#settle(
          plan.counter,
          group.length,
          token,
          deadline((d) => d.settle),
        ).catch(() => undefined);
        if (fate === "committed") {
          this.#committed(plan.counter, group);
          return [];
        }
        if (fate === undefined || !isCancellation(error)) return this.#fail(group, error);
      }
      if (!isCancellation(error)) return this.#fail(group, error);
      const reasons = error.cancellationReasons;
      const counterReason = reasons[COUNTER_INDEX];
      const counterMoved = counterReason?.code === "ConditionalCheckFailed";
      if (counterMoved) {
        this.#learn(counterReason?.item);
        // DynamoDB fails the counter's condition only when it holds another value: an answer saying it holds
        // the one expected would send the group again on the same counter, round after round of the append.
        if (this.#counter === plan.counter) return this.#fail(group, counterStood());
      }
      const again: Entry[] = [];
      group.forEach((entry, i) => {
        const cause = cancellationCause(plan.members[i] as (typeof plan.members)[number], error.serviceCode, reasons);
        // A taken version is final whatever else failed; the rest is judged against a counter that held.
        if (cause === "stream-moved") entry.resolve({ cancelled: cause });
        else if (counterMoved) {
          if (++entry.conflicts >= MAX_COUNTER_CONFLICTS) entry.resolve({ contended: true });
          else again.push(entry);
        } else if (cause === "prev-check") entry.resolve({ cancelled: cause });
        // A marker above the counter: no writer of this protocol leaves one (the reservation path's
        // numbers lie at or below the counter); reserving moves the counter past it.
        else if (cause === "marker-taken") entry.resolve({ contended: true });
        else again.push(entry);
      });
      // Cancelled, yet no member's condition and not the counter failed: it would fail again.
      if (again.length === group.length && !counterMoved) return this.#fail(group, error);
      return again;
    }
  }

  #committed(counter: number, group: readonly Entry[]): void {
    this.#counter = Math.max(this.#counter, counter + group.length);
    group.forEach((entry, i) => {
      entry.resolve({ commit: counter + 1 + i });
    });
    this.#refuseOvertaken(group);
  }

  /**
   * Queued appends to a stream that just committed, built on a version below its new head, would
   * put a version that now exists (events are never deleted): they are answered at once, as their
   * transaction would be, instead of each waiting for a group of its own (one stream per group).
   */
  #refuseOvertaken(committed: readonly Entry[]): void {
    const heads = new Map(committed.map((e) => [e.append.streamId, e.append.version + e.append.encoded.length]));
    for (const group of this.#queue) {
      for (let i = group.entries.length - 1; i >= 0; i--) {
        const entry = group.entries[i] as Entry;
        const head = heads.get(entry.append.streamId);
        if (head === undefined || entry.append.version >= head) continue;
        group.entries.splice(i, 1);
        group.streams.delete(entry.append.streamId);
        entry.resolve({ cancelled: "stream-moved" });
      }
    }
  }

  #fail(group: readonly Entry[], error: unknown): Entry[] {
    for (const entry of group) entry.reject(error);
    return [];
  }

  /** The counter's value from a cancellation (`ALL_OLD`; no item: no number taken yet, a new table). */
  #learn(item: Readonly<Record<string, unknown>> | undefined): void {
    this.#counter = readNumber(item ?? {}, M.next) ?? 0;
  }

  /**
   * After a failure that may hide a commit: fence the transaction by moving the counter past the
   * value it expects (with tombstones for its numbers, so readers need not wait for them), which
   * makes it fail for good if it is still in flight. If the counter moved already, the group either
   * committed (its first marker holds its token) or can never commit.
   */
  async #settle(counter: number, count: number, token: string, deadline: number): Promise<"committed" | "void"> {
    const now = Date.now();
    const items = [counterUpdate(this.#layout, counter, counter + count)];
    for (let i = 1; i <= count; i++) items.push({ Put: tombstoneItem(this.#layout, counter + i, now) });
    try {
      await this.#client.send("TransactWriteItems", { TransactItems: items }, { deadline });
      this.#counter = Math.max(this.#counter, counter + count);
      return "void";
    } catch (error) {
      const moved =
        isCancellation(error) && error.cancellationReasons[COUNTER_INDEX]?.code === "ConditionalCheckFailed";
      if (!moved) throw error;
      this.#learn(error.cancellationReasons[COUNTER_INDEX]?.item);
    }
    const { Item } = await this.#client.send<{ Item?: Record<string, unknown> }>(
      "GetItem",
      {
        TableName: this.#layout.tableName,
        Key: {
          [this.#layout.partitionKey]: str(partitionValue(this.#layout, LOG_PARTITION)),
          [this.#layout.sortKey]: num(counter + 1),
        },
        ConsistentRead: true,
      },
      { deadline },
    );
    return Item !== undefined && readString(Item, M.token) === token ? "committed" : "void";
  }
}

/** A cancellation whose counter failed its condition yet holds the value it was expected to: not DynamoDB's. */
const counterStood = () =>
  new ServiceError(
    "DynamoDB",
    "TransactWriteItems",
    "MalformedResponse",
    true,
    "the answer is not DynamoDB's: the commit counter failed its condition, yet holds the value it was expected to",
  );

function isCancellation(error: unknown): error is AwsServiceError {
  return error instanceof AwsServiceError && error.serviceCode === "TransactionCanceledException";
}

/**
 * The write certainly did not happen: it was never sent (its deadline had passed), or DynamoDB
 * answered and refused it on the first attempt.
 */
export function isDefinitiveFailure(error: unknown): boolean {
  if (!(error instanceof AwsServiceError)) return false;
  return error.attempts === 0 || (error.attempts === 1 && !error.retryable && (error.status ?? 0) < 500);
}
