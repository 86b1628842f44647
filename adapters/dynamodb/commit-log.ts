import { type EventEnvelope, ServiceError } from "../../src/index.js";
import { num, readBool, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, deadlinePassedError, isServiceErrorCode, type SendOptions, sleep } from "./client.js";
import { decodeItem, holdsNoEvent } from "./codec.js";
import {
  COUNTER_SORT_KEY,
  LOG_PARTITION,
  M,
  META_PARTITION,
  POSITIONS_PER_COMMIT,
  partitionValue,
  type TableLayout,
  WATERMARK_SORT_KEY,
} from "./layout.js";
import { retryPolicyOf, untilProcessed } from "./unprocessed.js";

/** One entry of the commit log: an append that committed, or a number declared unused (void). */
export interface CommitMarker {
  readonly commit: number;
  readonly void: boolean;
  readonly streamId: string;
  /** The version of the append's first event. */
  readonly first: number;
  readonly count: number;
  /** When the append (or the tombstone) was written, in ms since the epoch, by the writer's clock. */
  readonly at: number;
  readonly token: string | undefined;
}

const PAGE_SIZE = 250;
const BATCH_GET_KEYS = 100;

/**
 * The global feed's bookkeeping. Every append commits, in the same transaction as its events, a
 * marker item keyed by its commit number. Appends take the number in that transaction too (see
 * `planGroup`), except those that reserve it first from the counter item (`reserve`: after repeated
 * counter conflicts, and every append of earlier releases). A reader walks the markers in number
 * order; a number without a marker (a reserved number in flight, or one whose append failed or
 * died) is waited for, and after `gapTimeoutMs` declared void with a conditional put of a
 * tombstone. The append's own marker put is conditional too, so exactly one of the two wins: a
 * reader never passes a number whose events could still commit.
 */
export class CommitLog {
  readonly #client: AwsJsonClient;
  readonly #layout: TableLayout;
  readonly #gapTimeoutMs: number;
  readonly #waiting: { resolve: (commit: number) => void; reject: (error: unknown) => void }[] = [];
  #reserving = false;

  constructor(client: AwsJsonClient, layout: TableLayout, gapTimeoutMs: number) {
    this.#client = client;
    this.#layout = layout;
    this.#gapTimeoutMs = gapTimeoutMs;
  }

