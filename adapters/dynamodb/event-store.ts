import {
  type CommitResult,
  ConcurrencyError,
  EVENT_STORE_OPTIONS,
  type EventEnvelope,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  type ExpectedVersion,
  functionIssues,
  HEALTH_CHECK_STREAM,
  type PendingEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  ServiceError,
  type StreamChange,
  type StreamChangeCommit,
  StreamDeletedError,
  type StreamDeletionMode,
  ValidationError,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS, PageTrail } from "../aws/index.js";
import { cancellationCause, checkHead, planAppend } from "./append-plan.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import {
  type AwsJsonClient,
  type AwsJsonClientOptions,
  AwsServiceError,
  clientOption,
  pauseWithin,
  type SendOptions,
} from "./client.js";
import { decodeItem, type EncodedEvent, encodeEvents, envelopeOf, holdsNoEvent } from "./codec.js";
import { CommitLog, type CommitMarker } from "./commit-log.js";
import { GroupCommitter, isDefinitiveFailure } from "./group-commit.js";
import {
  A,
  D,
  LAYOUT_OPTIONS,
  MAX_TRANSACTION_ITEMS,
  POSITIONS_PER_COMMIT,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import type { DeletionStateRead, DynamoDbStreamChanges, DynamoDbStreamDeletion } from "./stream-deletion.js";
import { ensureEventStoreTable, tableWait } from "./table.js";

export interface DynamoDbEventStoreOptions extends EventStoreOptions, AwsJsonClientOptions, TableLayoutOptions {
  /**
   * The client to use, e.g. one shared by several stores (and its retry budget with them). When
   * given, the region, endpoint, credentials, fetch and retry options are the client's.
   */
  readonly client?: AwsJsonClient;
  /**
   * Keep the global feed: every event gets a global position, and `readAll`/`subscribeToAll` work.
   * It costs two more items in the append's transaction (the commit counter's move and a marker;
   * concurrent appends of a process share one transaction), still one round trip. Defaults to true.
   * Choose once per table.
   */
  readonly globalFeed?: boolean;
  /**
   * How long a feed reader waits for a commit number reserved by an append that has not committed
   * (appends reserve only after repeated counter conflicts with other processes, as earlier releases did),
   * counted from when the next number committed, before declaring it void. Correctness does not
   * depend on it (a voided append retries under a new number); it bounds how long a crashed
   * appender can hold readers up. Defaults to 1,000 ms.
   */
  readonly gapTimeoutMs?: number;
  /**
   * Enables `deleteStream`, `restoreStream`, `truncateStream` (and `applyRetention`): pass
   * `dynamoDbStreamDeletion`. Left out, the store reports no `capabilities.streamDeletion` and a
   * bundle that never deletes leaves that code out; reads and appends still obey streams another
   * store deleted or truncated, except that `readAll` does not pass soft-deleted streams' events by.
   */
  readonly streamDeletion?: DynamoDbStreamDeletion;
}

/**
 * Rounds of one append (re-reading the head for `"any"`, fresh commit numbers) before it gives up
 * with a ConcurrencyError: only a stream under heavy contention gets near it.
 */
const MAX_ROUNDS = 200;

/** Streams whose highest seen version a store keeps (see `#known`). */
const KNOWN_STREAMS = 10_000;

interface Deadlines {
  /** Rounds, requests, retries and pauses. */
  readonly write: number;
  /** Settling an unknown outcome, after `write`. */
  readonly settle: number;
}

interface Head {
  readonly version: number;
  readonly position: number | undefined;
  /** The stream is deleted (its fence or hard-deletion stub is its last item). */
  readonly deleted?: StreamDeletionMode;
}

/** How a round ended: with the events, a conflict, or a next round at a version (undefined: read the head). */
type RoundOutcome =
  | { readonly events: EventEnvelope[] }
  | { readonly conflict: true }
  | { readonly retryAt: number | undefined; readonly pause: boolean };

/** What the event store's options take; a misspelt `gapTimeoutMS` or `sortkey` was dropped for its default. */
export const EVENT_STORE_KEYS = Object.keys({
  ...EVENT_STORE_OPTIONS,
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
  globalFeed: true,
  gapTimeoutMs: true,
  streamDeletion: true,
} satisfies Record<keyof DynamoDbEventStoreOptions, true>);

/**
 * An event store in one DynamoDB table, over the JSON protocol, SigV4-signed by the shared AWS client: no AWS SDK,
 * runs on Lambda, Workers, Bun and Node. One item per event (stream id = partition key, version =
 * sort key); an append is one conditional request, a `PutItem` or a `TransactWriteItems` with a
 * `ClientRequestToken`; reads are consistent. The global feed is a commit log in the same table
 * (see {@link CommitLog} and docs/adapters/dynamodb.md for what it guarantees).
 */
export class DynamoDbEventStore extends EventStore {
  protected override readonly dbSystem: string = "dynamodb";
  readonly capabilities: EventStoreCapabilities;
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  readonly #log: CommitLog | undefined;
  readonly #groups: GroupCommitter | undefined;
  readonly #deletions: DynamoDbStreamChanges | undefined;
  /**
   * The highest version this store has seen exist, per stream (from its appends, head reads and
   * stream reads). No slot is ever freed (a removed event leaves a key-only item, a deleted stream
   * a fence in its next slot), so an entry never lets an append into a used slot; it only spares an
   * append the check that its previous version exists (without the feed, a one-event append is then
   * a single PutItem; a stale entry makes that put fail on the taken slot). Bounded: the oldest
   * entries go first.
   */
  readonly #known = new Map<string, number>();

  /** @throws {ValidationError} a bad table or key name, option, region, endpoint or missing credentials. */
  constructor(options: DynamoDbEventStoreOptions) {
    super(options);
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid DynamoDB event store options", [
        { path: [], message: "options are required" },
      ]);
    }
    this.layout = tableLayout(options, EVENT_STORE_KEYS);
    const gapTimeoutMs = options.gapTimeoutMs ?? 1_000;
    if (!Number.isSafeInteger(gapTimeoutMs) || gapTimeoutMs < 0) {
      throw new ValidationError("Invalid DynamoDB event store options", [
        { path: ["gapTimeoutMs"], message: "gapTimeoutMs must be a non-negative integer" },
      ]);
    }
    // From JavaScript, a string "false" kept the feed on and a `true` streamDeletion failed as a
    // TypeError at the constructor's call (a null, at the first deletion): refused here, named.
    const issues = functionIssues(options.streamDeletion, "streamDeletion");
    if (options.globalFeed !== undefined && typeof options.globalFeed !== "boolean") {
      issues.push({ path: ["globalFeed"], message: `must be a boolean, got ${typeof options.globalFeed}` });
    }
    if (issues.length > 0) throw new ValidationError("Invalid DynamoDB event store options", issues);
    this.client = clientOption(options);
    const feed = options.globalFeed ?? true;
    this.#log = feed ? new CommitLog(this.client, this.layout, gapTimeoutMs) : undefined;
    this.#groups = feed ? new GroupCommitter(this.client, this.layout) : undefined;
    // A transaction holds 100 actions: the events, the check of the previous version and, with the
    // feed, the commit marker.
    this.capabilities = {
      globalOrder: feed,
      idempotentAppends: false,
      maxEventsPerAppend: MAX_TRANSACTION_ITEMS - (feed ? 2 : 1),
      streamDeletion: options.streamDeletion !== undefined,
    };
    this.#deletions = options.streamDeletion?.(this.client, this.layout, {
      append: (streamId, events) => this.#append(streamId, encodeEvents(this.layout, streamId, events), "any"),
      read: (streamId, read) => this.#readStream(streamId, read, {}),
      version: (streamId) => this.streamVersion(streamId),
    });
  }

  /** Creates the table if it does not exist (on-demand billing) and waits until it is active. */
  async ensureTable(options: { readonly timeoutMs?: number } = {}): Promise<"created" | "exists"> {
    return ensureEventStoreTable(this.client, this.layout, tableWait(options));
  }

  protected async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<CommitResult> {
    const encoded = encodeEvents(this.layout, streamId, events);
    const committed = await this.#append(streamId, encoded, expectedVersion);
    this.#remember(streamId, committed[committed.length - 1]?.version ?? 0);
    return { events: committed };
  }

  async #append(
    streamId: string,
    encoded: readonly EncodedEvent[],
    expected: ExpectedVersion,
  ): Promise<EventEnvelope[]> {
    let version = typeof expected === "number" ? expected : expected === "no-stream" ? 0 : undefined;
    // One deadline for the whole append (the client's timeoutMs): its rounds, requests, retries and
    // pauses take three quarters of it, so that settling an unknown outcome keeps the last quarter.
    const start = Date.now();
    const deadlines = {
      write: start + Math.floor(this.client.timeoutMs * 0.75),
      settle: start + this.client.timeoutMs,
    };
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const outcome = await this.#round(streamId, encoded, expected, version, deadlines);
      if ("events" in outcome) return outcome.events;
      if ("conflict" in outcome) break;
      version = outcome.retryAt;
      // "any" / "stream-exists" after the stream moved on: a jittered pause spreads contending writers
      // out, unless it would run into the deadline (then the next round's head read is not made).
      if (outcome.pause)
        await pauseWithin(Math.floor(Math.random() * Math.min(2 ** round, 50)), deadlines.write, "Query");
    }
    // The actual version a conflict reports: one more read, still within the append's deadline.
    const head = await this.#liveHead(streamId, { deadline: deadlines.settle });
    throw new ConcurrencyError(streamId, expected, head.version);
  }

  /**
   * One round of an append. With the feed, it first goes through the group committer: one
   * transaction that takes its commit number as it commits (one round trip, after a head read for
   * `"any"`/`"stream-exists"`). If that path is full or the counter keeps moving under it (other
   * processes appending), the round reserves a number instead ({@link #reservedRound}).
   */
  async #round(
    streamId: string,
    encoded: readonly EncodedEvent[],
    expected: ExpectedVersion,
    known: number | undefined,
    deadlines: Deadlines,
  ): Promise<RoundOutcome> {
    const groups = this.#groups;
    if (groups === undefined) return this.#reservedRound(streamId, encoded, expected, known, deadlines);
    const write = { deadline: deadlines.write };
    let version = known;
    if (version === undefined) {
      const head = await this.#liveHead(streamId, write);
      if (checkHead(expected, head, undefined) === "conflict") {
        throw new ConcurrencyError(streamId, expected, head.version);
      }
      version = head.version;
    }
    const prevKnown = version > 0 && (this.#known.get(streamId) ?? 0) >= version;
    const pending = groups.submit({ streamId, version, encoded, deadlines, prevKnown });
    const outcome = pending === undefined ? { contended: true as const } : await pending;
    if ("commit" in outcome) return { events: committedEvents(streamId, version, outcome.commit, encoded) };
    if ("cancelled" in outcome) return this.#afterCancel(streamId, expected, version, outcome.cancelled, write);
    return this.#reservedRound(streamId, encoded, expected, version, deadlines);
  }

  /**
   * A round that reserves its commit number first (an increment of the counter, which never
   * conflicts) and then writes: two round trips. It learns the head (unless the version is known)
   * while reserving. The number is the round's to give back: whatever way the round ends, the
   * `finally` releases it unless a transaction used it or it was voided, so readers never wait out
   * the gap timeout for an append that is over. Without the feed it is the one write.
   */
  async #reservedRound(
    streamId: string,
    encoded: readonly EncodedEvent[],
    expected: ExpectedVersion,
    known: number | undefined,
    deadlines: Deadlines,
  ): Promise<RoundOutcome> {
    const log = this.#log;
    const write = { deadline: deadlines.write };
    const [head, reserved] = await Promise.allSettled([
      known === undefined ? this.#liveHead(streamId, write) : undefined,
      log === undefined ? undefined : log.reserve(deadlines.write),
    ]);
    let held = reserved.status === "fulfilled" ? reserved.value : undefined;
    try {
      if (reserved.status === "rejected") throw reserved.reason;
      if (head.status === "rejected") throw head.reason;
      const commit = held;
      const version = head.value?.version ?? (known as number);
      if (head.value !== undefined) {
        const verdict = checkHead(expected, head.value, commit);
        if (verdict === "conflict") throw new ConcurrencyError(streamId, expected, head.value.version);
        if (verdict === "stale-number") return { retryAt: version, pause: false };
      }
      const token = crypto.randomUUID();
      // A version this store has seen exist needs no check (a head just read counts too): without
      // the feed, a one-event append after it is a single conditional PutItem.
      const prevKnown = version > 0 && (this.#known.get(streamId) ?? 0) >= version;
      const plan = planAppend(this.layout, { streamId, version, commit, encoded, token, now: Date.now(), prevKnown });
      try {
        await this.client.send(plan.operation, plan.body, write);
        held = undefined;
        return { events: committedEvents(streamId, version, commit, encoded) };
      } catch (error) {
        if (!isDefinitiveFailure(error)) {
          // The request may have committed on an attempt whose answer was lost: settle it.
          const settle = { deadline: deadlines.settle };
          const fate = await this.#settle(streamId, version, commit, token, encoded, settle).catch(() => undefined);
          if (fate === undefined) throw error;
          // Committed, or voided by the settling: either way the number is spent.
          held = undefined;
          if (fate === "committed") return { events: committedEvents(streamId, version, commit, encoded) };
        }
        const cause =
          error instanceof AwsServiceError
            ? cancellationCause(plan, error.serviceCode, error.cancellationReasons)
            : undefined;
        if (cause === undefined) throw error;
        if (cause === "marker-taken") {
          // A reader gave up waiting for our number and voided it: take a new one.
          held = undefined;
          return { retryAt: version, pause: false };
        }
        return this.#afterCancel(streamId, expected, version, cause, write);
      }
    } finally {
      if (held !== undefined) log?.abandon(held);
    }
  }

  /** What the next round does after the append's own condition cancelled it. */
  async #afterCancel(
    streamId: string,
    expected: ExpectedVersion,
    version: number,
    cause: "stream-moved" | "prev-check",
    write: SendOptions,
  ): Promise<RoundOutcome> {
    // The stream is where we expected; only the commit order was wrong: a fresh number.
    if (cause === "prev-check" && (await this.#liveHead(streamId, write)).version === version) {
      return { retryAt: version, pause: false };
    }
    if (typeof expected === "number" || expected === "no-stream") return { conflict: true };
    // The stream moved on: append after its new head, under a fresh number (the one we hold is
    // likely older than the head's now).
    return { retryAt: undefined, pause: true };
  }

  /**
   * After a failure that may hide a commit: with the feed, void the commit number (which fences a
   * transaction still in flight) or find our own marker; without it, look for our events.
   */
  async #settle(
    streamId: string,
    version: number,
    commit: number | undefined,
    token: string,
    encoded: readonly EncodedEvent[],
    send: SendOptions,
  ): Promise<"committed" | "void"> {
    if (commit !== undefined && this.#log !== undefined) return this.#log.settle(commit, token, send);
    const stored: string[] = [];
    const readBack = { fromVersion: version + 1, maxCount: encoded.length };
    for await (const event of this.#readStream(streamId, readBack, send)) {
      stored.push(event.id);
    }
    return stored.length === encoded.length && stored.every((id, i) => id === encoded[i]?.event.id)
      ? "committed"
      : "void";
  }

  protected readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    return this.#readStream(streamId, options, {});
  }

  async *#readStream(
    streamId: string,
    options: ReadStreamOptions,
    send: SendOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    const backward = options.direction === "backward";
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining === 0) return;
    // With stream deletion, the stream's state (soft-deleted: nothing to read; truncated: its cut),
    // read beside the first page or taken from it. Without it, removed events (key-only items) are
    // passed by below.
    const deletion = this.#deletions?.readState(streamId, !backward && (options.fromVersion ?? 1) <= 1, send);
    let cut = deletion === undefined ? 1 : undefined;
    const { tableName, partitionKey, sortKey } = this.layout;
    const key = partitionValue(this.layout, streamId);
    let bound = backward ? options.fromVersion : (options.fromVersion ?? 1);
    let expected = backward ? undefined : bound;
    let startKey: unknown;
    // The next-page keys of the current query; a new one for each query from another bound, which may name them again.
    let pageTrail = new PageTrail();
    let gaps = 0;
    for (;;) {
      const page = await this.client.send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown }>(
        "Query",
        {
          TableName: tableName,
          KeyConditionExpression:
            bound === undefined ? "#pk = :s" : backward ? "#pk = :s AND #sk <= :v" : "#pk = :s AND #sk >= :v",
          ExpressionAttributeNames:
            bound === undefined ? { "#pk": partitionKey } : { "#pk": partitionKey, "#sk": sortKey },
          ExpressionAttributeValues: bound === undefined ? { ":s": str(key) } : { ":s": str(key), ":v": num(bound) },
          ScanIndexForward: !backward,
          ConsistentRead: true,
          ...(Number.isFinite(remaining) ? { Limit: Math.min(remaining, 1_000) } : {}),
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        },
        { ...send, pageTrail },
      );
      if (cut === undefined) {
        const state = await (deletion as DeletionStateRead)(page.Items?.[0]);
        if (state.mode !== undefined) return;
        cut = state.cut;
        if (!backward && (expected as number) < cut) {
          expected = cut;
          // Removed events stay as key-only items below the cut: query from the cut, not through them.
          if (page.LastEvaluatedKey !== undefined) {
            bound = cut;
            pageTrail = new PageTrail();
            continue;
          }
        }
      }
      let gap = false;
      for (const item of page.Items ?? []) {
        const version = readNumber(item, sortKey) ?? 0;
        // Below the cut: a removed event's key-only item, or an event a truncation has yet to remove.
        if (version < cut) {
          if (backward) return;
          continue;
        }
        if (expected !== undefined && version !== expected) {
          gap = true;
          break;
        }
        expected = backward ? version - 1 : version + 1;
        // A key-only item holds its slot: a removed event (a store without the deletion option reads
        // no cut, so it meets the items another store's truncation or hard delete left), or a deleted
        // stream's fence. Passed by, its version counted, so that it is no hole.
        if (holdsNoEvent(item)) continue;
        const event = decodeItem(this.layout, item);
        this.#remember(streamId, event.version);
        yield event;
        if (--remaining === 0) return;
      }
      // Backward, the stream ends at its cut (version 1 untruncated): stopping above it means versions are missing.
      if (!gap && page.LastEvaluatedKey === undefined && !(backward && expected !== undefined && expected >= cut))
        return;
      if (!gap) {
        startKey = page.LastEvaluatedKey;
        if (startKey !== undefined) continue;
      }
      // Versions are contiguous: a hole is a read racing a transaction's writes. Read again from it.
      if (++gaps > 5) {
        throw new ServiceError(
          "DynamoDB",
          "Query",
          "InconsistentRead",
          true,
          `stream "${streamId}" read without version ${expected}`,
        );
      }
      // Within the caller's deadline (an append's read-back has one): the next read is not made past it.
      await pauseWithin(2 ** gaps, send.deadline, "Query");
      bound = expected;
      startKey = undefined;
      pageTrail = new PageTrail();
    }
  }

  protected async *readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    // Without the feed, the base class refuses readAll before it gets here (noGlobalOrder).
    const log = this.#log as CommitLog;
    const after = options.after ?? 0;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (remaining === 0) return;
    let batch: CommitMarker[] = [];
    let batched = 0;
    const markers = log.commits(Math.max(1, Math.floor(after / POSITIONS_PER_COMMIT)));
    for (let done = false; !done; ) {
      const next = await markers.next();
      done = next.done === true;
      if (!done) {
        const marker = next.value as CommitMarker;
        if (marker.commit * POSITIONS_PER_COMMIT + marker.count - 1 <= after) continue;
        batch.push(marker);
        batched += marker.count;
        if (batched < Math.min(remaining, 100)) continue;
      }
      for (const event of await log.events(batch)) {
        if ((event.globalPosition ?? 0) <= after) continue;
        yield event;
        if (--remaining === 0) {
          await markers.return();
          return;
        }
      }
      batch = [];
      batched = 0;
    }
  }

  override async getLastGlobalPosition(): Promise<number> {
    if (this.#log === undefined) throw this.noGlobalOrder();
    return this.#log.lastPosition();
  }

  protected async streamVersion(streamId: string): Promise<number> {
    return (await this.#head(streamId)).version;
  }

  /** The version of the `eventflows-health` stream (one Query), stopped when the signal fires. */
  override async ping(signal?: AbortSignal): Promise<void> {
    await this.#head(HEALTH_CHECK_STREAM, signal === undefined ? {} : { signal });
  }

  // Both only called with `capabilities.streamDeletion`, that is with the option.
  protected override commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    return (this.#deletions as DynamoDbStreamChanges).commit(change);
  }

  protected override hiddenStreams(): Promise<ReadonlySet<string>> {
    return (this.#deletions as DynamoDbStreamChanges).hidden();
  }

  protected override deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    return this.#deletions?.deletionEvent?.(streamId) ?? super.deletionEvent(streamId);
  }

  /**
   * One head read, as an append's: a deletion still being finished (marked, its lifecycle event not yet
   * recorded, so `deletionEvent` does not answer it) is refused already.
   */
  protected override async appendableVersion(streamId: string): Promise<number> {
    return (await this.#liveHead(streamId)).version;
  }

  /** The head of a stream that takes appends. @throws {StreamDeletedError} */
  async #liveHead(streamId: string, send: SendOptions = {}): Promise<Head> {
    const head = await this.#head(streamId, send);
    if (head.deleted !== undefined) throw new StreamDeletedError(streamId, head.deleted);
    return head;
  }

  async #head(streamId: string, send: SendOptions = {}): Promise<Head> {
    const { tableName, partitionKey, sortKey } = this.layout;
    const result = await this.client.send<{ Items?: Record<string, unknown>[] }>(
      "Query",
      {
        TableName: tableName,
        KeyConditionExpression: "#pk = :s",
        ExpressionAttributeNames: { "#pk": partitionKey, "#sk": sortKey, "#gp": A.position },
        ExpressionAttributeValues: { ":s": str(partitionValue(this.layout, streamId)) },
        // `del` and `dv` (a fence's) need no placeholder: they are no reserved words.
        ProjectionExpression: `#sk, #gp, ${D.mode}, ${D.version}`,
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1,
      },
      send,
    );
    const item = result.Items?.[0];
    if (item === undefined) return { version: 0, position: undefined };
    const version = readNumber(item, sortKey) ?? 0;
    const deleted = readString(item, D.mode);
    // A soft-deleted stream keeps its version; a hard-deleted one answers 0.
    if (deleted === "soft")
      return { version: readNumber(item, D.version) ?? version - 1, position: undefined, deleted };
    if (deleted === "hard") return { version: 0, position: undefined, deleted };
    this.#remember(streamId, version);
    return { version, position: readNumber(item, A.position) };
  }

  #remember(streamId: string, version: number): void {
    if (version <= (this.#known.get(streamId) ?? 0)) return;
    this.#known.delete(streamId);
    this.#known.set(streamId, version);
    if (this.#known.size > KNOWN_STREAMS) this.#known.delete(this.#known.keys().next().value as string);
  }

  /** Without the feed, how the base class refuses `readAll`, and this store `getLastGlobalPosition`. */
  protected override noGlobalOrder(): ValidationError {
    return new ValidationError("This DynamoDB event store keeps no global feed", [
      { path: ["globalFeed"], message: "created with globalFeed: false: readAll and subscribeToAll are unavailable" },
    ]);
  }
}

/** The envelopes of an append that committed at `version` (under commit number `commit` with the feed). */
function committedEvents(
  streamId: string,
  version: number,
  commit: number | undefined,
  encoded: readonly EncodedEvent[],
): EventEnvelope[] {
  return encoded.map((e, i) =>
    envelopeOf(
      streamId,
      version + i + 1,
      commit === undefined ? undefined : commit * POSITIONS_PER_COMMIT + i,
      e.event,
    ),
  );
}
