/**
 * The IAM actions the DynamoDB stores need, per store and operation, in one place: roles, policies
 * and docs are built from (or tested against) these lists, and `iam.test.ts` checks them against the
 * requests this folder actually sends.
 *
 * How a request maps to actions: most DynamoDB operations are authorised by the action of the same
 * name (`Query` by `dynamodb:Query`, `BatchGetItem` by `dynamodb:BatchGetItem`). `TransactWriteItems`
 * has no IAM action of its own: DynamoDB authorises each item of the transaction by the single-item
 * action (`Put` by `dynamodb:PutItem`, `Update` by `dynamodb:UpdateItem`, `Delete` by
 * `dynamodb:DeleteItem`, `ConditionCheck` by `dynamodb:ConditionCheckItem`). Every action applies
 * to the table's ARN (no index is used).
 */

import { type Issue, objectIssues, unknownKeyIssues, ValidationError } from "../../src/index.js";
import { TENANT_KEY_SEPARATOR, tenantKeyPrefix } from "./layout.js";

/** An IAM action of the DynamoDB service. */
export type DynamoDbIamAction = `dynamodb:${string}`;

const CREATE_TABLE = ["dynamodb:DescribeTable", "dynamodb:CreateTable"] as const;
const CREATE_TABLE_WITH_TTL = [...CREATE_TABLE, "dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive"] as const;

/**
 * What each store operation sends, as IAM actions. `ensureTable` (and `ensureTimeToLive`) are for
 * deploy-time setup; a stack that creates the table itself grants only the run-time operations.
 */
