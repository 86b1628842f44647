import {
  CheckpointStore,
  checkpointConflict,
  compareCodePoints,
  HEALTH_CHECK_STREAM,
  type Issue,
  PayloadTooLargeError,
  PROJECTION_STATE_COLLECTION,
  type ReadModelDocument,
  type ReadModelDrop,
  ReadModelGenerationChangedError,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
  ReadModelTransactionTooLargeError,
  ServiceError,
  StagedCheckpointStore,
  ValidationError,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS, PageTrail, type SendOptions } from "../aws/index.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, type AwsJsonClientOptions, clientOption, isServiceErrorCode } from "./client.js";
import { KEYED_ITEM_SORT_KEY } from "./keyed-store.js";
import {
  LAYOUT_OPTIONS,
  MAX_ITEM_BYTES,
  MAX_TRANSACTION_BYTES,
  MAX_TRANSACTION_ITEMS,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import {
  freshNamespace,
  GenerationPointers,
  generationRefusal,
  NAMESPACE,
  RETIRED_AT,
  type ResolvedGeneration,
} from "./read-model-generations.js";
import {
  type PurgeRetiredGenerationsOptions,
  type PurgeRetiredGenerationsResult,
  purgeRetiredGenerations,
} from "./read-model-purge.js";
import { itemBytes } from "./saga-items.js";

/** Partition-key prefixes of read-model documents and checkpoints: the control character keeps them off stream ids. */
export const READ_MODEL_PARTITION_PREFIX = "\u001feventflows:rm:";
export const CHECKPOINT_PARTITION_PREFIX = "\u001feventflows:cp:";
const COLLECTION = "col";
const DOCUMENT = "doc";
const POSITION = "pos";
/** On a checkpoint written outside a transaction: that write's token, so a repeat of it knows itself (see writeCheckpoint). */
const WRITE_TOKEN = "tok";
/** The store named in its errors. */
const DYNAMODB = "DynamoDB";

export interface DynamoDbReadModelStoreOptions extends AwsJsonClientOptions, TableLayoutOptions {
  /** The client to use, e.g. the event store's (`store.client`), to share its retry budget. */
  readonly client?: AwsJsonClient;
  /**
   * How long a collection's generation pointer, once read, is trusted for reads: after a swap made
   * elsewhere, this store goes on reading the old (whole) generation for at most this long. Writes
   * never trust it blindly: each checks the pointer in its own request. Defaults to 1,000 ms; 0
   * reads the pointer before every read (one more `GetItem`).
   */
  readonly generationCacheMs?: number;
}

/** What the read-model and checkpoint stores' options take; a misspelt key was dropped for its default. */
export const READ_MODEL_KEYS = Object.keys({
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
  generationCacheMs: true,
} satisfies Record<keyof DynamoDbReadModelStoreOptions, true>);

/**
 * Read models as items of the event store's table (or one with its key schema): one item per
 * document (JSON text), one per checkpoint. A transaction stages its writes and commits them with
 * the checkpoint in one `TransactWriteItems`, the checkpoint's compare-and-set as its condition; one
 * over its 100 items or 4 MB is refused (`ReadModelTransactionTooLargeError`, nothing sent), and a
 * projection runner then commits its batch in halves. `list` is a Scan of the whole table: for tests
 * and tools only.
 *
 * Rebuilds (blue/green): a collection's documents live under a namespace that its generation
 * pointer names (none: the collection's own name). `swap` re-points collections in one
 * `TransactWriteItems`; every write carries a `ConditionCheck` of the pointers it used, so a runner
 * still on a swapped-out generation is refused (`ReadModelGenerationChangedError`) instead of
 * writing into it. Swapped-out generations stay until `purgeRetiredGenerations` deletes them.
 */
export class DynamoDbReadModelStore extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities = { atomicCheckpoints: true, rebuilds: true };
  readonly checkpoints: DynamoDbCheckpointStore;
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  readonly #pointers: GenerationPointers;

  constructor(options: DynamoDbReadModelStoreOptions) {
    super();
    this.layout = checkedLayout(options, "DynamoDB read-model store");
    this.client = clientOption(options);
    this.checkpoints = new DynamoDbCheckpointStore({ ...options, client: this.client });
    this.#pointers = new GenerationPointers(this.client, this.layout, options.generationCacheMs ?? 1000);
  }

  /**
   * Deletes the documents of generations that swaps and drops retired, oldest first, within a
   * budget of requests; call it again until `done` (it resumes where it stopped). Finding them is a
   * `Scan` of the whole table (documents are spread over partitions), so it costs a read of the
   * table per batch of up to 100 retired generations, and nothing when there is none.
   */
  purgeRetiredGenerations(options: PurgeRetiredGenerationsOptions = {}): Promise<PurgeRetiredGenerationsResult> {
    return purgeRetiredGenerations(this.client, this.layout, options, {
      documentPrefix: partitionValue(this.layout, READ_MODEL_PARTITION_PREFIX),
      namespaceAttribute: COLLECTION,
    });
  }

  protected async readDocument(collection: string, id: string): Promise<unknown> {
    return this.#read(await this.#pointers.resolve(collection), id);
  }

  protected async writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    const at = await this.#pointers.resolve(collection);
    await this.#guarded([{ Put: { TableName: this.layout.tableName, Item: this.#item(at, id, document) } }], [at]);
  }

  /** @throws {PayloadTooLargeError} the item, in the collection's current generation, over DynamoDB's 400 KB. */
  protected override async checkDocument(collection: string, id: string, document: unknown): Promise<void> {
    this.#item(await this.#pointers.resolve(collection), id, document);
  }

  protected async deleteDocument(collection: string, id: string): Promise<void> {
    const at = await this.#pointers.resolve(collection);
    await this.#guarded([{ Delete: { TableName: this.layout.tableName, Key: this.#key(at, id) } }], [at]);
  }

  protected async listDocuments(collection: string): Promise<ReadModelDocument[]> {
    const { namespace } = await this.#pointers.resolve(collection);
    const documents: ReadModelDocument[] = [];
    const prefix = partitionValue(this.layout, READ_MODEL_PARTITION_PREFIX);
    let start: unknown;
    const pageTrail = new PageTrail();
    do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown } = await this.client.send(
        "Scan",
        {
          TableName: this.layout.tableName,
          ConsistentRead: true,
          FilterExpression: "#col = :col AND begins_with(#pk, :prefix)",
          ExpressionAttributeNames: { "#col": COLLECTION, "#pk": this.layout.partitionKey },
          ExpressionAttributeValues: { ":col": str(namespace), ":prefix": str(prefix) },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        },
        { pageTrail },
      );
      for (const item of page.Items ?? []) {
        const key = readString(item, this.layout.partitionKey) ?? "";
        const [, id] = JSON.parse(key.slice(prefix.length)) as [string, string];
        documents.push({ id, document: storedDocument(readString(item, DOCUMENT) ?? "null", "list") });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    // By code point, as PostgreSQL and SQLite order ids (UTF-8 bytes), not by UTF-16 code unit.
    return documents.sort((a, b) => compareCodePoints(a.id, b.id));
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    // A put is staged as the item it will write (its JSON text), so one too large for DynamoDB is
    // refused at the put, in the handler, rather than failing every retry of the commit.
    const staged = new Map<string, { item: Record<string, unknown>; text: string } | { deleted: true }>();
    const checkpoints = new Map<string, { position: number; expected: number | undefined }>();
    // Each collection's generation as the transaction first met it: all its reads and writes use
    // that one, and the commit checks it is still the live one.
    const pinned = new Map<string, Promise<ResolvedGeneration>>();
    const pin = (collection: string) => {
      let at = pinned.get(collection);
      if (at === undefined) {
        at = this.#pointers.resolve(collection);
        pinned.set(collection, at);
      }
      return at;
    };
    const stagedKey = (collection: string, id: string) => JSON.stringify([collection, id]);
    const store = this;
    const tx: ReadModelTransaction = {
      checkpoints: new StagedCheckpointStore(this.checkpoints, checkpoints, "DynamoDB"),
      async get<D>(collection: string, id: string) {
        const found = staged.get(stagedKey(collection, id));
        if (found === undefined) return (await store.#read(await pin(collection), id)) as D | undefined;
        return "deleted" in found ? undefined : (JSON.parse(found.text) as D);
      },
      async put(collection, id, document) {
        const text = JSON.stringify(document);
        const item = store.#itemOfText(await pin(collection), id, text);
        staged.set(stagedKey(collection, id), { item, text });
      },
      async delete(collection, id) {
        staged.set(stagedKey(collection, id), { deleted: true });
      },
    };
    const result = await work(tx);
    const items: Record<string, unknown>[] = [];
    for (const [k, change] of staged) {
      const [collection, id] = JSON.parse(k) as [string, string];
      const at = await pin(collection);
      items.push(
        "deleted" in change
          ? { Delete: { TableName: this.layout.tableName, Key: this.#key(at, id) } }
          : { Put: { TableName: this.layout.tableName, Item: change.item } },
      );
    }
    const first = items.length;
    for (const [id, { position, expected }] of checkpoints)
      items.push(this.checkpoints.putRequest(id, position, expected));
    if (items.length === 0) return result;
    // Nothing to write: the pointers need no check (what was read is the caller's to judge).
    for (const at of await Promise.all(pinned.values())) if (guards(at)) items.push(this.#pointers.check(at));
    // Not a ValidationError: the writes are valid, only too many for one transaction (a runner splits its batch).
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new ReadModelTransactionTooLargeError(DYNAMODB, items.length, MAX_TRANSACTION_ITEMS, "writes");
    }
    assertTransactionBytes(items);
    try {
      // The token makes the client's repeat of a transaction whose answer was lost a no-op that succeeds,
      // not a refusal by the checkpoint's condition that its own first attempt moved.
      await this.client.send("TransactWriteItems", { TransactItems: items, ClientRequestToken: crypto.randomUUID() });
    } catch (error) {
      if (!isServiceErrorCode(error, "TransactionCanceledException")) throw error;
      const reasons = error.cancellationReasons;
      const refused = generationRefusal(this.#pointers, items, conditionFailures(reasons));
      if (refused !== undefined) throw refused;
      const ids = [...checkpoints.keys()];
      const failed = ids.findIndex((_, i) => reasons[first + i]?.code === "ConditionalCheckFailed");
      if (failed < 0) throw error;
      const id = ids[failed] as string;
      throw checkpointConflict(id, checkpoints.get(id)?.expected ?? 0, await this.checkpoints.load(id));
    }
    return result;
  }

  /**
   * Moves the collections by re-pointing them, in one `TransactWriteItems` with the single
   * documents and checkpoints it moves: `to` takes `from`'s namespace, `from` a fresh empty one,
   * and `to`'s old namespace is retired (its items stay until purged). Each pointer is written on
   * condition that it did not move since it was read, so two swaps never interleave.
   */
  protected override async swapGeneration(swap: ReadModelSwap): Promise<void> {
    assertDistinct(swap);
    const now = Date.now();
    const items: Record<string, unknown>[] = [];
    const checked = new Map<string, ResolvedGeneration>();
    for (const { from, to } of swap.collections) {
      const [source, target] = await Promise.all([this.#pointers.load(from), this.#pointers.load(to)]);
      items.push(
        this.#pointers.point(target, source.namespace),
        this.#pointers.point(source, freshNamespace()),
        this.#pointers.retire(target.namespace, now),
      );
    }
    for (const { from, to } of swap.documents) {
      const [source, target] = await Promise.all([
        this.#checkedLoad(from.collection, checked),
        this.#checkedLoad(to.collection, checked),
      ]);
      const text = await this.#readText(source, from.id);
      items.push(
        text === undefined
          ? { Delete: { TableName: this.layout.tableName, Key: this.#key(target, to.id) } }
          : { Put: { TableName: this.layout.tableName, Item: this.#itemOfText(target, to.id, text) } },
        {
          Delete: {
            TableName: this.layout.tableName,
            Key: this.#key(source, from.id),
            ...unchanged(DOCUMENT, str, text),
          },
        },
      );
    }
    for (const { from, to } of swap.checkpoints) {
      const position = await this.checkpoints.load(from);
      items.push(
        position === undefined
          ? { Delete: { TableName: this.layout.tableName, Key: this.checkpoints.keyOf(to) } }
          : this.checkpoints.putRequest(to, position, undefined),
        {
          Delete: {
            TableName: this.layout.tableName,
            Key: this.checkpoints.keyOf(from),
            ...unchanged(POSITION, num, position),
          },
        },
      );
    }
    await this.#commitGenerations("swap", items, checked, [
      ...swap.collections.flatMap(({ from, to }) => [from, to]),
      ...checked.keys(),
    ]);
  }

  /** Re-points the collections at fresh empty namespaces (the old ones retired), deletes the documents and checkpoints. */
  protected override async dropGeneration(drop: ReadModelDrop): Promise<void> {
    assertDistinct(
      {
        collections: drop.collections.map((c) => ({ from: c, to: c })),
        documents: drop.documents.map((k) => ({ from: k, to: k })),
        checkpoints: drop.checkpoints.map((c) => ({ from: c, to: c })),
      },
      true,
    );
    const now = Date.now();
    const items: Record<string, unknown>[] = [];
    const checked = new Map<string, ResolvedGeneration>();
    for (const collection of drop.collections) {
      const at = await this.#pointers.load(collection);
      items.push(this.#pointers.point(at, freshNamespace()), this.#pointers.retire(at.namespace, now));
    }
    for (const { collection, id } of drop.documents) {
      const at = await this.#checkedLoad(collection, checked);
      items.push({ Delete: { TableName: this.layout.tableName, Key: this.#key(at, id) } });
    }
    for (const id of drop.checkpoints)
      items.push({ Delete: { TableName: this.layout.tableName, Key: this.checkpoints.keyOf(id) } });
    await this.#commitGenerations("drop", items, checked, [...drop.collections, ...checked.keys()]);
  }

  /** A swap's or drop's one transaction; the pointers it touched are forgotten, so this store reads them anew. */
  async #commitGenerations(
    what: "swap" | "drop",
    items: Record<string, unknown>[],
    checked: ReadonlyMap<string, ResolvedGeneration>,
    touched: readonly string[],
  ): Promise<void> {
    for (const at of checked.values()) if (guards(at)) items.push(this.#pointers.check(at));
    if (items.length === 0) return;
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new ValidationError(`Read-model ${what} too large`, [
        {
          path: [],
          message: `${items.length} writes, DynamoDB commits at most ${MAX_TRANSACTION_ITEMS} at once: a collection takes 3, a document or checkpoint 2`,
        },
      ]);
    }
    try {
      // As a batch's: a repeat after a lost answer succeeds instead of failing the pointers' conditions it moved.
      await this.client.send("TransactWriteItems", { TransactItems: items, ClientRequestToken: crypto.randomUUID() });
    } catch (error) {
      if (!isServiceErrorCode(error, "TransactionCanceledException")) throw error;
      const failed = conditionFailures(error.cancellationReasons);
      const refused = generationRefusal(this.#pointers, items, failed);
      if (refused !== undefined) throw refused;
      // A document or checkpoint it moves changed after it was read: another writer is at work on the shadow.
      if (failed.length > 0) throw new ReadModelGenerationChangedError(touched[0] ?? "", { cause: error });
      throw error;
    } finally {
      this.#pointers.forget(touched);
    }
  }

  async #checkedLoad(collection: string, checked: Map<string, ResolvedGeneration>): Promise<ResolvedGeneration> {
    const known = checked.get(collection);
    if (known !== undefined) return known;
    const at = await this.#pointers.load(collection);
    checked.set(collection, at);
    return at;
  }

  /** One write outside a transaction, with the check of the pointer it used (none for projection state). */
  async #guarded(items: Record<string, unknown>[], used: readonly ResolvedGeneration[]): Promise<void> {
    const checks = used.filter(guards).map((at) => this.#pointers.check(at));
    if (checks.length === 0) {
      const [item] = items as [{ Put?: Record<string, unknown>; Delete?: Record<string, unknown> }];
      if (item.Put !== undefined) await this.client.send("PutItem", item.Put);
      else await this.client.send("DeleteItem", item.Delete);
      return;
    }
    const all = [...items, ...checks];
    try {
      await this.client.send("TransactWriteItems", { TransactItems: all });
    } catch (error) {
      if (!isServiceErrorCode(error, "TransactionCanceledException")) throw error;
      throw generationRefusal(this.#pointers, all, conditionFailures(error.cancellationReasons)) ?? error;
    }
  }

  async #read(at: ResolvedGeneration, id: string): Promise<unknown> {
    const text = await this.#readText(at, id);
    return text === undefined ? undefined : storedDocument(text, "get");
  }

  async #readText(at: ResolvedGeneration, id: string): Promise<string | undefined> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(at, id),
      ConsistentRead: true,
    });
    return result.Item === undefined ? undefined : readString(result.Item, DOCUMENT);
  }

  #key(at: ResolvedGeneration, id: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(
        partitionValue(this.layout, READ_MODEL_PARTITION_PREFIX + JSON.stringify([at.namespace, id])),
      ),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }

  #item(at: ResolvedGeneration, id: string, document: unknown): Record<string, unknown> {
    return this.#itemOfText(at, id, JSON.stringify(document));
  }

  /** @throws {PayloadTooLargeError} the item would be over DynamoDB's 400 KB. */
  #itemOfText(at: ResolvedGeneration, id: string, text: string): Record<string, unknown> {
    const item = { ...this.#key(at, id), [COLLECTION]: str(at.namespace), [DOCUMENT]: str(text) };
    const bytes = itemBytes(item);
    if (bytes > MAX_ITEM_BYTES) {
      throw new PayloadTooLargeError(`The read-model document "${at.collection}" "${id}"`, bytes, MAX_ITEM_BYTES);
    }
    return item;
  }
}

/**
 * Whether writes to the collection check its pointer. The projections' state collection holds
 * every projection's state and is never swapped whole (only single documents of it move), so its
 * pointer never changes and checking it would cost a `ConditionCheck` per batch for nothing.
 */
function guards(at: ResolvedGeneration): boolean {
  return at.collection !== PROJECTION_STATE_COLLECTION;
}

/** Refuses a transaction over DynamoDB's 4 MB before it is sent (a runner's batch is then split). */
function assertTransactionBytes(items: readonly Record<string, unknown>[]): void {
  let total = 0;
  for (const action of items) {
    const write = (action.Put ?? action.Delete ?? action.ConditionCheck) as {
      Item?: Record<string, unknown>;
      Key?: Record<string, unknown>;
    };
    total += itemBytes(write.Item ?? write.Key ?? {});
  }
  if (total > MAX_TRANSACTION_BYTES) {
    throw new ReadModelTransactionTooLargeError(DYNAMODB, total, MAX_TRANSACTION_BYTES, "bytes");
  }
}

/** Indexes of a cancelled transaction's items whose condition failed. */
function conditionFailures(reasons: readonly { readonly code: string }[]): number[] {
  return reasons.flatMap((reason, i) => (reason.code === "ConditionalCheckFailed" ? [i] : []));
}

/** A condition that the attribute still holds `value` (or that the item has none, when undefined). */
function unchanged<V>(attribute: string, encode: (value: V) => unknown, value: V | undefined): Record<string, unknown> {
  if (value === undefined) {
    return { ConditionExpression: "attribute_not_exists(#v)", ExpressionAttributeNames: { "#v": attribute } };
  }
  return {
    ConditionExpression: "#v = :v",
    ExpressionAttributeNames: { "#v": attribute },
    ExpressionAttributeValues: { ":v": encode(value) },
  };
}

/**
 * One transaction cannot touch an item twice: refuses a swap whose moves share a collection,
 * document or checkpoint (or move one onto itself), and one that moves a document of a collection
 * it moves whole, or the projections' state collection whole (its pointer is never checked).
 */
function assertDistinct(swap: ReadModelSwap, dropping = false): void {
  const issues: Issue[] = [];
  const seen = (kind: string, names: string[], path: (string | number)[]) => {
    const set = new Set<string>();
    for (const [i, name] of names.entries()) {
      if (set.has(name)) issues.push({ path: [...path, i], message: `${kind} "${name}" appears twice` });
      set.add(name);
    }
    return set;
  };
  const sides = (pairs: readonly { from: string; to: string }[]) =>
    dropping ? pairs.map((p) => p.from) : pairs.flatMap((p) => [p.from, p.to]);
  const collections = seen("collection", sides(swap.collections), ["collections"]);
  if (collections.has(PROJECTION_STATE_COLLECTION)) {
    issues.push({
      path: ["collections"],
      message: `"${PROJECTION_STATE_COLLECTION}" holds every projection's state: move its documents, not all of it`,
    });
  }
  const key = (k: { collection: string; id: string }) => JSON.stringify([k.collection, k.id]);
  seen("document", sides(swap.documents.map(({ from, to }) => ({ from: key(from), to: key(to) }))), ["documents"]);
  swap.documents.forEach(({ from, to }, i) => {
    if (collections.has(from.collection) || collections.has(to.collection)) {
      issues.push({ path: ["documents", i], message: "a document of a collection moved whole in the same step" });
    }
  });
  seen("checkpoint", sides(swap.checkpoints), ["checkpoints"]);
  if (issues.length > 0) throw new ValidationError("Invalid read-model swap", issues);
}

/** Checkpoints as items (`pos`), compare-and-set by condition expression. */
export class DynamoDbCheckpointStore extends CheckpointStore {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;

  constructor(options: DynamoDbReadModelStoreOptions) {
    super();
    this.layout = checkedLayout(options, "DynamoDB checkpoint store");
    this.client = clientOption(options);
  }

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    const item = await this.#item(id);
    if (item === undefined) return undefined;
    // A number attribute takes 2.5, -1 or 1e300, and an item may lack it (another tool wrote it): a
    // runner would resume from NaN or a fraction, or from 0 as if none were saved. As on PostgreSQL and SQLite.
    const position = readNumber(item, POSITION);
    if (position !== undefined && Number.isSafeInteger(position) && position >= 0) return position;
    throw new ServiceError(
      "DynamoDB",
      "loadCheckpoint",
      "CHECKPOINT_CORRUPT",
      false,
      "a stored checkpoint is not a position (an item another tool wrote): repair or delete it",
    );
  }

  /**
   * A conditional put carries a token of its own: when its answer is lost, the client sends it again and
   * the repeat fails the condition its first attempt moved; the stored token then says the write is this
   * one, done, and not another runner's.
   */
  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    const token = crypto.randomUUID();
    const { Put } = this.putRequest(id, position, expected);
    const Item = { ...(Put.Item as Record<string, unknown>), [WRITE_TOKEN]: str(token) };
    try {
      await this.client.send("PutItem", { ...Put, Item });
    } catch (error) {
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
      const stored = await this.#item(id);
      if (stored !== undefined && readString(stored, WRITE_TOKEN) === token) return;
      throw checkpointConflict(id, expected ?? 0, stored === undefined ? undefined : readNumber(stored, POSITION));
    }
  }

  /** One `GetItem` of the `eventflows-health` checkpoint, stopped when the signal fires. */
  override async ping(signal?: AbortSignal): Promise<void> {
    await this.#item(HEALTH_CHECK_STREAM, signal === undefined ? {} : { signal });
  }

  async #item(id: string, send: SendOptions = {}): Promise<Record<string, unknown> | undefined> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>(
      "GetItem",
      { TableName: this.layout.tableName, Key: this.#key(id), ConsistentRead: true },
      send,
    );
    return result.Item;
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    await this.client.send("DeleteItem", { TableName: this.layout.tableName, Key: this.#key(id) });
  }

  /** @internal The key of a checkpoint's item. */
  keyOf(id: string): Record<string, unknown> {
    return this.#key(id);
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
  const layout = tableLayout(options, READ_MODEL_KEYS);
  const own = new Set([COLLECTION, DOCUMENT, POSITION, WRITE_TOKEN, NAMESPACE, RETIRED_AT, "owner", "until"]);
  const issues: Issue[] = [];
  for (const field of ["partitionKey", "sortKey"] as const) {
    if (own.has(layout[field])) {
      issues.push({ path: [field], message: `"${layout[field]}" is an attribute the ${label} uses itself` });
    }
  }
  const cacheMs = (options as DynamoDbReadModelStoreOptions).generationCacheMs;
  if (cacheMs !== undefined && (typeof cacheMs !== "number" || !Number.isSafeInteger(cacheMs) || cacheMs < 0)) {
    issues.push({ path: ["generationCacheMs"], message: "generationCacheMs must be an integer of at least 0" });
  }
  if (issues.length > 0) throw new ValidationError(`Invalid ${label} options`, issues);
  return layout;
}

/**
 * A stored document's JSON text, parsed. Text that is not JSON (another tool wrote the item) is a
 * ServiceError `DOCUMENT_CORRUPT`, as on SQLite, quoting none of it (JSON.parse's SyntaxError would).
 */
function storedDocument(text: string, operation: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ServiceError(
      "DynamoDB",
      operation,
      "DOCUMENT_CORRUPT",
      false,
      "a stored read-model document is not JSON (an item another tool wrote): repair or delete it, or rebuild the projection",
    );
  }
}