  /**
   * A fresh commit number. Appends of this process waiting at the same time share one counter
   * update: the counter is the feed's one hot item, so fewer writes to it mean more appends.
   * While an update is in flight, new requests wait for the next one. The update is a call of its
   * own (its deadline is the client's `timeoutMs` from when it is sent); a caller with a `deadline`
   * waits for it until then only, and gives back a number that arrives later.
   * @throws {AwsServiceError} `TimeoutError` (`gaveUp: "deadline"`): the deadline passed first.
   */
  reserve(deadline?: number): Promise<number> {
    const reserving = this.#enqueue();
    if (deadline === undefined) return reserving;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          reject(deadlinePassedError("UpdateItem", "the append's deadline passed while it waited for a commit number"));
          // No transaction will use a number that comes after: readers need not wait for it.
          reserving.then(
            (commit) => this.abandon(commit),
            () => undefined,
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      reserving.then(
        (commit) => {
          clearTimeout(timer);
          resolve(commit);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #enqueue(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (this.#reserving) return;
      this.#reserving = true;
      // After the current task: appends started together (Promise.all) share the first update too.
      queueMicrotask(() => void this.#reserveWaiting());
    });
  }

  async #reserveWaiting(): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, 1000);
        try {
          const last = await this.#moveCounter(batch.length);
          batch.forEach((waiter, i) => {
            waiter.resolve(last - batch.length + 1 + i);
          });
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
        }
      }
    } finally {
      this.#reserving = false;
    }
  }

  /**
   * Moves the counter by `count` and answers the last number taken. The update leaves its token and
   * that number on the counter item, and is conditional on that token not being there yet: the
   * client sends it again when an attempt's answer is lost, and a plain increment would then take a
   * second set of numbers, the first never used nor voided, so every reader would wait
   * `gapTimeoutMs` for it. Sent again, it fails its condition instead, and the counter item says what
   * the first attempt took, unless another reservation has written its own token since.
   */
  async #moveCounter(count: number): Promise<number> {
    const token = crypto.randomUUID();
    try {
      const result = await this.#client.send<{ Attributes?: Record<string, unknown> }>("UpdateItem", {
        TableName: this.#layout.tableName,
        Key: this.#key(META_PARTITION, COUNTER_SORT_KEY),
        UpdateExpression:
          "SET #next = if_not_exists(#next, :zero) + :n, #rt = :rt, #rl = if_not_exists(#next, :zero) + :n",
        ConditionExpression: "attribute_not_exists(#rt) OR #rt <> :rt",
        ExpressionAttributeNames: { "#next": M.next, "#rt": M.reservationToken, "#rl": M.reservedLast },
        ExpressionAttributeValues: { ":n": num(count), ":zero": num(0), ":rt": str(token) },
        ReturnValues: "UPDATED_NEW",
      });
      return readNumber(result.Attributes ?? {}, M.next) ?? counterUnknown("the counter update returned no value");
    } catch (error) {
      // Only an earlier attempt of this very update can have left its token there.
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
      return this.#reservedBy(token);
    }
  }

  /** The last number the reservation with `token` took, read from the counter item while it still names it. */
  async #reservedBy(token: string): Promise<number> {
    const { Item } = await this.#client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.#layout.tableName,
      Key: this.#key(META_PARTITION, COUNTER_SORT_KEY),
      ConsistentRead: true,
    });
    const item = Item ?? {};
    const last = readString(item, M.reservationToken) === token ? readNumber(item, M.reservedLast) : undefined;
    // Another reservation came in between: what the first attempt took stays unknown (readers void it).
    return last ?? counterUnknown("the counter update's answer was lost, and another reservation has moved it since");
  }

  /** Gives up a reserved number that no transaction used, so readers need not wait for it. */
  abandon(commit: number): void {
    this.#tombstone(commit).catch(() => undefined);
  }

  /**
   * Decides the fate of an append whose outcome is unknown (its request failed after being sent):
   * voiding the number makes a still-pending transaction fail for good; if a marker is there
   * already, its token says whether it is this append's.
   */
  async settle(commit: number, token: string, send: SendOptions = {}): Promise<"committed" | "void"> {
    if (await this.#tombstone(commit, send)) return "void";
    const marker = await this.#marker(commit, send);
    return marker !== undefined && readString(marker, M.token) === token ? "committed" : "void";
  }

  /**
   * Markers from `from` on, in commit order, each number resolved: yielded when committed, skipped
   * (or yielded as void, with `includeVoid`) when voided. Stops at the end of the log, or at a gap
   * still within its grace period only by waiting it out.
   */
  async *commits(from: number, includeVoid = false): AsyncGenerator<CommitMarker, void, undefined> {
    let next = from;
    // After a restart: the number whose marker turned up, which the query from it must start with.
    let found: number | undefined;
    for (;;) {
      const page = await this.#client.send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown }>("Query", {
        TableName: this.#layout.tableName,
        KeyConditionExpression: "#pk = :log AND #sk >= :from",
        ExpressionAttributeNames: { "#pk": this.#layout.partitionKey, "#sk": this.#layout.sortKey },
        ExpressionAttributeValues: { ":log": str(partitionValue(this.#layout, LOG_PARTITION)), ":from": num(next) },
        ConsistentRead: true,
        Limit: PAGE_SIZE,
      });
      const items = page.Items ?? [];
      if (found !== undefined && items.length === 0) throw notForward(`commit ${found} exists, yet is not in the log`);
      let restart = false;
      for (const raw of items) {
        const marker = this.#parse(raw);
        forward(marker.commit, next, found);
        found = undefined;
        while (next < marker.commit) {
          if ((await this.#resolveGap(next, marker.at)) === "exists") {
            restart = true;
            found = next;
            break;
          }
          if (includeVoid)
            yield { commit: next, void: true, streamId: "", first: 0, count: 0, at: Date.now(), token: undefined };
          next++;
        }
        if (restart) break;
        next = marker.commit + 1;
        if (includeVoid || !marker.void) yield marker;
      }
      if (!restart && (items.length === 0 || page.LastEvaluatedKey === undefined)) return;
    }
  }

  /** The events of committed markers, in feed order, read consistently. */
  async events(markers: readonly CommitMarker[]): Promise<EventEnvelope[]> {
    const keys: { stream: string; version: number }[] = [];
    for (const marker of markers) {
      for (let i = 0; i < marker.count; i++) keys.push({ stream: marker.streamId, version: marker.first + i });
    }
    const found = new Map<string, EventEnvelope>();
    for (let start = 0; start < keys.length; start += BATCH_GET_KEYS) {
      await this.#batchGet(keys.slice(start, start + BATCH_GET_KEYS), found);
    }
    // Events a hard delete or truncation removed are absent: the feed passes them by. (Found by
    // their stored keys, which carry the layout's prefix.)
    return keys.flatMap(({ stream, version }) => found.get(keyId(partitionValue(this.#layout, stream), version)) ?? []);
  }

  /**
   * The position of the newest event, with every commit number below it resolved: no event can
   * commit at or below it any more. Starts from the watermark the previous call left.
   */
  async lastPosition(): Promise<number> {
    const watermark = await this.#get(META_PARTITION, WATERMARK_SORT_KEY);
    const fromCommit = readNumber(watermark ?? {}, M.commit) ?? 0;
    let lastCommit = fromCommit;
    let position = readNumber(watermark ?? {}, M.position) ?? 0;
    for await (const marker of this.commits(fromCommit + 1, true)) {
      lastCommit = marker.commit;
      if (!marker.void) position = marker.commit * POSITIONS_PER_COMMIT + marker.count - 1;
    }
    if (lastCommit > fromCommit) await this.#raiseWatermark(lastCommit, position);
    return position;
  }

  async #raiseWatermark(commit: number, position: number): Promise<void> {
    try {
      await this.#client.send("UpdateItem", {
        TableName: this.#layout.tableName,
        Key: this.#key(META_PARTITION, WATERMARK_SORT_KEY),
        UpdateExpression: "SET #c = :c, #p = :p",
        ConditionExpression: "attribute_not_exists(#c) OR #c < :c",
        ExpressionAttributeNames: { "#c": M.commit, "#p": M.position },
        ExpressionAttributeValues: { ":c": num(commit), ":p": num(position) },
      });
    } catch (error) {
      // Another reader raised it further: fine.
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
  }

  /**
   * Waits for a missing commit number until `gapTimeoutMs` after the next committed one was
   * written (the missing number was reserved before that), then voids it. "exists": a marker
   * appeared (or another reader's tombstone): read again from there.
   */
  async #resolveGap(commit: number, successorAt: number): Promise<"void" | "exists"> {
    const deadline = Math.min(successorAt, Date.now()) + this.#gapTimeoutMs;
    for (let delay = 2; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
      if ((await this.#marker(commit)) !== undefined) return "exists";
      await sleep(Math.max(0, Math.min(delay, deadline - Date.now())));
    }
    return (await this.#tombstone(commit)) ? "void" : "exists";
  }

  /** Writes a tombstone unless the number has a marker; true when it was written. */
  async #tombstone(commit: number, send: SendOptions = {}): Promise<boolean> {
    try {
      await this.#client.send("PutItem", tombstoneItem(this.#layout, commit, Date.now()), send);
      return true;
    } catch (error) {
      if (isServiceErrorCode(error, "ConditionalCheckFailedException")) return false;
      throw error;
    }
  }

  #marker(commit: number, send: SendOptions = {}): Promise<Record<string, unknown> | undefined> {
    return this.#get(LOG_PARTITION, commit, send);
  }

  async #get(partition: string, sortKey: number, send: SendOptions = {}): Promise<Record<string, unknown> | undefined> {
    const result = await this.#client.send<{ Item?: Record<string, unknown> }>(
      "GetItem",
      { TableName: this.#layout.tableName, Key: this.#key(partition, sortKey), ConsistentRead: true },
      send,
    );
    return result.Item;
  }

  async #batchGet(
    keys: readonly { stream: string; version: number }[],
    found: Map<string, EventEnvelope>,
  ): Promise<void> {
    const layout = this.#layout;
    const idOf = (item: Record<string, unknown>) =>
      keyId(readString(item, layout.partitionKey) ?? "", readNumber(item, layout.sortKey) ?? 0);
    let pending = keys.map(({ stream, version }) => this.#key(stream, version));
    // Events a hard delete or truncation removed: their items stay, key-only (no event attribute).
    const removed = new Set<string>();
    // A marker is only ever written with its events, in one transaction; events missing after it
    // was seen can only be a read racing that transaction's last writes. Read again, briefly.
    // (Keys DynamoDB left unprocessed are no such thing: `#read` asks for them until it has them.)
    for (let round = 0; pending.length > 0; round++) {
      if (round > 8) {
        throw new ServiceError(
          "DynamoDB",
          "BatchGetItem",
          "IncompleteCommit",
          true,
          `${pending.length} committed event(s) could not be read`,
        );
      }
      if (round > 0) await sleep(Math.min(2 ** round, 100));
      for (const item of await this.#read(pending)) {
        if (holdsNoEvent(item)) removed.add(idOf(item));
        else found.set(idOf(item), decodeItem(layout, item));
      }
      pending = pending.filter((key) => !found.has(idOf(key)) && !removed.has(idOf(key)));
    }
  }

  /**
   * The items of `keys` (at most 100), read consistently. What DynamoDB leaves in `UnprocessedKeys`
   * (throttling, or an answer over 16 MB) is asked for again, exactly those keys, paced by the
   * client's retry policy (see untilProcessed).
   * @throws {ServiceError} `UnprocessedKeys`, retryable: keys stayed unprocessed (throttled).
   */
  async #read(keys: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const { tableName } = this.#layout;
    const items: Record<string, unknown>[] = [];
    await untilProcessed(
      async (pending) => {
        const result = await this.#client.send<{
          Responses?: Record<string, Record<string, unknown>[]>;
          UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
        }>("BatchGetItem", { RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } });
        items.push(...(result.Responses?.[tableName] ?? []));
        return result.UnprocessedKeys?.[tableName]?.Keys ?? [];
      },
      keys,
      retryPolicyOf(this.#client),
      (count, attempts) =>
        new ServiceError(
          "DynamoDB",
          "BatchGetItem",
          "UnprocessedKeys",
          true,
          `${count} committed event(s) stayed unprocessed: throttled, nothing read in ${attempts} attempt(s); read again`,
        ),
    );
    return items;
  }

  #parse(item: Record<string, unknown>): CommitMarker {
    return {
      commit: readNumber(item, this.#layout.sortKey) ?? 0,
      void: readBool(item, M.void),
      streamId: readString(item, M.stream) ?? "",
      first: readNumber(item, M.first) ?? 0,
      count: readNumber(item, M.count) ?? 0,
      at: readNumber(item, M.at) ?? 0,
      token: readString(item, M.token),
    };
  }

  /** The item key of a partition (a stream id, the log's or the meta partition), with the layout's prefix. */
  #key(partition: string, sortKey: number): Record<string, { S: string } | { N: string }> {
    const layout = this.#layout;
    return {
      [layout.partitionKey]: { S: partitionValue(layout, partition) },
      [layout.sortKey]: { N: String(sortKey) },
    };
  }
}

/**
 * Refuses a log marker that does not move the read forward: one below the number the query started from (an
 * older commit, or the same again), no whole number, or, after a restart, not the marker that turned up. The
 * log is paged by commit number, so the client's checks of LastEvaluatedKey cannot see such an answer, and a
 * read taking it would go back (or restart) without end. DynamoDB never answers so.
 * @throws {ServiceError} `MalformedResponse`, retryable.
 */
function forward(commit: number, next: number, found: number | undefined): void {
  if (!Number.isSafeInteger(commit)) throw notForward("a marker's commit number is no whole number");
  if (commit < next) throw notForward(`a query from commit ${next} returned commit ${commit}`);
  if (found !== undefined && commit !== found) throw notForward(`commit ${found} exists, yet is not in the log`);
}

const notForward = (what: string) =>
  new ServiceError("DynamoDB", "Query", "MalformedResponse", true, `the answer is not DynamoDB's: ${what}`);

const keyId = (stream: string, version: number) => `${version}\u0000${stream}`;

/**
 * The marker put of an append's transaction, keyed by its commit number: it fails if a reader
 * voided the number first (or if anything else holds it).
 */
export function markerItem(
  layout: TableLayout,
  commit: number,
  streamId: string,
  first: number,
  count: number,
  token: string,
  at: number,
): Record<string, unknown> {
  return {
    Put: {
      TableName: layout.tableName,
      Item: {
        [layout.partitionKey]: str(partitionValue(layout, LOG_PARTITION)),
        [layout.sortKey]: num(commit),
        [M.stream]: str(streamId),
        [M.first]: num(first),
        [M.count]: num(count),
        [M.at]: num(at),
        [M.token]: str(token),
      },
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeNames: { "#pk": layout.partitionKey },
    },
  };
}

/** The conditional put of a tombstone: number `commit` is void, unless a marker holds it already. */
export function tombstoneItem(layout: TableLayout, commit: number, at: number): Record<string, unknown> {
  return {
    TableName: layout.tableName,
    Item: {
      [layout.partitionKey]: str(partitionValue(layout, LOG_PARTITION)),
      [layout.sortKey]: num(commit),
      [M.void]: { BOOL: true },
      [M.at]: num(at),
    },
    ConditionExpression: "attribute_not_exists(#pk)",
    ExpressionAttributeNames: { "#pk": layout.partitionKey },
  };
}

/** A reservation whose number cannot be known: retryable, as the append goes again with a new one. */
function counterUnknown(message: string): never {
  throw new ServiceError("DynamoDB", "UpdateItem", "MissingAttributes", true, message);
}
