import { checkedClock, functionIssues, HEALTH_CHECK_STREAM, type Issue, ValidationError } from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS } from "../aws/index.js";
import { type AwsJsonClient, type AwsJsonClientOptions, clientOption, isServiceErrorCode } from "./client.js";
import {
  A,
  LAYOUT_OPTIONS,
  M,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import { ensureEventStoreTable, tableWait } from "./table.js";

/**
 * The DynamoDB TTL attribute of the dedup and idempotency items: epoch seconds, as DynamoDB's TTL
 * wants. A table has one TTL attribute, so both stores share this name; event items never carry it.
 */
export const TTL_ATTRIBUTE = "ttl";
/** The expiry in ms, checked on every read: DynamoDB deletes expired items only eventually (often days later). */
export const EXPIRES_ATTRIBUTE = "exp";
/** Sort key of every dedup and idempotency item: one item per partition. */
export const KEYED_ITEM_SORT_KEY = 0;

export interface DynamoDbKeyedStoreOptions extends AwsJsonClientOptions, TableLayoutOptions {
  /** The client to use, e.g. the event store's (`store.client`), to share its retry budget. */
  readonly client?: AwsJsonClient;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

const KEYED_STORE_KEYS = Object.keys({
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
  now: true,
} satisfies Record<keyof DynamoDbKeyedStoreOptions, true>);

/** What the dedup and idempotency stores share: a table (the event store's, or their own), a client, a clock. */
export abstract class DynamoDbKeyedStore {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  protected readonly now: () => number;

  protected constructor(
    options: DynamoDbKeyedStoreOptions,
    label: string,
    attributes: readonly string[],
    /** The keys the subclass's options take besides these: any other is refused. */
    keys: readonly string[],
  ) {
    if (typeof options !== "object" || options === null) {
      throw new ValidationError(`Invalid ${label} options`, [{ path: [], message: "options are required" }]);
    }
    const layout = tableLayout(options, [...KEYED_STORE_KEYS, ...keys]);
    const own = new Set([...attributes, TTL_ATTRIBUTE, EXPIRES_ATTRIBUTE, ...Object.values(A), ...Object.values(M)]);
    const issues: Issue[] = [];
    for (const field of ["partitionKey", "sortKey"] as const) {
      if (own.has(layout[field])) {
        issues.push({ path: [field], message: `"${layout[field]}" is an attribute the ${label} uses itself` });
      }
    }
    issues.push(...functionIssues(options.now, "now"));
    if (issues.length > 0) throw new ValidationError(`Invalid ${label} options`, issues);
    this.layout = layout;
    this.client = clientOption(options);
    // Read through a check: a reading that is no time is a ValidationError, not a request DynamoDB refuses.
    this.now = checkedClock(options.now);
  }

  /**
   * For health checks: one `GetItem` of a key neither store writes. It proves the endpoint, the
   * credentials and the table with a permission both stores hold already (DescribeTable would need one
   * more in every deployed policy), for half a read unit.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    const { tableName, partitionKey, sortKey } = this.layout;
    // Under the tenant's prefix too: a role limited to the tenant's keys may read it.
    const key = {
      [partitionKey]: { S: partitionValue(this.layout, HEALTH_CHECK_STREAM) },
      [sortKey]: { N: String(KEYED_ITEM_SORT_KEY) },
    };
    const request = {
      TableName: tableName,
      Key: key,
      ProjectionExpression: "#pk",
      ExpressionAttributeNames: { "#pk": partitionKey },
    };
    await this.client.send("GetItem", request, signal === undefined ? {} : { signal });
  }

  /**
   * Creates the table if it does not exist (the event store's key schema), waits until it is active,
   * and turns on DynamoDB TTL over {@link TTL_ATTRIBUTE} so expired items get deleted.
   * @throws {ValidationError} the table already has TTL on another attribute.
   */
  async ensureTable(options: { readonly timeoutMs?: number } = {}): Promise<"created" | "exists"> {
    const outcome = await ensureEventStoreTable(this.client, this.layout, tableWait(options));
    await this.ensureTimeToLive();
    return outcome;
  }

  /**
   * Turns on DynamoDB TTL over {@link TTL_ATTRIBUTE}, unless it is on already.
   * @throws {ServiceError} `ValidationException`: DynamoDB refused to turn it on (within an hour of the last change).
   */
  async ensureTimeToLive(): Promise<void> {
    if (await this.#timeToLiveOn()) return;
    try {
      await this.client.send("UpdateTimeToLive", {
        TableName: this.layout.tableName,
        TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
      });
    } catch (error) {
      // Refused: another process turned it on meanwhile, or (on AWS) TTL changed within the last hour, a table
      // whose TTL is being turned off included; that refusal would leave it off, so only the first passes.
      if (!isServiceErrorCode(error, "ValidationException") || !(await this.#timeToLiveOn())) throw error;
    }
  }

  /** Whether TTL is on (or being turned on) over {@link TTL_ATTRIBUTE}. */
  async #timeToLiveOn(): Promise<boolean> {
    const { tableName } = this.layout;
    const described = await this.client.send<{
      TimeToLiveDescription?: { TimeToLiveStatus?: string; AttributeName?: string };
    }>("DescribeTimeToLive", { TableName: tableName });
    const { TimeToLiveStatus: status, AttributeName: name } = described.TimeToLiveDescription ?? {};
    if (status !== "ENABLED" && status !== "ENABLING") return false;
    if (name === TTL_ATTRIBUTE) return true;
    throw new ValidationError("Table has TTL on another attribute", [
      {
        path: ["tableName"],
        message: `${tableName} expires items by "${name}"; these stores need "${TTL_ATTRIBUTE}"`,
      },
    ]);
  }
}

export const epochSeconds = (ms: number): number => Math.ceil(ms / 1000);
