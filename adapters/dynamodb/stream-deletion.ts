import {
  checkExpectedVersion,
  EventCorruptError,
  type EventEnvelope,
  type EventMetadata,
  isStreamLifecycleEvent,
  lifecycleEvent,
  type PendingEvent,
  planStreamChange,
  type ReadStreamOptions,
  ServiceError,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  type StreamDeletionMode,
  type StreamDeletionState,
} from "../../src/index.js";
import { num, readJson, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, isServiceErrorCode, type SendOptions, sleep } from "./client.js";
import { D, HIDDEN_SORT_KEY, META_PARTITION, partitionValue, type TableLayout } from "./layout.js";
import { batchWriteAll } from "./unprocessed.js";

// A DynamoDbEventStore given `streamDeletion` delegates its stream changes here, and the reads of a
// stream's deletion state (a soft-deleted stream reads as empty). Its appends refuse deleted streams
// and its reads pass removed events (key-only items) by without it.

/** What the stream's first item says about its deletion, to a reader. */
interface DeletionState {
  readonly mode: StreamDeletionMode | undefined;
  /** The lowest version kept after truncations (1 when never truncated). */
  readonly cut: number;
}

function readFirstItemState(item: Record<string, unknown> = {}): DeletionState {
  const mode = readString(item, D.mode);
  return { mode: mode === "soft" || mode === "hard" ? mode : undefined, cut: readNumber(item, D.cut) ?? 1 };
}

/**
 * The change left pending on the stream's first item. One that is not JSON, or no object with a kind
 * and an event id (another tool wrote the item), makes that event's item corrupt: an
 * EventCorruptError, not JSON.parse's SyntaxError or a TypeError further on.
 */
function pendingOp(item: Record<string, unknown>, streamId: string): PendingOp {
  const corrupt = () => new EventCorruptError(streamId, 1, "its pending stream change is not one");
  const op = readJson(item, D.op, "null", corrupt) as Partial<PendingOp> | null;
  if (typeof op !== "object" || op === null || typeof op.kind !== "string" || typeof op.eventId !== "string")
    throw corrupt();
  return op as PendingOp;
}

/** The stream's first item (one consistent read), where its deletion state sits. */
async function readFirstItem(
  client: AwsJsonClient,
  layout: TableLayout,
  streamId: string,
  send: SendOptions = {},
): Promise<Record<string, unknown> | undefined> {
  const result = await client.send<{ Item?: Record<string, unknown> }>(
    "GetItem",
    {
      TableName: layout.tableName,
      Key: { [layout.partitionKey]: { S: partitionValue(layout, streamId) }, [layout.sortKey]: { N: "1" } },
      ConsistentRead: true,
      ProjectionExpression: "#pk, #del, #dv, #cut, #op, #dev",
      ExpressionAttributeNames: {
        "#pk": layout.partitionKey,
        "#del": D.mode,
        "#dv": D.version,
        "#cut": D.cut,
        "#op": D.op,
        "#dev": D.event,
      },
    },
    send,
  );
  return result.Item;
}

/** A read's deletion state, from its first page's first item (or read beside it). */
export type DeletionStateRead = (first: Record<string, unknown> | undefined) => Promise<DeletionState>;

/** What the stream's first item says to a change: the deletion state, and a change left pending. */
interface FirstItemState {
  readonly exists: boolean;
  readonly mode: StreamDeletionMode | undefined;
  readonly version: number | undefined;
  /** The lowest version kept after truncations (1 when never truncated). */
  readonly cut: number;
  readonly op: PendingOp | undefined;
}

/** A change written to the stream's first item before its slow part: whoever finds it finishes it. */
interface PendingOp {
  readonly kind: StreamChange["kind"];
  readonly eventId: string;
  readonly timestamp: string;
  readonly version: number;
  readonly removed: number;
  readonly before?: number;
  readonly from?: number;
  /** The lifecycle event's metadata, as the call gave it (checked). */
  readonly metadata?: EventMetadata;
}

