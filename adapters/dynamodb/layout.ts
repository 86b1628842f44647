import { assertObject, type Issue, unknownKeyIssues, ValidationError } from "../../src/index.js";
import { DYNAMODB_MAX_ITEM_BYTES } from "../aws/index.js";

/**
 * Where things live in the table. Events: one item per event, the stream id as partition key and
 * the version as (numeric) sort key. The global feed's bookkeeping sits under two partition keys
 * that start with a control character, which stream ids cannot contain, so they never collide.
 * With a tenant (a table tenants share), every partition key, those included, starts with `<tenant>#`.
 */
export interface TableLayout {
  readonly tableName: string;
  /** The partition key attribute (a string): the stream id. */
  readonly partitionKey: string;
  /** The sort key attribute (a number): the version. */
  readonly sortKey: string;
  /**
   * Starts every partition key this store reads or writes (`<tenant>#`), when the table is shared by
   * tenants; absent, keys are the bare stream ids and the feed's own partitions, as without tenancy.
   */
  readonly keyPrefix?: string;
}

const TENANT_ISSUE = "not a tenant id (see tenantId)";
/**
 * The core's tenant ids (`isTenantId` of `@eventflows/core`: 1 to 48 of `a-z 0-9 -`, not starting with
 * `-`), spelled out here so that a store without a tenant bundles none of the tenancy module.
 * tenant-prefix.test.ts checks it agrees with `isTenantId`.
 */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,47}$/;

/** Between a tenant and the rest of a key: never in a tenant id, so no tenant's prefix starts another's. */
export const TENANT_KEY_SEPARATOR = "#";

/**
 * The partition key prefix of a tenant in a shared table: `<tenant>#`. Tenant ids hold no `#`, so
 * the prefixes are prefix-free: whatever follows (any stream id, the feed's control-character
 * partitions), a key names one tenant only, and IAM can grant a tenant `<tenant>#*` (see `iam.ts`).
 * @throws {ValidationError} not a tenant id (see `tenantId` of `@eventflows/core`).
 */
export function tenantKeyPrefix(tenant: string): string {
  if (typeof tenant !== "string" || !TENANT_ID.test(tenant)) {
    throw new ValidationError("Invalid DynamoDB table layout", [{ path: ["tenant"], message: TENANT_ISSUE }]);
  }
  return tenant + TENANT_KEY_SEPARATOR;
}

/** The partition key value of `key` (a stream id, a feed or store partition) in this layout. */
export const partitionValue = (layout: TableLayout, key: string): string => (layout.keyPrefix ?? "") + key;

/** sort key 0: the commit counter; sort key 1: the resolved-feed watermark. */
export const META_PARTITION = "\u001feventflows";
/** sort key = commit number: one marker per committed append, or a tombstone for a number never used. */
export const LOG_PARTITION = "\u001feventflows:log";
export const COUNTER_SORT_KEY = 0;
export const WATERMARK_SORT_KEY = 1;
/** sort key 2: the ids of the streams `readAll` hides (soft-deleted, or being hard-deleted), as a string set. */
export const HIDDEN_SORT_KEY = 2;

/** A commit's events get positions `commit × 100 + index`: room for one append's largest batch. */
export const POSITIONS_PER_COMMIT = 100;

/** DynamoDB's limits, in bytes. */
export const MAX_ITEM_BYTES = DYNAMODB_MAX_ITEM_BYTES;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;
/** Actions in one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;

/** Attribute names of event items. */
export const A = {
  id: "id",
  type: "type",
  data: "data",
  metadata: "meta",
  timestamp: "ts",
  position: "gp",
} as const;

/** Attribute names of commit markers, the counter and the watermark. */
export const M = {
  stream: "stream",
  first: "first",
  count: "count",
  at: "at",
  token: "token",
  void: "void",
  next: "next",
  /** On the counter item: the token of the last reservation (an increment), and the last number it took. */
  reservationToken: "rt",
  reservedLast: "rl",
  commit: "commit",
  position: "position",
} as const;

