import { PROJECTION_STATE_COLLECTION, ReadModelGenerationChangedError } from "../../src/index.js";
import { num, readString, str } from "./attribute-value.js";
import type { AwsJsonClient } from "./client.js";
import { KEYED_ITEM_SORT_KEY } from "./keyed-store.js";
import { partitionValue, type TableLayout } from "./layout.js";

/**
 * Partition-key prefix of generation pointers: one item per collection that was ever swapped or
 * dropped, naming the namespace its documents live under now. A collection without one lives under
 * its own name (every read model written before rebuilds existed).
 */
export const GENERATION_PARTITION_PREFIX = "\u001feventflows:rmgen:";
/** The partition of retired namespaces waiting to be purged (sort key: a random id), and of the purge's cursor (sort key 0). */
export const RETIRED_PARTITION = "\u001feventflows:rmretired";
/** The pointer's (and a retired marker's) namespace attribute. */
export const NAMESPACE = "ns";
/** When a namespace was retired, ms since the epoch. */
export const RETIRED_AT = "at";

/** Where a collection's documents live, as last read from its pointer. */
export interface ResolvedGeneration {
  readonly collection: string;
  /** The namespace in the documents' keys (and their `col` attribute). */
  readonly namespace: string;
  /** The pointer's value as read; undefined when the collection has no pointer (it lives under its name). */
  readonly stored: string | undefined;
}

/**
 * The collections' generation pointers, read with a consistent `GetItem` and kept for `cacheMs`:
 * a reader elsewhere sees a swap at most that late (it goes on reading the whole old generation,
 * which stays until purged). Writers are never stale: every write carries `check(...)` of the
 * pointer it used, so one that raced a swap is refused.
 */
export class GenerationPointers {
  readonly #client: AwsJsonClient;
  readonly #layout: TableLayout;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { readonly at: number; readonly resolved: Promise<ResolvedGeneration> }>();

  constructor(client: AwsJsonClient, layout: TableLayout, cacheMs: number) {
    this.#client = client;
    this.#layout = layout;
    this.#cacheMs = cacheMs;
  }

  /** The collection's generation, from the cache while it is younger than `cacheMs`. */
  resolve(collection: string): Promise<ResolvedGeneration> {
    // The projections' state collection is never re-pointed (swaps and drops refuse it whole): no read.
    if (collection === PROJECTION_STATE_COLLECTION) return Promise.resolve(unpointed(collection));
    const now = Date.now();
    const cached = this.#cache.get(collection);
    if (cached !== undefined && now - cached.at < this.#cacheMs) return cached.resolved;
    const resolved = this.load(collection);
    this.#cache.set(collection, { at: now, resolved });
    // A failed read is not kept: the next call reads again.
    resolved.catch(() => this.#cache.delete(collection));
    return resolved;
  }

  /** The collection's generation, read now (swaps and drops decide on this, never on the cache). */
  async load(collection: string): Promise<ResolvedGeneration> {
    if (collection === PROJECTION_STATE_COLLECTION) return unpointed(collection);
    const result = await this.#client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.#layout.tableName,
      Key: this.#key(collection),
      ConsistentRead: true,
    });
    const stored = result.Item === undefined ? undefined : readString(result.Item, NAMESPACE);
    return { collection, namespace: stored ?? collection, stored };
  }

  /** Forgets what was cached (after a refused write, or this store's own swap). */
  forget(collections: Iterable<string>): void {
    for (const collection of collections) this.#cache.delete(collection);
  }

  /** A transaction item that fails unless the pointer still says what `resolved` read. */
  check(resolved: ResolvedGeneration): Record<string, unknown> {
    return {
      ConditionCheck: {
        TableName: this.#layout.tableName,
        Key: this.#key(resolved.collection),
        ...this.#unchanged(resolved),
      },
    };
  }

  /** A transaction item that points the collection at `namespace`, unless its pointer moved since `resolved`. */
  point(resolved: ResolvedGeneration, namespace: string): Record<string, unknown> {
    return {
      Put: {
        TableName: this.#layout.tableName,
        Item: { ...this.#key(resolved.collection), [NAMESPACE]: str(namespace) },
        ...this.#unchanged(resolved),
      },
    };
  }

  /** A transaction item that records `namespace` as retired, for `purgeRetiredGenerations`. */
  retire(namespace: string, now: number): Record<string, unknown> {
    return {
      Put: {
        TableName: this.#layout.tableName,
        Item: {
          [this.#layout.partitionKey]: str(partitionValue(this.#layout, RETIRED_PARTITION)),
          // Random, never 0 (the purge's cursor): two retirements never share an item.
          [this.#layout.sortKey]: num(1 + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1))),
          [NAMESPACE]: str(namespace),
          [RETIRED_AT]: num(now),
        },
      },
    };
  }

  /** Which collection a refused `check` or `point` item was about, from its key. */
  collectionOf(item: Record<string, unknown>): string | undefined {
    const action = (item.ConditionCheck ?? item.Put ?? item.Delete) as
      | { Key?: Record<string, unknown>; Item?: Record<string, unknown> }
      | undefined;
    const key = readString(action?.Key ?? action?.Item ?? {}, this.#layout.partitionKey);
    const prefix = partitionValue(this.#layout, GENERATION_PARTITION_PREFIX);
    return key?.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }

  #unchanged(resolved: ResolvedGeneration): Record<string, unknown> {
    return resolved.stored === undefined
      ? { ConditionExpression: "attribute_not_exists(#ns)", ExpressionAttributeNames: { "#ns": NAMESPACE } }
      : {
          ConditionExpression: "#ns = :ns",
          ExpressionAttributeNames: { "#ns": NAMESPACE },
          ExpressionAttributeValues: { ":ns": str(resolved.stored) },
        };
  }

  #key(collection: string): Record<string, unknown> {
    return {
      [this.#layout.partitionKey]: str(partitionValue(this.#layout, GENERATION_PARTITION_PREFIX + collection)),
      [this.#layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }
}

function unpointed(collection: string): ResolvedGeneration {
  return { collection, namespace: collection, stored: undefined };
}

/** A fresh namespace: a new, empty generation (short, so keys stay far below DynamoDB's 2,048 bytes). */
export function freshNamespace(): string {
  return `\u001fgen:${crypto.randomUUID()}`;
}

/**
 * The error for a transaction refused on `items[index]`, when that item is a generation pointer:
 * the pointers are forgotten, so a retry reads the new generation.
 */
export function generationRefusal(
  pointers: GenerationPointers,
  items: readonly Record<string, unknown>[],
  failed: readonly number[],
): ReadModelGenerationChangedError | undefined {
  for (const index of failed) {
    const item = items[index];
    const collection = item === undefined ? undefined : pointers.collectionOf(item);
    if (collection === undefined) continue;
    const touched = items.map((i) => pointers.collectionOf(i)).filter((c): c is string => c !== undefined);
    pointers.forget(touched);
    return new ReadModelGenerationChangedError(collection);
  }
  return undefined;
}