/** What the deletions need from the store: its appends and reads, past the checks on `$` streams. */
export interface LifecycleLog {
  append(streamId: string, events: readonly PendingEvent[]): Promise<EventEnvelope[]>;
  read(streamId: string, options: ReadStreamOptions): AsyncGenerator<EventEnvelope, void, undefined>;
  /** The stream's version (a soft-deleted one's when deleted, 0 once hard-deleted). */
  version(streamId: string): Promise<number>;
}

const BATCH_WRITE_ITEMS = 25;
const CHANGE_ATTEMPTS = 10;

/** What a `DynamoDbEventStore` delegates its stream changes to (`streamDeletion` option). */
export interface DynamoDbStreamChanges {
  /**
   * The deletion state of a stream being read: a forward read from version 1 takes it from its first
   * item; any other gets it by a `GetItem` started now, beside its first page, with the read's
   * `send` options (an append's read-back passes its deadline).
   */
  readState(streamId: string, fromStart: boolean, send?: SendOptions): DeletionStateRead;
  commit(change: StreamChange): Promise<StreamChangeCommit>;
  hidden(): Promise<ReadonlySet<string>>;
  /**
   * The `$stream-deleted` event of a deleted stream, from its first item (one `GetItem`, then one
   * read of `$streams` at the version that item records); `undefined` when the stream is not deleted.
   */
  deletionEvent?(streamId: string): Promise<EventEnvelope | undefined>;
}

/** The `streamDeletion` option's type: builds a store's stream changes from its client, table and log. */
export type DynamoDbStreamDeletion = (
  client: AwsJsonClient,
  layout: TableLayout,
  log: LifecycleLog,
) => DynamoDbStreamChanges;

/**
 * Stream deletion for `DynamoDbEventStore`, opt-in so that a bundle that never deletes leaves it out:
 * `new DynamoDbEventStore({ ..., streamDeletion: dynamoDbStreamDeletion })`.
 */
export const dynamoDbStreamDeletion: DynamoDbStreamDeletion = (client, layout, log) =>
  new DynamoDbStreamDeletions(client, layout, log);

/**
 * Stream deletion on DynamoDB. A change first marks the stream in one transaction (its first item
 * takes the state and the pending change, a fence item takes the slot of its next append, the
 * hidden set takes its id), which readers and appends already obey; then replaces the events by
 * key-only items in batches, bottom up; then records the lifecycle event and clears the pending
 * change. No slot is ever freed (a deleted stream keeps its fence for good). A crash in
 * between leaves the mark: the next change of the stream (a repeat of the call) finishes the work.
 */
class DynamoDbStreamDeletions implements DynamoDbStreamChanges {
  readonly #client: AwsJsonClient;
  readonly #layout: TableLayout;
  readonly #log: LifecycleLog;

  constructor(client: AwsJsonClient, layout: TableLayout, log: LifecycleLog) {
    this.#client = client;
    this.#layout = layout;
    this.#log = log;
  }

