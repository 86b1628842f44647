import {
  HEALTH_CHECK_STREAM,
  SNAPSHOT_STORE_OPTIONS,
  SnapshotCorruptError,
  SnapshotStore,
  type SnapshotStoreCapabilities,
  type SnapshotStoreOptions,
  type StoredSnapshot,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS, PageTrail, type SendOptions } from "../aws/index.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import { fromBase64, toBase64 } from "./base64.js";
import { type AwsJsonClient, type AwsJsonClientOptions, clientOption } from "./client.js";
import {
  A,
  LAYOUT_OPTIONS,
  MAX_ITEM_BYTES,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import { ensureEventStoreTable, tableWait } from "./table.js";
import { batchWriteAll } from "./unprocessed.js";

export interface DynamoDbSnapshotStoreOptions extends SnapshotStoreOptions, AwsJsonClientOptions, TableLayoutOptions {
  /**
   * The client to use, e.g. the event store's (`store.client`), to share its retry budget. When
   * given, the region, endpoint, credentials, fetch and retry options are the client's.
   */
  readonly client?: AwsJsonClient;
}

/**
 * Snapshots of stream `s` live under partition key `SNAPSHOT_PARTITION_PREFIX + s`, sort key = the
 * version. The prefix starts with a control character, which stream ids cannot contain, so the
 * partitions never meet a stream's or the global feed's, and the event table can hold them.
 */
export const SNAPSHOT_PARTITION_PREFIX = "\u001feventflows:snapshot:";

/** Attribute names of snapshot items; the payload and time reuse the event items' names. */
const S = { schemaVersion: "sv", encoding: "enc", payload: A.data, createdAt: A.timestamp } as const;

/** Deletes per BatchWriteItem, DynamoDB's maximum. */
const BATCH_SIZE = 25;
// The widest values of the other attributes: a number takes at most 21 bytes; a stream id has at
// most 512 UTF-16 units, 3 UTF-8 bytes each; an encoding is a 64-character name plus "+deflate-raw".
const NUMBER_BYTES = 21;
const MAX_STREAM_ID_BYTES = 512 * 3;
const MAX_ENCODING_BYTES = 64 + "+deflate-raw".length;
const CREATED_AT_BYTES = "2024-01-01T00:00:00.000Z".length;

interface Key {
  readonly version: number;
  readonly key: Record<string, unknown>;
}

/** What the snapshot store's options take; a misspelt `keeplast` was dropped for its default. */
export const SNAPSHOT_STORE_KEYS = Object.keys({
  ...SNAPSHOT_STORE_OPTIONS,
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
} satisfies Record<keyof DynamoDbSnapshotStoreOptions, true>);

/**
 * Snapshots in DynamoDB, by default in the event store's table (partitions of their own, see
 * {@link SNAPSHOT_PARTITION_PREFIX}), or in a table of their own with the same key schema. One item
 * per snapshot: the payload as Binary, gzip-compressed by default, within the 400 KB item limit
 * (`capabilities.maxPayloadBytes` leaves room for the other attributes, so an oversized payload is a
 * PayloadTooLargeError before any request). A save is a PutItem, with a consistent query of the
 * stream's snapshot keys alongside it and a BatchWriteItem of those beyond `keepLast`.
 */
export class DynamoDbSnapshotStore extends SnapshotStore {
  protected override readonly dbSystem: string = "dynamodb";
  readonly capabilities: SnapshotStoreCapabilities;
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;

  /** @throws {ValidationError} a bad table or key name, option, region, endpoint or missing credentials. */
  constructor(options: DynamoDbSnapshotStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid DynamoDB snapshot store options", [
        { path: [], message: "options are required" },
      ]);
    }
    super({ ...options, compression: options.compression ?? { format: "gzip" } });
    const layout = tableLayout(options, SNAPSHOT_STORE_KEYS);
    const clash = [layout.partitionKey, layout.sortKey].filter((name) => (Object.values(S) as string[]).includes(name));
    if (clash.length > 0) {
      throw new ValidationError("Invalid DynamoDB table layout", [
        { path: ["partitionKey"], message: `"${clash[0]}" is an attribute the snapshot store uses itself` },
      ]);
    }
    this.layout = layout;
    this.client = clientOption(options);
    const otherBytes =
      utf8Length(layout.partitionKey) +
      utf8Length(partitionValue(layout, SNAPSHOT_PARTITION_PREFIX)) +
      MAX_STREAM_ID_BYTES +
      utf8Length(layout.sortKey) +
      NUMBER_BYTES +
      S.schemaVersion.length +
      NUMBER_BYTES +
      S.encoding.length +
      MAX_ENCODING_BYTES +
      S.createdAt.length +
      CREATED_AT_BYTES +
      S.payload.length;
    this.capabilities = { maxPayloadBytes: MAX_ITEM_BYTES - otherBytes };
  }

  /**
   * Creates the table if it does not exist (the event store's key schema, on-demand billing) and
   * waits until it is active. Needed only for a table of the snapshots' own: the event store's
   * `ensureTable()` makes the shared one.
   */
  async ensureTable(options: { readonly timeoutMs?: number } = {}): Promise<"created" | "exists"> {
    return ensureEventStoreTable(this.client, this.layout, tableWait(options));
  }

  protected async writeSnapshot(record: StoredSnapshot, keepLast: number): Promise<{ readonly pruned: number }> {
    const { tableName, partitionKey, sortKey } = this.layout;
    const partition = this.#partition(record.streamId);
    const put = this.client.send("PutItem", {
      TableName: tableName,
      Item: {
        [partitionKey]: str(partition),
        [sortKey]: num(record.version),
        [S.schemaVersion]: num(record.schemaVersion),
        [S.encoding]: str(record.encoding),
        [S.payload]: { B: toBase64(record.payload) },
        [S.createdAt]: str(record.createdAt),
      },
    });
    if (keepLast === Number.POSITIVE_INFINITY) {
      await put;
      return { pruned: 0 };
    }
    // The keys are read while the item is written, a round trip saved. Whether the query sees the
    // new item or not, the newest keepLast are worked out over what it saw plus the new version. A
    // concurrent save's items missing from that view only rank the others higher, so none of the
    // newest keepLast is ever deleted; the next save trims any excess.
    const [written, listed] = await Promise.allSettled([put, this.#keys(partition)]);
    if (written.status === "rejected") throw written.reason;
    if (listed.status === "rejected") throw listed.reason;
    const keys = listed.value.filter((k) => k.version !== record.version);
    keys.push({ version: record.version, key: this.#key(partition, record.version) });
    keys.sort((a, b) => b.version - a.version);
    const doomed = keys.slice(keepLast);
    await this.#deleteAll(doomed);
    return { pruned: doomed.length };
  }

  protected readSnapshot(streamId: string, maxVersion: number | undefined): Promise<StoredSnapshot | undefined> {
    return this.#newest(streamId, maxVersion);
  }

  /** The newest snapshot of `eventflows-health` (one Query), stopped when the signal fires. */
  override async ping(signal?: AbortSignal): Promise<void> {
    await this.#newest(HEALTH_CHECK_STREAM, undefined, signal === undefined ? {} : { signal });
  }

  async #newest(
    streamId: string,
    maxVersion: number | undefined,
    send: SendOptions = {},
  ): Promise<StoredSnapshot | undefined> {
    const { tableName, partitionKey, sortKey } = this.layout;
    const result = await this.client.send<{ Items?: Record<string, unknown>[] }>(
      "Query",
      {
        TableName: tableName,
        KeyConditionExpression: maxVersion === undefined ? "#pk = :p" : "#pk = :p AND #sk <= :v",
        ExpressionAttributeNames:
          maxVersion === undefined ? { "#pk": partitionKey } : { "#pk": partitionKey, "#sk": sortKey },
        ExpressionAttributeValues:
          maxVersion === undefined
            ? { ":p": str(this.#partition(streamId)) }
            : { ":p": str(this.#partition(streamId)), ":v": num(maxVersion) },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1,
      },
      send,
    );
    const item = result.Items?.[0];
    return item === undefined ? undefined : this.#decode(streamId, item);
  }

  protected async deleteSnapshots(streamId: string): Promise<number> {
    const keys = await this.#keys(this.#partition(streamId));
    await this.#deleteAll(keys);
    return keys.length;
  }

  #decode(streamId: string, item: Record<string, unknown>): StoredSnapshot {
    const version = readNumber(item, this.layout.sortKey) ?? 0;
    const schemaVersion = readNumber(item, S.schemaVersion);
    const encoding = readString(item, S.encoding);
    const createdAt = readString(item, S.createdAt);
    const payload = (item[S.payload] as { B?: unknown } | undefined)?.B;
    if (
      schemaVersion === undefined ||
      encoding === undefined ||
      createdAt === undefined ||
      typeof payload !== "string"
    ) {
      throw new SnapshotCorruptError(streamId, version, "the item lacks attributes a snapshot has");
    }
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(payload);
    } catch (error) {
      throw new SnapshotCorruptError(streamId, version, "the payload is not base64", { cause: error });
    }
    return { streamId, version, schemaVersion, encoding, payload: bytes, createdAt };
  }

  /** Every snapshot key of a partition, newest first (keys only: the payloads stay on the server). */
  async #keys(partition: string): Promise<Key[]> {
    const { tableName, partitionKey, sortKey } = this.layout;
    const keys: Key[] = [];
    let startKey: unknown;
    const pageTrail = new PageTrail();
    do {
      const page = await this.client.send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown }>(
        "Query",
        {
          TableName: tableName,
          KeyConditionExpression: "#pk = :p",
          ExpressionAttributeNames: { "#pk": partitionKey, "#sk": sortKey },
          ExpressionAttributeValues: { ":p": str(partition) },
          ProjectionExpression: "#sk",
          ScanIndexForward: false,
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        },
        { pageTrail },
      );
      for (const item of page.Items ?? []) {
        const version = readNumber(item, sortKey) ?? 0;
        keys.push({ version, key: this.#key(partition, version) });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return keys;
  }

  /**
   * BatchWriteItem in groups of 25. DynamoDB may leave part of a batch unprocessed (throttling):
   * that part is sent again after the client's backoff, up to its attempt limit (see batchWriteAll).
   */
  async #deleteAll(keys: readonly Key[]): Promise<void> {
    const { tableName } = this.layout;
    const batches: Key[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_SIZE) batches.push(keys.slice(i, i + BATCH_SIZE));
    await Promise.all(
      batches.map((batch) =>
        batchWriteAll(
          this.client,
          async (pending) => {
            const result = await this.client.send<{ UnprocessedItems?: Record<string, unknown[]> }>("BatchWriteItem", {
              RequestItems: { [tableName]: pending },
            });
            return result.UnprocessedItems?.[tableName] ?? [];
          },
          batch.map(({ key }) => ({ DeleteRequest: { Key: key } })),
          (count) => `${count} snapshot deletion(s) left unprocessed`,
        ),
      ),
    );
  }

  /** A stream's snapshot partition: after the layout's tenant prefix, if any. */
  #partition(streamId: string): string {
    return partitionValue(this.layout, SNAPSHOT_PARTITION_PREFIX + streamId);
  }

  #key(partition: string, version: number): Record<string, unknown> {
    return { [this.layout.partitionKey]: str(partition), [this.layout.sortKey]: num(version) };
  }
}
