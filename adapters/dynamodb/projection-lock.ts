import { assertFunction, checkedClock, ProjectionLock, ValidationError } from "../../src/index.js";
import { num, str } from "./attribute-value.js";
import { type AwsJsonClient, clientOption, isServiceErrorCode } from "./client.js";
import { KEYED_ITEM_SORT_KEY } from "./keyed-store.js";
import { partitionValue, type TableLayout, tableLayout } from "./layout.js";
import type { DynamoDbReadModelStoreOptions } from "./read-model-store.js";
import { READ_MODEL_KEYS } from "./read-model-store.js";

/** Partition-key prefix of lease items. */
export const LEASE_PARTITION_PREFIX = "\u001feventflows:lease:";

export interface DynamoDbProjectionLockOptions extends DynamoDbReadModelStoreOptions {
  /** The clock, in ms since the epoch. Leases compare times of the processes' clocks: keep them in sync. */
  readonly now?: () => number;
}

/**
 * Projection leases as items: taking or renewing one is a conditional PutItem that succeeds when
 * no lease exists, the caller holds it, or it has lapsed (`until` reached, as in memory). A dead owner's lease
 * lapses after the runner's `leaseMs`; releasing deletes the item if the caller still holds it.
 */
export class DynamoDbProjectionLock extends ProjectionLock {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  readonly #now: () => number;

  constructor(options: DynamoDbProjectionLockOptions) {
    super();
    // Checked before anything reads them: null options or a clock that is not one were TypeErrors.
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid DynamoDB projection lock options", [
        { path: [], message: "options are required" },
      ]);
    }
    assertFunction(options.now, "now", "DynamoDB projection lock options", false);
    // A misspelt `tableName` was refused already; a misspelt `now` or `tenant` was dropped for its default.
    this.layout = tableLayout(options, [...READ_MODEL_KEYS, "now"]);
    this.client = clientOption(options);
    // Read through a check, as the dedup and idempotency stores do: a reading that is no time (a string
    // concatenated into \`until\`, NaN) is a ValidationError, not a wrong lease or a request DynamoDB refuses.
    this.#now = checkedClock(options.now);
  }

  protected async tryAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    try {
      await this.client.send("PutItem", {
        TableName: this.layout.tableName,
        Item: { ...this.#key(name), owner: str(owner), until: num(now + ttlMs) },
        ConditionExpression: "attribute_not_exists(#owner) OR #owner = :owner OR #until <= :now",
        ExpressionAttributeNames: { "#owner": "owner", "#until": "until" },
        ExpressionAttributeValues: { ":owner": str(owner), ":now": num(now) },
      });
      return true;
    } catch (error) {
      if (isServiceErrorCode(error, "ConditionalCheckFailedException")) return false;
      throw error;
    }
  }

  protected async releaseLease(name: string, owner: string): Promise<void> {
    try {
      await this.client.send("DeleteItem", {
        TableName: this.layout.tableName,
        Key: this.#key(name),
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": str(owner) },
      });
    } catch (error) {
      // Someone else holds it by now (ours lapsed): nothing of ours to release.
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
  }

  #key(name: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, LEASE_PARTITION_PREFIX + name)),
      [this.layout.sortKey]: num(KEYED_ITEM_SORT_KEY),
    };
  }
}
