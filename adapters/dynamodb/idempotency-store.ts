import {
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  type IdempotencyClaim,
  IdempotencyClaimLostError,
  type IdempotencyStore,
  type Issue,
  PayloadTooLargeError,
  ServiceError,
  type StoredResponse,
  ulid,
  ValidationError,
} from "../../src/index.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import { isServiceErrorCode } from "./client.js";
import {
  DynamoDbKeyedStore,
  type DynamoDbKeyedStoreOptions,
  EXPIRES_ATTRIBUTE,
  epochSeconds,
  KEYED_ITEM_SORT_KEY,
  TTL_ATTRIBUTE,
} from "./keyed-store.js";
import { MAX_ITEM_BYTES, partitionValue } from "./layout.js";
import { itemBytes } from "./saga-items.js";

/** Idempotency items live under partition key `IDEMPOTENCY_PARTITION_PREFIX + key`, apart from any stream. */
export const IDEMPOTENCY_PARTITION_PREFIX = "\u001feventflows:idempotency:";

/**
 * Attribute names of idempotency items; a completed item has all three response attributes, and every
 * item the token of the claim that holds it.
 */
const I = { fingerprint: "fp", token: "tok", status: "st", body: "body", contentType: "ct" } as const;
/** A claim that lost its conditional put re-reads; the item may vanish between (released, expired) a few times at most. */
const CLAIM_ATTEMPTS = 5;

export interface DynamoDbIdempotencyStoreOptions extends DynamoDbKeyedStoreOptions {
  /** How long a completed response is replayed. Defaults to 24 hours. */
  readonly ttlMs?: number;
  /** How long an unfinished claim blocks its key (a crashed request never completes). Defaults to 60 seconds. */
  readonly inProgressTtlMs?: number;
}

/**
 * The Hono routes' idempotency store for many instances (Lambda, containers), one item per key, in
 * the event store's table or one of its own. A claim is a PutItem conditioned on no live item
 * (`attribute_not_exists` or expired), so of concurrent claims exactly one wins; a loser reads the
 * winner's item consistently. Expiry is checked on every read, as DynamoDB TTL deletes lazily.
 * `complete` is a PutItem conditioned on the claim's own token (or an expired item, or none), and
 * `release` a DeleteItem conditioned on it, so a request whose claim expired cannot overwrite or free
 * the claim of the request that took the key over.
 */
export class DynamoDbIdempotencyStore extends DynamoDbKeyedStore implements IdempotencyStore {
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;

