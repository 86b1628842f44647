import { type ClaimDueTimeoutsOptions, type SagaTimeout, sagaCorruptError } from "../../src/index.js";
import { PageTrail } from "../aws/index.js";
import { num, readJson, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, isServiceErrorCode } from "./client.js";
import { partitionValue, type TableLayout } from "./layout.js";
import { dueShard, S, timeoutSortKey } from "./saga-items.js";

type Page = { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown };
/** What a walk of a shard's pages adds to the partition key condition (see `#shardPages`). */
interface ShardQuery {
  readonly sortKeyCondition?: string;
  readonly filter?: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
  readonly limit?: number;
}
/** Where a timeout's item is: its shard and sort key. */
export interface TimeoutPlace {
  readonly shard: number;
  readonly sortKey: string;
}
/** A pending timeout found by its id: where its item is, and whose timeout it is. */
export interface LocatedTimeout {
  readonly place: TimeoutPlace;
  readonly saga: string;
  readonly key: string;
  readonly name: string;
}
const REMEMBERED_CLAIMS = 1000;

/**
 * The pending timeouts of a `DynamoDbSagaStore`, in `shards` partitions sorted by due time: the
 * items a commit writes and deletes, claims with leases, the next due time, drops by id.
 */
export class SagaTimeoutShards {
  /** Timeouts claimed here, by id: a drop finds their keys without a search. */
  readonly #claimed = new Map<string, TimeoutPlace>();

  constructor(
    readonly client: AwsJsonClient,
    readonly layout: TableLayout,
    readonly shards: number,
  ) {}