export const dynamoDbIamActions = {
  eventStore: {
    /**
     * `appendToStream`: a conditional `PutItem` (the first event of a new stream, without the feed)
     * or a transaction of puts and a `ConditionCheck` of the previous version; `Query` for the
     * stream's head ("any", "stream-exists", conflicts). With the global feed (the default): an
     * `UpdateItem` of the commit counter, a `PutItem` tombstone for a number it gives up, and a
     * `GetItem` of its marker when an outcome must be settled.
     */
    append: [
      "dynamodb:PutItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:GetItem",
    ],
    /**
     * `readStream`, `streamExists`, the stream's version: consistent `Query`s, and a `GetItem` of
     * the stream's first item (its deletion state) beside a read's first page.
     */
    readStream: ["dynamodb:Query", "dynamodb:GetItem"],
    /** `ping` (health checks): the version of the `eventflows-health` stream, one `Query`. */
    ping: ["dynamodb:Query"],
    /**
     * `readAll`, `subscribeToAll`, `getLastGlobalPosition` (the global feed): the commit log by
     * `Query`, the events by consistent `BatchGetItem`, a waited-for number by `GetItem`, a void
     * number's tombstone by `PutItem`, the watermark by `GetItem`/`UpdateItem`.
     */
    globalFeed: [
      "dynamodb:Query",
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ],
    ensureTable: CREATE_TABLE,
  },
  /**
   * The event store's `deleteStream`, `restoreStream`, `truncateStream` (and `applyRetention`), apart
   * from `eventStore` so that only the role that erases gets `DeleteItem` and `BatchWriteItem`: the
   * state by `GetItem` and `Query`, the mark by a transaction of `Update`, `Put`, `Delete` (a
   * restore's fence) and `ConditionCheck` items, removals by `BatchWriteItem` (puts of key-only
   * items), the version-1 stub by `PutItem`, the hidden set and the pending change by `UpdateItem`,
   * the `$streams` event as an append (`eventStore.append`).
   */
  streamDeletion: {
    change: [
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:BatchWriteItem",
    ],
    /** The event store's table. */
    ensureTable: CREATE_TABLE,
  },
  snapshotStore: {
    /** `save`: a `PutItem`; with `keepLast`, the stream's snapshot keys by `Query` and a `BatchWriteItem` of deletes. */
    save: ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"],
    /** `load`: one consistent `Query`. */
    load: ["dynamodb:Query"],
    /** `ping` (health checks): a load of the `eventflows-health` stream, one `Query`. */
    ping: ["dynamodb:Query"],
    /** `delete`: the keys by `Query`, then `BatchWriteItem` deletes. */
    delete: ["dynamodb:Query", "dynamodb:BatchWriteItem"],
    ensureTable: CREATE_TABLE,
  },
  dedupStore: {
    /** `has`: one consistent `GetItem`. */
    has: ["dynamodb:GetItem"],
    /** `add`: one `PutItem`. */
    add: ["dynamodb:PutItem"],
    /** `ping` (health checks): one `GetItem` of a key never written. */
    ping: ["dynamodb:GetItem"],
    ensureTable: CREATE_TABLE_WITH_TTL,
  },
  idempotencyStore: {
    /** `claim`: a conditional `PutItem`, then a consistent `GetItem` when the key is taken. */
    claim: ["dynamodb:PutItem", "dynamodb:GetItem"],
    /** `complete`: one `PutItem`. */
    complete: ["dynamodb:PutItem"],
    /** `release`: a conditional `DeleteItem`. */
    release: ["dynamodb:DeleteItem"],
    /** `ping` (health checks): one `GetItem` of a key never written. */
    ping: ["dynamodb:GetItem"],
    ensureTable: CREATE_TABLE_WITH_TTL,
  },
  readModelStore: {
    /** `get` (and a transaction's reads), `checkpoints.load`: one consistent `GetItem` (and one of the generation pointer, when not cached). */
    get: ["dynamodb:GetItem"],
    /**
     * `put`, `delete`: a `TransactWriteItems` of the write and a `ConditionCheck` of the collection's
     * generation pointer (a plain `PutItem`/`DeleteItem` for projection state); `checkpoints.store`
     * (conditional with `expected`): one `PutItem`.
     */
    put: ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
    /** `checkpoints.delete`: one `DeleteItem`. */
    delete: ["dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
    /** `list`: a `Scan` of the table (tests and tools). */
    list: ["dynamodb:Scan"],
    /**
     * `transaction`: one `TransactWriteItems` of the staged puts and deletes, the checkpoint's
     * conditional put and a `ConditionCheck` of each collection's generation pointer.
     */
    transaction: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
    /** `swap`, `drop` (rebuilds): consistent `GetItem`s, then one `TransactWriteItems` of conditional puts and deletes. */
    swap: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
    /** `purgeRetiredGenerations`: `GetItem`/`PutItem` of its cursor, a `Query` of retired generations, `Scan` pages, `BatchWriteItem` deletes. */
    purge: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"],
    /** The table is the event store's (`DynamoDbEventStore.ensureTable`). */
    ensureTable: CREATE_TABLE,
  },
  projectionLock: {
    /** `acquire` (take or renew): a conditional `PutItem`. */
    acquire: ["dynamodb:PutItem"],
    /** `release`: a conditional `DeleteItem`. */
    release: ["dynamodb:DeleteItem"],
    /** The table is the event store's (`DynamoDbEventStore.ensureTable`). */
    ensureTable: CREATE_TABLE,
  },
  sagaStore: {
    /** `load`: one consistent `Query` of the instance's partition (the instance and its outbox). */
    load: ["dynamodb:Query"],
    /** `hasHandled`: one consistent `GetItem`. */
    hasHandled: ["dynamodb:GetItem"],
    /**
     * `commit`: one `TransactWriteItems` of the instance's put or update, the handled id's put, the
     * outbox entries' puts and the timeouts' deletes and puts (a step that writes only the instance
     * sends the `PutItem` or `UpdateItem` alone); a `GetItem` of the instance's pending timeouts
     * when it was not loaded through this store, and of its version after a conflict; after a step that ends
     * the instance, a `DeleteItem` per pending timeout its transaction had no room for.
     */
    commit: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem"],
    /** `markDispatched`: one `DeleteItem`. */
    markDispatched: ["dynamodb:DeleteItem"],
    /** `claimDueTimeouts`: a consistent `Query` per shard, a conditional `UpdateItem` per timeout; `nextDueAt`: a `Query` per page of a shard, up to one with a timeout asked for. */
    claimDueTimeouts: ["dynamodb:Query", "dynamodb:UpdateItem"],
    /**
     * `dropTimeout`: a `GetItem` of the timeout (a `Query` per shard, for one this store did not claim) and one of
     * its instance, then a `TransactWriteItems` of the timeout's delete and the instance's update (or a `DeleteItem`).
     */
    dropTimeout: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"],
    /** `recordFailure`: one `PutItem`; `failures`: a `Query` of the saga's failures (a `Scan` for all sagas). */
    failures: ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"],
    /** `list` (operators, and the runtime's re-drive: at start, then every `redriveIntervalMs` from its ticks): a `Scan` of the table. */
    list: ["dynamodb:Scan"],
    ensureTable: CREATE_TABLE,
  },
  subjectKeyStore: {
    /** `get` (and `createOrGet` on a cache miss): one consistent `GetItem`. */
    get: ["dynamodb:GetItem"],
    /** `createOrGet`: a conditional `PutItem` of the new wrapped key, then a consistent `GetItem` of what is stored. */
    createOrGet: ["dynamodb:PutItem", "dynamodb:GetItem"],
    /** `delete` (erasure): one `PutItem` of the tombstone over the key. */
    delete: ["dynamodb:PutItem"],
    /** `ping` (health checks): one `GetItem` of a key never written. */
    ping: ["dynamodb:GetItem"],
    ensureTable: CREATE_TABLE,
  },
} as const satisfies Record<string, Record<string, readonly DynamoDbIamAction[]>>;

export type DynamoDbStoreName = keyof typeof dynamoDbIamActions;

/**
 * The actions a function needs at run time for the given stores: the union of every operation but
 * `ensureTable`, sorted. Pass `{ setup: true }` to include the table-creating actions too.
 * @example
 * dynamoDbRunTimeActions(["eventStore"]);
 * // ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
 */
export function dynamoDbRunTimeActions(
  stores: readonly DynamoDbStoreName[],
  options: { readonly setup?: boolean } = {},
): DynamoDbIamAction[] {
  const issues = storeNameIssues(stores);
  issues.push(...objectIssues(options, "options"));
  if (issues.length > 0) throw new ValidationError("Invalid DynamoDB IAM actions request", issues);
  const actions = new Set<DynamoDbIamAction>();
  for (const store of stores) {
    for (const [operation, list] of Object.entries(dynamoDbIamActions[store])) {
      if (operation === "ensureTable" && options.setup !== true) continue;
      for (const action of list) actions.add(action);
    }
  }
  return [...actions].sort();
}

/** The stores that can run under a role limited to one tenant's keys (see {@link dynamoDbTenantStatement}). */
export type DynamoDbTenantStoreName = Exclude<DynamoDbStoreName, "sagaStore">;

export interface DynamoDbTenantStatementOptions {
  /** The shared table's ARN. */
  readonly tableArn: string;
  /**
   * The tenant: a tenant id (checked), or an IAM policy variable that holds one at request time,
   * e.g. `"${aws:PrincipalTag/tenant}"` for one role assumed with a session tag per tenant.
   */
  readonly tenant: string;
  readonly stores: readonly DynamoDbTenantStoreName[];
}

/** An IAM policy statement, as JSON (the shape CDK's `PolicyStatement.fromJson` and Terraform take). */
export interface DynamoDbPolicyStatement {
  readonly Effect: "Allow";
  readonly Action: DynamoDbIamAction[];
  readonly Resource: string[];
  readonly Condition: { readonly "ForAllValues:StringLike": { readonly "dynamodb:LeadingKeys": string[] } };
}

const POLICY_VARIABLE = /^\$\{aws:[A-Za-z]+(\/[A-Za-z0-9_.:+=@-]+)?\}$/;

/**
 * The statement of a role limited to one tenant's items in a table tenants share (stores made with
 * `tenant`): the stores' run-time actions on the table, on condition that every partition key a
 * request names starts with `<tenant>#` (`dynamodb:LeadingKeys`). A transaction's and a batch's keys
 * are each checked. `Scan` is never in it: a Scan names no key, and `ForAllValues` over no key is
 * true, so a Scan would read every tenant's items; the read-model store's `list` (a Scan) is
 * therefore unavailable to such a role, and nothing else on the role may grant `dynamodb:Scan`.
 * @throws {ValidationError} a tenant that is neither a tenant id nor a policy variable.
 */
export function dynamoDbTenantStatement(options: DynamoDbTenantStatementOptions): DynamoDbPolicyStatement {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid DynamoDB tenant statement", [
      { path: [], message: "options must be an object" },
    ]);
  }
  const prefix = POLICY_VARIABLE.test(options.tenant)
    ? options.tenant + TENANT_KEY_SEPARATOR
    : tenantKeyPrefix(options.tenant);
  // A misspelt `store` granted the default stores' actions, not those meant.
  const issues = [...unknownKeyIssues(options, ["tableArn", "tenant", "stores"]), ...tenantStatementIssues(options)];
  if (issues.length > 0) throw new ValidationError("Invalid DynamoDB tenant statement", issues);
  return {
    Effect: "Allow",
    Action: dynamoDbRunTimeActions(options.stores).filter((action) => action !== "dynamodb:Scan"),
    Resource: [options.tableArn],
    Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${prefix}*`] } },
  };
}

/**
 * What else is wrong with a tenant statement's options: a table ARN with an IAM wildcard (the role
 * would reach every table it matches, not the one shared table), and stores that are none, unknown,
 * or the saga store (its listing is a Scan, which the role must not have). A CDK token stands for
 * an ARN and passes.
 */
function tenantStatementIssues(options: DynamoDbTenantStatementOptions): Issue[] {
  const issues: Issue[] = [];
  const { tableArn, stores } = options;
  if (typeof tableArn !== "string" || tableArn === "" || /[*?]/.test(tableArn)) {
    issues.push({ path: ["tableArn"], message: "tableArn must be the shared table's ARN, without a wildcard" });
  }
  if (!Array.isArray(stores) || stores.length === 0) {
    issues.push({ path: ["stores"], message: "stores must name at least one store" });
    return issues;
  }
  stores.forEach((store: unknown, index) => {
    if (typeof store !== "string" || store === "sagaStore" || !Object.hasOwn(dynamoDbIamActions, store)) {
      issues.push({
        path: ["stores", index],
        message: "not a store that can run under a tenant's role (the saga store lists with a Scan)",
      });
    }
  });
  return issues;
}

/** The issues of a list of store names: an array of the names `dynamoDbIamActions` has. */
function storeNameIssues(stores: unknown): Issue[] {
  if (!Array.isArray(stores)) return [{ path: ["stores"], message: "must be an array of store names" }];
  const known = Object.keys(dynamoDbIamActions);
  return stores.flatMap((store, i) =>
    typeof store === "string" && known.includes(store)
      ? []
      : [{ path: ["stores", i], message: `must be one of ${known.join(", ")}` }],
  );
}