/**
 * Attribute names of stream deletion. The stream's item at version 1 carries its state (`del`, `dv`,
 * `cut`, and `op` while a change is under way); once its event is removed it stays as a stub of
 * these alone. Other removed events stay as key-only items (their slot stays taken). A deleted stream
 * also has a fence item at version `dv + 1` (with `del`), the slot its next append would take, so
 * that appends fail on the item they write anyway; a restore removes it, a hard delete keeps it.
 */
export const D = {
  mode: "del",
  version: "dv",
  cut: "cut",
  op: "op",
  /** On a deleted stream's first item: the `$streams` version of the `$stream-deleted` event that deleted it. */
  event: "delev",
  streams: "streams",
} as const;

const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.values(A), ...Object.values(M), ...Object.values(D)]);
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

export interface TableLayoutOptions {
  readonly tableName: string;
  readonly partitionKey?: string;
  readonly sortKey?: string;
  /**
   * The tenant whose items these are, in a table several tenants share: every partition key gets the
   * prefix `<tenant>#` ({@link tenantKeyPrefix}), so each tenant has its own streams, global feed,
   * snapshots and checkpoints in the table. Ids and positions handed back never show it. A tenant id
   * (`tenantId` of `@eventflows/core`). Leave it out for a table of one tenant.
   */
  readonly tenant?: string;
}

/**
 * The keys of {@link TableLayoutOptions}, for the options that extend them (a store's) to refuse any other
 * key: a record, so that a key added to the interface and not here fails to compile.
 */
export const LAYOUT_OPTIONS = {
  tableName: true,
  partitionKey: true,
  sortKey: true,
  tenant: true,
} as const satisfies Record<keyof TableLayoutOptions, true>;
const LAYOUT_KEYS = Object.keys(LAYOUT_OPTIONS);

/**
 * Validates the table and key names (DynamoDB's rules, checked before any request), and refuses a key
 * outside `keys` (a store passes its own options' keys): a misspelt `sortkey` took the default `sk`.
 */
export function tableLayout(options: TableLayoutOptions, keys: readonly string[] = LAYOUT_KEYS): TableLayout {
  assertObject(options, [], "DynamoDB table layout");
  const issues: Issue[] = unknownKeyIssues(options, keys);
  const { tableName } = options;
  if (typeof tableName !== "string" || !TABLE_NAME.test(tableName)) {
    issues.push({
      path: ["tableName"],
      message: "a table name has 3 to 255 characters among a-z, A-Z, 0-9, '_', '-' and '.'",
    });
  }
  const partitionKey = options.partitionKey ?? "pk";
  const sortKey = options.sortKey ?? "sk";
  for (const [field, name] of [
    ["partitionKey", partitionKey],
    ["sortKey", sortKey],
  ] as const) {
    if (typeof name !== "string" || name.length === 0 || name.length > 255) {
      issues.push({ path: [field], message: "a key attribute name has 1 to 255 characters" });
    } else if (RESERVED_NAMES.has(name)) {
      issues.push({ path: [field], message: `"${name}" is an attribute the event store uses itself` });
    }
  }
  if (partitionKey === sortKey)
    issues.push({ path: ["sortKey"], message: "the sort key must differ from the partition key" });
  const { tenant } = options;
  if (tenant !== undefined && !(typeof tenant === "string" && TENANT_ID.test(tenant))) {
    issues.push({ path: ["tenant"], message: TENANT_ISSUE });
  }
  if (issues.length > 0) throw new ValidationError("Invalid DynamoDB table layout", issues);
  // No keyPrefix property at all without a tenant: the layout (and every request) as before tenancy.
  const layout: TableLayout = { tableName, partitionKey, sortKey };
  return tenant === undefined ? layout : { ...layout, keyPrefix: tenant + TENANT_KEY_SEPARATOR };
}
