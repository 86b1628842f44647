import { checkDedupId, type DedupStore, integerOptionIssues, ValidationError } from "../../src/index.js";
import { num, readNumber, str } from "./attribute-value.js";
import {
  DynamoDbKeyedStore,
  type DynamoDbKeyedStoreOptions,
  EXPIRES_ATTRIBUTE,
  epochSeconds,
  KEYED_ITEM_SORT_KEY,
  TTL_ATTRIBUTE,
} from "./keyed-store.js";
import { partitionValue } from "./layout.js";

/**
 * Dedup items live under partition key `DEDUP_PARTITION_PREFIX + eventId`. The control character
 * cannot start a stream id, so the event table can hold them beside the streams.
 */
export const DEDUP_PARTITION_PREFIX = "\u001feventflows:dedup:";

export interface DynamoDbDedupStoreOptions extends DynamoDbKeyedStoreOptions {
  /** How long a handled event id is remembered. Defaults to 14 days, SQS's longest retention. */
  readonly ttlMs?: number;
}

/**
 * The SQS consumer's dedup store for many Lambda instances: one item per handled event id, in the
 * event store's table or one of its own. `add` is a PutItem (repeating it only restarts the TTL);
 * `has` is a consistent GetItem that treats an item past its expiry as absent, since DynamoDB TTL
 * deletes lazily.
 */
export class DynamoDbDedupStore extends DynamoDbKeyedStore implements DedupStore {
  readonly #ttlMs: number;

  /** @throws {ValidationError} a bad table or key name, TTL, region, endpoint or missing credentials. */
  constructor(options: DynamoDbDedupStoreOptions) {
    super(options, "DynamoDB dedup store", [], ["ttlMs"]);
    // As every dedup store checks it: `null` is refused, not read as the default.
    const issues = integerOptionIssues(options.ttlMs, "ttlMs", Number.MAX_SAFE_INTEGER);
    if (issues.length > 0) throw new ValidationError("Invalid DynamoDB dedup store options", issues);
    this.#ttlMs = options.ttlMs ?? 14 * 24 * 60 * 60 * 1000;
  }

  async has(eventId: string): Promise<boolean> {
    checkDedupId(eventId);
    const now = this.now();
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(eventId),
      ConsistentRead: true,
      ProjectionExpression: "#exp",
      ExpressionAttributeNames: { "#exp": EXPIRES_ATTRIBUTE },
    });
    const expiresAt = result.Item === undefined ? undefined : readNumber(result.Item, EXPIRES_ATTRIBUTE);
    return expiresAt !== undefined && expiresAt > now;
  }

  async add(eventId: string): Promise<void> {
    checkDedupId(eventId);
    const expiresAt = this.now() + this.#ttlMs;
    await this.client.send("PutItem", {
      TableName: this.layout.tableName,
      Item: {
        ...this.#key(eventId),
        [EXPIRES_ATTRIBUTE]: num(expiresAt),
        [TTL_ATTRIBUTE]: num(epochSeconds(expiresAt)),
      },
    });
  }

  #key(eventId: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, DEDUP_PARTITION_PREFIX + eventId)),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }
}