  /** The conditional put of a scheduled timeout (a transaction item), and where it goes. */
  async put(timeout: SagaTimeout, shard: number): Promise<{ place: TimeoutPlace; request: Record<string, unknown> }> {
    const sortKey = await timeoutSortKey(timeout.dueAt, timeout.id);
    return {
      place: { shard, sortKey },
      request: {
        Put: {
          TableName: this.layout.tableName,
          Item: {
            ...this.key({ shard, sortKey }),
            [S.id]: str(timeout.id),
            [S.saga]: str(timeout.saga),
            [S.key]: str(timeout.key),
            [S.name]: str(timeout.name),
            [S.data]: str(JSON.stringify(timeout.data ?? null)),
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": this.layout.partitionKey },
        },
      },
    };
  }

  /** The delete of a pending timeout (a transaction item). */
  remove(place: TimeoutPlace): Record<string, unknown> {
    return { Delete: { TableName: this.layout.tableName, Key: this.key(place) } };
  }

  /** Claims up to `limit` due timeouts, free or with a lapsed lease, oldest first per shard. */
  async claim(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const now = Math.floor(options.now);
    const sagas = options.sagas === undefined ? undefined : new Set(options.sagas);
    const claimed: SagaTimeout[] = [];
    for (let shard = 0; shard < this.shards && claimed.length < options.limit; shard++) {
      const pages = this.#shardPages(shard, {
        sortKeyCondition: "#sk < :bound",
        filter: "attribute_not_exists(#owner) OR #until <= :now",
        names: { "#sk": this.layout.sortKey, "#owner": S.owner, "#until": S.until },
        values: { ":bound": num(now + 1), ":now": num(now) },
        limit: Math.max(25, options.limit * 2),
      });
      for await (const page of pages) {
        // Another deployment's timeouts are passed by here rather than in the filter expression,
        // whose IN takes at most 100 names.
        const candidates = (page.Items ?? []).filter(
          (item) => sagas === undefined || sagas.has(readString(item, S.saga) ?? ""),
        );
        // Claim as many as still wanted at once; those another scheduler took first are skipped.
        for (let i = 0; i < candidates.length && claimed.length < options.limit; ) {
          const batch = candidates.slice(i, i + options.limit - claimed.length);
          i += batch.length;
          const won = await Promise.all(batch.map((item) => this.#claimOne(item, shard, now, options)));
          for (const timeout of won) if (timeout !== undefined) claimed.push(timeout);
        }
        if (claimed.length >= options.limit) break;
      }
    }
    return claimed.sort((a, b) => a.dueAt - b.dueAt);
  }

  /**
   * The earliest due time, or a held timeout's lease end if later, of `sagas` (all when undefined).
   * Per shard, from the first page of 100 that holds one of theirs (or the last page): past a full page,
   * that page's last due time (every later one is due no earlier), so early, never late. The pages of
   * another deployment's timeouts before it are read through, as a claim does, not taken as the answer.
   */
  async nextDue(sagas?: readonly string[]): Promise<number | undefined> {
    const only = sagas === undefined ? undefined : new Set(sagas);
    let next: number | undefined;
    for (let shard = 0; shard < this.shards; shard++) {
      const at = await this.#nextInShard(shard, only);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  async #nextInShard(shard: number, sagas: ReadonlySet<string> | undefined): Promise<number | undefined> {
    for await (const page of this.#shardPages(shard, { limit: 100 })) {
      const items = page.Items ?? [];
      let next: number | undefined;
      for (const item of items) {
        if (sagas !== undefined && !sagas.has(readString(item, S.saga) ?? "")) continue;
        const until = readString(item, S.owner) === undefined ? undefined : readNumber(item, S.until);
        const at = Math.max(this.#dueOf(item), until ?? Number.NEGATIVE_INFINITY);
        if (next === undefined || at < next) next = at;
      }
      const last = items.at(-1);
      if (next !== undefined) {
        return page.LastEvaluatedKey !== undefined && last !== undefined ? Math.min(next, this.#dueOf(last)) : next;
      }
    }
    return undefined;
  }

  /**
   * A pending timeout by id, for its drop: one this store claimed is read by its key, another (or one no longer
   * there: fired, or rescheduled under its id at another due time) searched for in the shards.
   */
  async locate(timeoutId: string): Promise<LocatedTimeout | undefined> {
    const claimed = this.#claimed.get(timeoutId);
    this.#claimed.delete(timeoutId);
    if (claimed !== undefined) {
      const { Item } = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
        TableName: this.layout.tableName,
        Key: this.key(claimed),
        ConsistentRead: true,
      });
      if (Item !== undefined && readString(Item, S.id) === timeoutId) return located(claimed, Item);
    }
    return this.#find(timeoutId);
  }

  key(place: TimeoutPlace): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, dueShard(place.shard))),
      [this.layout.sortKey]: { N: place.sortKey },
    };
  }

  async #claimOne(
    item: Record<string, unknown>,
    shard: number,
    now: number,
    options: ClaimDueTimeoutsOptions,
  ): Promise<SagaTimeout | undefined> {
    const sortKey = (item[this.layout.sortKey] as { N: string }).N;
    try {
      await this.client.send("UpdateItem", {
        TableName: this.layout.tableName,
        Key: this.key({ shard, sortKey }),
        // attribute_exists: a timeout cancelled or fired meanwhile is not brought back by the update. The
        // lease this very update sets (owner and end) passes too: the client's repeat of a claim whose answer
        // was lost takes the timeout again instead of finding it leased and leaving it out.
        ConditionExpression:
          "attribute_exists(#pk) AND (attribute_not_exists(#owner) OR #until <= :now OR (#owner = :owner AND #until = :until))",
        UpdateExpression: "SET #owner = :owner, #until = :until",
        ExpressionAttributeNames: { "#pk": this.layout.partitionKey, "#owner": S.owner, "#until": S.until },
        ExpressionAttributeValues: {
          ":now": num(now),
          ":owner": str(options.owner),
          ":until": num(now + options.leaseMs),
        },
      });
    } catch (error) {
      if (isServiceErrorCode(error, "ConditionalCheckFailedException")) return undefined;
      throw error;
    }
    const id = readString(item, S.id) ?? "";
    this.#claimed.set(id, { shard, sortKey });
    if (this.#claimed.size > REMEMBERED_CLAIMS) this.#claimed.delete(this.#claimed.keys().next().value as string);
    return {
      id,
      saga: readString(item, S.saga) ?? "",
      key: readString(item, S.key) ?? "",
      name: readString(item, S.name) ?? "",
      dueAt: this.#dueOf(item),
      // Data another tool wrote that is not JSON: SAGA_CORRUPT, not JSON.parse's SyntaxError.
      data: readJson(item, S.data, "null", () =>
        sagaCorruptError("DynamoDB", "claimDueTimeouts", `the stored timeout "${id}": its data is not JSON`),
      ),
    };
  }

  async #find(timeoutId: string): Promise<LocatedTimeout | undefined> {
    for (let shard = 0; shard < this.shards; shard++) {
      const pages = this.#shardPages(shard, {
        filter: "#id = :id",
        names: { "#id": S.id },
        values: { ":id": str(timeoutId) },
      });
      for await (const page of pages) {
        const found = page.Items?.[0];
        if (found !== undefined) {
          return located({ shard, sortKey: (found[this.layout.sortKey] as { N: string }).N }, found);
        }
      }
    }
    return undefined;
  }

  /**
   * The pages of one shard's partition in due order, as Query answers them (consistent reads, one
   * PageTrail for the walk, so a repeated key fails it): `query` adds the caller's sort-key bound,
   * filter and page size. Stopping early (a `break`) reads no further page.
   */
  async *#shardPages(shard: number, query: ShardQuery): AsyncGenerator<Page, void, undefined> {
    const pageTrail = new PageTrail();
    let start: unknown;
    do {
      const page: Page = await this.client.send(
        "Query",
        {
          TableName: this.layout.tableName,
          ConsistentRead: true,
          KeyConditionExpression:
            query.sortKeyCondition === undefined ? "#pk = :pk" : `#pk = :pk AND ${query.sortKeyCondition}`,
          ...(query.filter === undefined ? {} : { FilterExpression: query.filter }),
          ExpressionAttributeNames: { "#pk": this.layout.partitionKey, ...query.names },
          ExpressionAttributeValues: { ":pk": str(partitionValue(this.layout, dueShard(shard))), ...query.values },
          ...(query.limit === undefined ? {} : { Limit: query.limit }),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        },
        { pageTrail },
      );
      start = page.LastEvaluatedKey;
      yield page;
    } while (start !== undefined);
  }

  /** The due time a sort key starts with (`<dueAt>.<hash>`). */
  #dueOf(item: Record<string, unknown>): number {
    return Number((item[this.layout.sortKey] as { N: string }).N.split(".")[0]);
  }
}

/** A timeout's item as what a drop needs of it. */
function located(place: TimeoutPlace, item: Record<string, unknown>): LocatedTimeout {
  return {
    place,
    saga: readString(item, S.saga) ?? "",
    key: readString(item, S.key) ?? "",
    name: readString(item, S.name) ?? "",
  };
}