  readState(streamId: string, fromStart: boolean, send: SendOptions = {}): DeletionStateRead {
    if (fromStart) {
      const { sortKey } = this.#layout;
      return async (first) => readFirstItemState(first && readNumber(first, sortKey) === 1 ? first : undefined);
    }
    const item = readFirstItem(this.#client, this.#layout, streamId, send);
    item.catch(() => undefined);
    return async () => readFirstItemState(await item);
  }

  async state(streamId: string): Promise<FirstItemState> {
    const item = await readFirstItem(this.#client, this.#layout, streamId);
    const op = readString(item ?? {}, D.op);
    return {
      ...readFirstItemState(item),
      exists: item !== undefined,
      version: readNumber(item ?? {}, D.version),
      op: op === undefined ? undefined : pendingOp(item ?? {}, streamId),
    };
  }

  async deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    const item = await readFirstItem(this.#client, this.#layout, streamId);
    if (readFirstItemState(item).mode === undefined) return undefined;
    const at = readNumber(item ?? {}, D.event);
    if (at !== undefined) {
      for await (const event of this.#log.read(STREAM_LIFECYCLE_STREAM, { fromVersion: at, maxCount: 1 })) return event;
      return undefined;
    }
    // A deletion still being finished (or one recorded before the first item kept its event's
    // version): its event, if recorded yet, is the stream's newest lifecycle event in `$streams`.
    for await (const event of this.#log.read(STREAM_LIFECYCLE_STREAM, { direction: "backward" })) {
      if (isStreamLifecycleEvent(event) && event.data.streamId === streamId) return event;
    }
    return undefined;
  }

  /** The ids `readAll` passes by. */
  async hidden(): Promise<ReadonlySet<string>> {
    const result = await this.#client.send<{ Item?: Record<string, { SS?: string[] }> }>("GetItem", {
      TableName: this.#layout.tableName,
      Key: this.#key(META_PARTITION, HIDDEN_SORT_KEY),
      ConsistentRead: true,
    });
    return new Set(result.Item?.[D.streams]?.SS ?? []);
  }

  /**
   * Commits one change: finishes a change left pending first, decides with `planStreamChange`, marks,
   * removes, records. A concurrent append or change cancels the mark's transaction: it reads again.
   */
  async commit(change: StreamChange): Promise<StreamChangeCommit> {
    const { streamId } = change;
    for (let attempt = 1; attempt <= CHANGE_ATTEMPTS; attempt++) {
      const first = await this.state(streamId);
      if (first.op !== undefined) {
        const finished = await this.#finish(streamId, first.op);
        // A repeat of the call that crashed: its work is done now.
        if (first.op.kind === change.kind && first.op.before === change.before) return finished;
        continue;
      }
      const stored = await this.#log.version(streamId);
      const state: StreamDeletionState | undefined =
        first.mode === undefined ? undefined : { mode: first.mode, version: first.version ?? stored };
      const { action, version } = planStreamChange(change, state, stored, checkExpectedVersion);
      if (action === "none") return { version, removed: 0 };
      const removed =
        action === "remove"
          ? version - first.cut + 1
          : action === "truncate"
            ? (change.before as number) - first.cut
            : 0;
      if (action === "truncate" && removed <= 0) return { version, removed: 0 };
      const op: PendingOp = {
        kind: change.kind,
        eventId: change.eventId,
        timestamp: change.timestamp,
        version,
        removed,
        from: first.cut,
        ...(change.before === undefined ? {} : { before: change.before }),
        ...(change.metadata === undefined ? {} : { metadata: change.metadata }),
      };
      try {
        await this.#client.send("TransactWriteItems", { TransactItems: this.#mark(streamId, action, op) });
      } catch (error) {
        if (isServiceErrorCode(error, "TransactionCanceledException")) {
          await sleep(Math.floor(Math.random() * 2 ** attempt));
          continue;
        }
        throw error;
      }
      return this.#finish(streamId, op);
    }
    throw new ServiceError(
      "DynamoDB",
      "TransactWriteItems",
      "StreamChangeContended",
      true,
      `stream "${streamId}" kept changing`,
    );
  }

  /** The mark: one transaction that readers and appends obey from its commit on. */
  #mark(streamId: string, action: string, op: PendingOp): Record<string, unknown>[] {
    const { tableName, partitionKey } = this.#layout;
    const first = this.#key(streamId, 1);
    const fence = this.#key(streamId, op.version + 1);
    const opValue = str(JSON.stringify(op));
    const names = { "#pk": partitionKey, "#del": D.mode, "#op": D.op };
    switch (action) {
      case "hide":
        return [
          {
            Update: {
              TableName: tableName,
              Key: first,
              UpdateExpression: "SET #del = :soft, #dv = :v, #op = :op",
              ConditionExpression: "attribute_exists(#pk) AND attribute_not_exists(#del) AND attribute_not_exists(#op)",
              ExpressionAttributeNames: { ...names, "#dv": D.version },
              ExpressionAttributeValues: { ":soft": str("soft"), ":v": num(op.version), ":op": opValue },
            },
          },
          this.#putFence(fence, "soft", op.version, "attribute_not_exists(#pk)"),
          this.#hiddenUpdate("ADD", streamId),
        ];
      case "unhide":
        return [
          {
            Update: {
              TableName: tableName,
              Key: first,
              UpdateExpression: "SET #op = :op REMOVE #del, #dv, #dev",
              ConditionExpression: "#del = :soft AND attribute_not_exists(#op)",
              ExpressionAttributeNames: { "#del": D.mode, "#op": D.op, "#dv": D.version, "#dev": D.event },
              ExpressionAttributeValues: { ":soft": str("soft"), ":op": opValue },
            },
          },
          {
            Delete: {
              TableName: tableName,
              Key: fence,
              ConditionExpression: "#del = :soft",
              ExpressionAttributeNames: { "#del": D.mode },
              ExpressionAttributeValues: { ":soft": str("soft") },
            },
          },
          this.#hiddenUpdate("DELETE", streamId),
        ];
      case "remove":
        return [
          {
            Update: {
              TableName: tableName,
              Key: first,
              UpdateExpression: "SET #del = :hard, #dv = :v, #op = :op REMOVE #dev",
              ConditionExpression:
                "attribute_exists(#pk) AND attribute_not_exists(#op) AND (attribute_not_exists(#del) OR #del = :soft)",
              ExpressionAttributeNames: { ...names, "#dv": D.version, "#dev": D.event },
              ExpressionAttributeValues: {
                ":hard": str("hard"),
                ":soft": str("soft"),
                ":v": num(op.version),
                ":op": opValue,
              },
            },
          },
          this.#putFence(fence, "hard", op.version, "attribute_not_exists(#pk) OR #del = :soft"),
          this.#hiddenUpdate("ADD", streamId),
        ];
      default:
        // truncate: the stream must still be at its version (no event in the next slot).
        return [
          {
            Update: {
              TableName: tableName,
              Key: first,
              UpdateExpression: "SET #cut = :cut, #op = :op",
              ConditionExpression:
                "attribute_exists(#pk) AND attribute_not_exists(#del) AND attribute_not_exists(#op) AND (attribute_not_exists(#cut) OR #cut < :cut)",
              ExpressionAttributeNames: { ...names, "#cut": D.cut },
              ExpressionAttributeValues: { ":cut": num(op.before as number), ":op": opValue },
            },
          },
          {
            ConditionCheck: {
              TableName: tableName,
              Key: fence,
              ConditionExpression: "attribute_not_exists(#pk)",
              ExpressionAttributeNames: { "#pk": partitionKey },
            },
          },
        ];
    }
  }