  /** @throws {ValidationError} a bad table or key name, TTL, region, endpoint or missing credentials. */
  constructor(options: DynamoDbIdempotencyStoreOptions) {
    super(options, "DynamoDB idempotency store", Object.values(I), ["ttlMs", "inProgressTtlMs"]);
    const issues: Issue[] = [];
    this.#ttlMs = positiveInteger(options.ttlMs, 24 * 60 * 60 * 1000, "ttlMs", issues);
    this.#inProgressTtlMs = positiveInteger(options.inProgressTtlMs, 60_000, "inProgressTtlMs", issues);
    if (issues.length > 0) throw new ValidationError("Invalid DynamoDB idempotency store options", issues);
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = this.now();
      const expiresAt = now + this.#inProgressTtlMs;
      const token = ulid();
      try {
        await this.client.send("PutItem", {
          TableName: this.layout.tableName,
          Item: this.#record(key, fingerprint, token, expiresAt),
          ConditionExpression: "attribute_not_exists(#pk) OR #exp <= :now",
          ExpressionAttributeNames: { "#pk": this.layout.partitionKey, "#exp": EXPIRES_ATTRIBUTE },
          ExpressionAttributeValues: { ":now": num(now) },
        });
        return { state: "claimed", token };
      } catch (error) {
        if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
      }
      const existing = await this.#read(key, this.now(), token);
      if (existing !== undefined) return existing;
    }
    throw new ServiceError(
      "DynamoDB",
      "PutItem",
      "IdempotencyClaimContended",
      true,
      `key ${key} was claimed and freed ${CLAIM_ATTEMPTS} times while this claim ran`,
    );
  }

  /**
   * @throws {IdempotencyClaimLostError} another request claimed the key after this claim expired.
   * @throws {PayloadTooLargeError} the record with this response would be over DynamoDB's 400 KB item: nothing is sent.
   */
  async complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token, response);
    const now = this.now();
    const expiresAt = now + this.#ttlMs;
    const item = {
      ...this.#record(key, fingerprint, token, expiresAt),
      [I.status]: num(response.status),
      [I.body]: str(response.body),
      [I.contentType]: str(response.contentType),
    };
    // Counted as DynamoDB counts (UTF-8 names and values), so a response too large for one item is
    // refused typed before any request, not a ValidationException from DynamoDB; the claim stays.
    const bytes = itemBytes(item);
    if (bytes > MAX_ITEM_BYTES) {
      throw new PayloadTooLargeError(`The response to remember (status ${response.status})`, bytes, MAX_ITEM_BYTES);
    }
    try {
      await this.client.send("PutItem", {
        TableName: this.layout.tableName,
        Item: item,
        // The claim's own item, an expired one, or none (deleted by TTL): never another live claim.
        ConditionExpression: "attribute_not_exists(#pk) OR #exp <= :now OR (#tok = :tok AND #fp = :fp)",
        ExpressionAttributeNames: {
          "#pk": this.layout.partitionKey,
          "#exp": EXPIRES_ATTRIBUTE,
          "#tok": I.token,
          "#fp": I.fingerprint,
        },
        ExpressionAttributeValues: { ":now": num(now), ":tok": str(token), ":fp": str(fingerprint) },
      });
    } catch (error) {
      if (isServiceErrorCode(error, "ConditionalCheckFailedException")) throw new IdempotencyClaimLostError();
      throw error;
    }
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token);
    try {
      await this.client.send("DeleteItem", {
        TableName: this.layout.tableName,
        Key: this.#key(key),
        ConditionExpression: "#fp = :fp AND #tok = :tok AND attribute_not_exists(#st)",
        ExpressionAttributeNames: { "#fp": I.fingerprint, "#tok": I.token, "#st": I.status },
        ExpressionAttributeValues: { ":fp": str(fingerprint), ":tok": str(token) },
      });
    } catch (error) {
      // Another request's claim, a completed key, or none at all: nothing of ours to free.
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
  }

  /**
   * The live record of `key`, if any. One holding `token` is this claim's own: its PutItem was
   * written but the answer was lost, and the client's retry then failed the condition.
   */
  async #read(key: string, now: number, token: string): Promise<IdempotencyClaim | undefined> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(key),
      ConsistentRead: true,
    });
    const item = result.Item;
    if (item === undefined) return undefined;
    const expiresAt = readNumber(item, EXPIRES_ATTRIBUTE);
    const fingerprint = readString(item, I.fingerprint);
    if (expiresAt === undefined || expiresAt <= now || fingerprint === undefined) return undefined;
    const status = readNumber(item, I.status);
    if (status === undefined && readString(item, I.token) === token) return { state: "claimed", token };
    if (status === undefined) return { state: "in-progress", fingerprint };
    // A number attribute takes what is no final HTTP status (another tool wrote it): replayed, `new Response` threw.
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new ServiceError(
        "DynamoDB",
        "claimIdempotencyKey",
        "IDEMPOTENCY_CORRUPT",
        false,
        "a stored response has no HTTP status",
      );
    }
    return {
      state: "completed",
      fingerprint,
      response: {
        status,
        body: readString(item, I.body) ?? "",
        contentType: readString(item, I.contentType) ?? "",
      },
    };
  }

  /** What a claim and a completed response both store: the key, whose claim it is, and until when. */
  #record(key: string, fingerprint: string, token: string, expiresAt: number): Record<string, unknown> {
    return {
      ...this.#key(key),
      [I.fingerprint]: str(fingerprint),
      [I.token]: str(token),
      [EXPIRES_ATTRIBUTE]: num(expiresAt),
      [TTL_ATTRIBUTE]: num(epochSeconds(expiresAt)),
    };
  }

  #key(key: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, IDEMPOTENCY_PARTITION_PREFIX + key)),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string, issues: Issue[]): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) issues.push({ path: [name], message: "must be a positive integer" });
  return value;
}
