import {
  CheckpointStore,
  checkpointConflict,
  type Issue,
  type ReadModelDocument,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelTransaction,
  StagedCheckpointStore,
  ValidationError,
} from "../../src/index.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, type AwsJsonClientOptions, createDynamoDbClient, isServiceErrorCode } from "./client.js";
import { KEYED_ITEM_SORT_KEY } from "./keyed-store.js";
import {
  MAX_TRANSACTION_ITEMS,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";

/** Partition-key prefixes of read-model documents and checkpoints: the control character keeps them off stream ids. */
export const READ_MODEL_PARTITION_PREFIX = "\u001feventflows:rm:";
export const CHECKPOINT_PARTITION_PREFIX = "\u001feventflows:cp:";
const COLLECTION = "col";
const DOCUMENT = "doc";
const POSITION = "pos";

export interface DynamoDbReadModelStoreOptions extends AwsJsonClientOptions, TableLayoutOptions {
  /** The client to use, e.g. the event store's (`store.client`), to share its retry budget. */
  readonly client?: AwsJsonClient;
}

/**
 * Read models as items of the event store's table (or one with its key schema): one item per
 * document (JSON text), one per checkpoint. A transaction stages its writes and commits them with
 * the checkpoint in one `TransactWriteItems` (at most 100 items: keep a runner's `batchSize` such that
 * a batch writes fewer documents), the checkpoint's compare-and-set as its condition. `list` is a
 * Scan of the whole table: for tests and tools only.
 */
export class DynamoDbReadModelStore extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities = { atomicCheckpoints: true };
  readonly checkpoints: DynamoDbCheckpointStore;
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;

  constructor(options: DynamoDbReadModelStoreOptions) {
    super();
    this.layout = checkedLayout(options, "DynamoDB read-model store");
    this.client = options.client ?? createDynamoDbClient(options);
    this.checkpoints = new DynamoDbCheckpointStore({ ...options, client: this.client });
  }

  protected async readDocument(collection: string, id: string): Promise<unknown> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(collection, id),
      ConsistentRead: true,
    });
    const text = result.Item === undefined ? undefined : readString(result.Item, DOCUMENT);
    return text === undefined ? undefined : JSON.parse(text);
  }

  protected async writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    await this.client.send("PutItem", { TableName: this.layout.tableName, Item: this.#item(collection, id, document) });
  }

  protected async deleteDocument(collection: string, id: string): Promise<void> {
    await this.client.send("DeleteItem", { TableName: this.layout.tableName, Key: this.#key(collection, id) });
  }

  protected async listDocuments(collection: string): Promise<ReadModelDocument[]> {
    const documents: ReadModelDocument[] = [];
    const prefix = partitionValue(this.layout, READ_MODEL_PARTITION_PREFIX);
    let start: unknown;
    do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown } = await this.client.send("Scan", {
        TableName: this.layout.tableName,
        ConsistentRead: true,
        FilterExpression: "#col = :col AND begins_with(#pk, :prefix)",
        ExpressionAttributeNames: { "#col": COLLECTION, "#pk": this.layout.partitionKey },
        ExpressionAttributeValues: { ":col": str(collection), ":prefix": str(prefix) },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      for (const item of page.Items ?? []) {
        const key = readString(item, this.layout.partitionKey) ?? "";
        const [, id] = JSON.parse(key.slice(prefix.length)) as [string, string];
        documents.push({ id, document: JSON.parse(readString(item, DOCUMENT) ?? "null") });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return documents.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    const staged = new Map<string, { collection: string; id: string; document: unknown } | { deleted: true }>();
    const checkpoints = new Map<string, { position: number; expected: number | undefined }>();
    const stagedKey = (collection: string, id: string) => JSON.stringify([collection, id]);
    const store = this;
    const tx: ReadModelTransaction = {
      checkpoints: new StagedCheckpointStore(this.checkpoints, checkpoints, "DynamoDB"),
      async get<D>(collection: string, id: string) {
        const found = staged.get(stagedKey(collection, id));
        if (found === undefined) return (await store.readDocument(collection, id)) as D | undefined;
        return "deleted" in found ? undefined : (structuredClone(found.document) as D);
      },
      async put(collection, id, document) {
        staged.set(stagedKey(collection, id), { collection, id, document: structuredClone(document) });
      },
      async delete(collection, id) {
        staged.set(stagedKey(collection, id), { deleted: true });
      },
    };
    const result = await work(tx);
    const items: Record<string, unknown>[] = [];
    for (const [k, change] of staged) {
      const [collection, id] = JSON.parse(k) as [string, string];
      items.push(
        "deleted" in change
          ? { Delete: { TableName: this.layout.tableName, Key: this.#key(collection, id) } }
          : { Put: { TableName: this.layout.tableName, Item: this.#item(collection, id, change.document) } },
      );
    }
    const first = items.length;
    for (const [id, { position, expected }] of checkpoints)
      items.push(this.checkpoints.putRequest(id, position, expected));
    if (items.length === 0) return result;
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new ValidationError("Read-model transaction too large", [
        {
          path: [],
          message: `${items.length} writes, DynamoDB commits at most ${MAX_TRANSACTION_ITEMS} at once: lower the runner's batchSize`,
        },
      ]);
    }
    try {
      await this.client.send("TransactWriteItems", { TransactItems: items });
    } catch (error) {
      if (!isServiceErrorCode(error, "TransactionCanceledException")) throw error;
      const reasons = error.cancellationReasons;
      const ids = [...checkpoints.keys()];
      const failed = ids.findIndex((_, i) => reasons[first + i]?.code === "ConditionalCheckFailed");
      if (failed < 0) throw error;
      const id = ids[failed] as string;
      throw checkpointConflict(id, checkpoints.get(id)?.expected ?? 0, await this.checkpoints.load(id));
    }
    return result;
  }

  #key(collection: string, id: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(
        partitionValue(this.layout, READ_MODEL_PARTITION_PREFIX + JSON.stringify([collection, id])),
      ),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }

  #item(collection: string, id: string, document: unknown): Record<string, unknown> {
    return { ...this.#key(collection, id), [COLLECTION]: str(collection), [DOCUMENT]: str(JSON.stringify(document)) };
  }
}

/** Checkpoints as items (`pos`), compare-and-set by condition expression. */
export class DynamoDbCheckpointStore extends CheckpointStore {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;

  constructor(options: DynamoDbReadModelStoreOptions) {
    super();
    this.layout = checkedLayout(options, "DynamoDB checkpoint store");
    this.client = options.client ?? createDynamoDbClient(options);
  }

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(id),
      ConsistentRead: true,
    });
    return result.Item === undefined ? undefined : readNumber(result.Item, POSITION);
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    try {
      await this.client.send("PutItem", this.putRequest(id, position, expected).Put);
    } catch (error) {
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
      throw checkpointConflict(id, expected ?? 0, await this.readCheckpoint(id));
    }
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    await this.client.send("DeleteItem", { TableName: this.layout.tableName, Key: this.#key(id) });
  }

  /** @internal The PutItem of a checkpoint, conditional when `expected` is given (none counts as 0). */
  putRequest(id: string, position: number, expected: number | undefined): { Put: Record<string, unknown> } {
    const put: Record<string, unknown> = {
      TableName: this.layout.tableName,
      Item: { ...this.#key(id), [POSITION]: num(position) },
    };
    if (expected === undefined) return { Put: put };
    return {
      Put: {
        ...put,
        ConditionExpression: expected === 0 ? "attribute_not_exists(#pos) OR #pos = :expected" : "#pos = :expected",
        ExpressionAttributeNames: { "#pos": POSITION },
        ExpressionAttributeValues: { ":expected": num(expected) },
      },
    };
  }

  #key(id: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, CHECKPOINT_PARTITION_PREFIX + id)),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }
}

function checkedLayout(options: TableLayoutOptions, label: string): TableLayout {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError(`Invalid ${label} options`, [{ path: [], message: "options are required" }]);
  }
  const layout = tableLayout(options);
  const own = new Set([COLLECTION, DOCUMENT, POSITION, "owner", "until"]);
  const issues: Issue[] = [];
  for (const field of ["partitionKey", "sortKey"] as const) {
    if (own.has(layout[field])) {
      issues.push({ path: [field], message: `"${layout[field]}" is an attribute the ${label} uses itself` });
    }
  }
  if (issues.length > 0) throw new ValidationError(`Invalid ${label} options`, issues);
  return layout;
}