  /** The slow part of a marked change, idempotent: removals, the stub, the lifecycle event, the clear. */
  async #finish(streamId: string, op: PendingOp): Promise<StreamChangeCommit> {
    const { tableName, partitionKey } = this.#layout;
    if (op.kind === "hard-delete" || op.kind === "truncate") {
      const to = op.kind === "truncate" ? (op.before as number) - 1 : op.version;
      // Bottom up: an append built on a removed version fails its check, one on a kept version
      // finds its slot taken.
      await this.#remove(streamId, Math.max(2, op.from ?? 1), to);
      // The first event goes last, replaced by a stub that keeps the state.
      const item: Record<string, unknown> = {
        ...this.#key(streamId, 1),
        [D.op]: str(JSON.stringify(op)),
        ...(op.kind === "truncate"
          ? { [D.cut]: num(op.before as number) }
          : { [D.mode]: str("hard"), [D.version]: num(op.version) }),
      };
      await this.#client.send("PutItem", {
        TableName: tableName,
        Item: item,
        ConditionExpression: "#op = :op",
        ExpressionAttributeNames: { "#op": D.op },
        ExpressionAttributeValues: { ":op": str(JSON.stringify(op)) },
      });
    }
    if (op.kind === "hard-delete") {
      // The fence stays: it takes the slot after the stream's last version, so an append from a
      // writer that saw that version fails its put and reads the deletion.
      await this.#client.send("UpdateItem", {
        TableName: tableName,
        Key: this.#key(META_PARTITION, HIDDEN_SORT_KEY),
        ...hiddenExpression("DELETE", streamId),
      });
    }
    const change: StreamChange = {
      kind: op.kind,
      streamId,
      expectedVersion: "any",
      eventId: op.eventId,
      timestamp: op.timestamp,
      ...(op.before === undefined ? {} : { before: op.before }),
      ...(op.metadata === undefined ? {} : { metadata: op.metadata }),
    };
    const event =
      (await this.#recorded(op.eventId)) ??
      ((
        await this.#log.append(STREAM_LIFECYCLE_STREAM, [lifecycleEvent(change, op.version, op.removed)])
      )[0] as EventEnvelope);
    try {
      // A deletion's first item keeps where its event is, for `deletionEvent`.
      const deleted = op.kind === "soft-delete" || op.kind === "hard-delete";
      await this.#client.send("UpdateItem", {
        TableName: tableName,
        Key: this.#key(streamId, 1),
        UpdateExpression: deleted ? "SET #dev = :dev REMOVE #op" : "REMOVE #op",
        ConditionExpression: "attribute_exists(#pk) AND #op = :op",
        ExpressionAttributeNames: { "#pk": partitionKey, "#op": D.op, ...(deleted ? { "#dev": D.event } : {}) },
        ExpressionAttributeValues: {
          ":op": str(JSON.stringify(op)),
          ...(deleted ? { ":dev": num(event.version) } : {}),
        },
      });
    } catch (error) {
      // Another caller finished it first.
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
    return { version: op.version, removed: op.removed, event };
  }

  /** The lifecycle event of a change that stopped after appending it: among the last 100 of `$streams`. */
  async #recorded(eventId: string): Promise<EventEnvelope | undefined> {
    for await (const event of this.#log.read(STREAM_LIFECYCLE_STREAM, { direction: "backward", maxCount: 100 })) {
      if (event.id === eventId) return event;
    }
    return undefined;
  }

  /** Empties versions `from`…`to` in batches, retrying what DynamoDB left unprocessed (throttling). */
  async #remove(streamId: string, from: number, to: number): Promise<void> {
    const { tableName } = this.#layout;
    for (let start = from; start <= to; start += BATCH_WRITE_ITEMS) {
      const requests: unknown[] = [];
      for (let v = start; v <= Math.min(to, start + BATCH_WRITE_ITEMS - 1); v++) {
        // Overwritten by a key-only item, not deleted: the data and metadata are gone, but the slot
        // stays taken, so a stale append's conditional put into it still fails (no slot below a
        // stream's version is ever free again, which is what lets an append skip the version check).
        requests.push({ PutRequest: { Item: this.#key(streamId, v) } });
      }
      await batchWriteAll(
        this.#client,
        async (pending) => {
          const result = await this.#client.send<{ UnprocessedItems?: Record<string, unknown[]> }>("BatchWriteItem", {
            RequestItems: { [tableName]: pending },
          });
          return result.UnprocessedItems?.[tableName] ?? [];
        },
        requests,
        (count) => `stream "${streamId}": ${count} removal(s) left unprocessed; repeat the call to finish`,
      );
    }
  }

  #putFence(key: Record<string, unknown>, mode: StreamDeletionMode, version: number, condition: string) {
    return {
      Put: {
        TableName: this.#layout.tableName,
        Item: { ...key, [D.mode]: str(mode), [D.version]: num(version) },
        ConditionExpression: condition,
        ExpressionAttributeNames: condition.includes("#del")
          ? { "#pk": this.#layout.partitionKey, "#del": D.mode }
          : { "#pk": this.#layout.partitionKey },
        ...(condition.includes(":soft") ? { ExpressionAttributeValues: { ":soft": str("soft") } } : {}),
      },
    };
  }

  #hiddenUpdate(verb: "ADD" | "DELETE", streamId: string) {
    return {
      Update: {
        TableName: this.#layout.tableName,
        Key: this.#key(META_PARTITION, HIDDEN_SORT_KEY),
        ...hiddenExpression(verb, streamId),
      },
    };
  }

  /** The item key of a stream's version or of the meta partition, with the layout's prefix. */
  #key(partition: string, sortKey: number): Record<string, { S: string } | { N: string }> {
    const { partitionKey, sortKey: sortName } = this.#layout;
    return { [partitionKey]: { S: partitionValue(this.#layout, partition) }, [sortName]: { N: String(sortKey) } };
  }
}

function hiddenExpression(verb: "ADD" | "DELETE", streamId: string) {
  return {
    UpdateExpression: `${verb} #s :s`,
    ExpressionAttributeNames: { "#s": D.streams },
    ExpressionAttributeValues: { ":s": { SS: [streamId] } },
  };
}
