import {
  assertObject,
  type ClaimDueTimeoutsOptions,
  type Issue,
  type ListSagasOptions,
  type OutboxEntry,
  outboxEntryInUse,
  SAGA_STORE_OPTIONS,
  type SagaCommit,
  type SagaFailure,
  type SagaRecord,
  SagaStore,
  type SagaStoreOptions,
  type SagaTimeout,
  ServiceError,
  sagaConflict,
  sagaCorruptError,
  sagaRecordFlaw,
  ValidationError,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS, PageTrail } from "../aws/index.js";
import { num, readJson, readNumber, readString, str } from "./attribute-value.js";
import { type AwsJsonClient, type AwsJsonClientOptions, clientOption, isServiceErrorCode } from "./client.js";
import {
  LAYOUT_OPTIONS,
  MAX_ITEM_BYTES,
  MAX_TRANSACTION_ITEMS,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import {
  checkEndable,
  checkTransaction,
  itemBytes,
  outboxSortKey,
  partitionOf,
  S,
  SAGA_FAILURE_PARTITION_PREFIX,
  SAGA_HANDLED_PARTITION_PREFIX,
  SAGA_PARTITION_PREFIX,
  shardOf,
} from "./saga-items.js";
import { SagaTimeoutShards } from "./saga-timeouts.js";
import { ensureEventStoreTable, tableWait } from "./table.js";

export interface DynamoDbSagaStoreOptions extends AwsJsonClientOptions, TableLayoutOptions, SagaStoreOptions {
  /** The client to use, e.g. the event store's (`store.client`), to share its retry budget. */
  readonly client?: AwsJsonClient;
  /**
   * Partitions the pending timeouts are spread over (default 1). A partition takes about 1,000 writes
   * a second on DynamoDB: raise it when more timeouts than that are scheduled or fired per second.
   * Claims read every shard. Only ever raise it: timeouts in a shard past a lowered count are never claimed.
   */
  readonly timeoutShards?: number;
}

const FINAL = new Set(["completed", "compensated"]);
/** Per pending timeout name: its id, shard and sort key, kept on the instance so a commit can delete it. */
type PendingTimeouts = Record<string, readonly [id: string, shard: number, sortKey: string]>;
/** An instance's list of pending timeouts, with the token of the write that last changed it (none: never set). */
interface Listed {
  readonly timeouts: PendingTimeouts;
  readonly token: string | undefined;
}
const NOTHING_LISTED: Listed = { timeouts: {}, token: undefined };
/** As long as a token: what the item-size check counts for one the instance keeps. */
const TOKEN = "00000000-0000-0000-0000-000000000000";
const CACHED_INSTANCES = 1000;
/** Reads and tries of a drop whose instance's list keeps changing under it (each change is another step's progress). */
const DROP_ATTEMPTS = 20;

/** What the saga store's options take; a misspelt `timeoutShard` was dropped for its default. */
const SAGA_STORE_KEYS = Object.keys({
  ...SAGA_STORE_OPTIONS,
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
  timeoutShards: true,
} satisfies Record<keyof DynamoDbSagaStoreOptions, true>);

/**
 * Saga instances in a DynamoDB table with the event store's key schema (the event table itself, or a
 * table of their own: `list` and a restart's re-drive scan the table, so give sagas their own table
 * when the event table is large). Items, each under a control-character partition prefix:
 * - the instance (sort key 0) and its undispatched outbox entries, in one partition: `load` is one Query;
 * - one item per handled id; the pending timeouts in `timeoutShards` partitions sorted by due time;
 *   recorded failures per saga.
 *
 * A commit is one `TransactWriteItems`: the instance's put or update (conditional on its version),
 * the handled id's conditional put, the outbox entries' puts and the timeouts' deletes and puts. Its
 * size is checked before sending (at most 100 items, each under 400 KB, 4 MB in all). Timeouts are
 * claimed by a range Query of each shard and a conditional `UpdateItem` per timeout (free, or its
 * lease lapsed), so competing schedulers each claim different ones.
 */
export class DynamoDbSagaStore extends SagaStore {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  readonly timeoutShards: number;
  readonly #timeouts: SagaTimeoutShards;
  /** The pending timeouts of recently loaded or committed instances, by partition: saves a read per commit. */
  readonly #pending = new Map<string, { readonly version: number; readonly listed: Listed }>();
  #failureSeq = 0;

  /** @throws {ValidationError} bad names, a key attribute the store uses itself, a bad shard count. */
  constructor(options: DynamoDbSagaStoreOptions) {
    // Checked before the base class reads them.
    super(checkedOptions(options));
    const layout = tableLayout(options, SAGA_STORE_KEYS);
    const own = new Set<string>(Object.values(S));
    const issues: Issue[] = [];
    for (const field of ["partitionKey", "sortKey"] as const) {
      if (own.has(layout[field])) {
        issues.push({ path: [field], message: `"${layout[field]}" is an attribute the saga store uses itself` });
      }
    }
    const shards = options.timeoutShards ?? 1;
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > 256) {
      issues.push({ path: ["timeoutShards"], message: "timeoutShards must be an integer from 1 to 256" });
    }
    if (issues.length > 0) throw new ValidationError("Invalid DynamoDB saga store options", issues);
    this.layout = layout;
    this.timeoutShards = shards;
    this.client = clientOption(options);
    this.#timeouts = new SagaTimeoutShards(this.client, layout, shards);
  }

  /** Creates the table unless it exists (the event store's key schema), and waits until it is active. */
  async ensureTable(options: { readonly timeoutMs?: number } = {}): Promise<"created" | "exists"> {
    return ensureEventStoreTable(this.client, this.layout, tableWait(options));
  }

  protected async readInstance(saga: string, key: string): Promise<SagaRecord | undefined> {
    const pk = await this.#partition(SAGA_PARTITION_PREFIX, [saga, key]);
    const items: Record<string, unknown>[] = [];
    let start: unknown;
    const pageTrail = new PageTrail();
    do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown } = await this.client.send(
        "Query",
        {
          TableName: this.layout.tableName,
          ConsistentRead: true,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": this.layout.partitionKey },
          ExpressionAttributeValues: { ":pk": str(pk) },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        },
        { pageTrail },
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    // Sort key 0 sorts first: the instance, then its outbox entries.
    const [instance, ...outbox] = items;
    if (instance === undefined || readNumber(instance, this.layout.sortKey) !== 0) return undefined;
    const record = this.#record(instance, outbox, "loadSaga");
    this.#remember(pk, record.version, listedOf(instance, saga, key, "loadSaga"));
    return record;
  }

  protected async readHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(await this.#partition(SAGA_HANDLED_PARTITION_PREFIX, [saga, key, handledId]), "0"),
      ConsistentRead: true,
      ProjectionExpression: "#pk",
      ExpressionAttributeNames: { "#pk": this.layout.partitionKey },
    });
    return result.Item !== undefined;
  }

  protected async writeCommit(commit: SagaCommit): Promise<number> {
    const { saga, key, expectedVersion } = commit;
    const { tableName, partitionKey } = this.layout;
    const pk = await this.#partition(SAGA_PARTITION_PREFIX, [saga, key]);
    const version = expectedVersion + 1;
    const final = FINAL.has(commit.status);
    const schedule = final ? [] : (commit.schedule ?? []);
    const touchesTimeouts =
      final || schedule.length > 0 || (commit.cancel?.length ?? 0) > 0 || commit.firedTimeoutId !== undefined;
    let listed = NOTHING_LISTED;
    if (touchesTimeouts && expectedVersion > 0) listed = await this.#pendingTimeouts(pk, saga, key, expectedVersion);
    const pending = listed.timeouts;
    const remaining: Record<string, readonly [string, number, string]> = { ...pending };
    const dropped = final
      ? Object.keys(pending)
      : [
          ...(commit.cancel ?? []),
          ...schedule.map((t) => t.name),
          ...Object.entries(pending)
            .filter(([, [id]]) => id === commit.firedTimeoutId)
            .map(([name]) => name),
        ];
    const items: Record<string, unknown>[] = [];
    const writeToken = crypto.randomUUID();
    const instance: Record<string, unknown> = {
      [S.version]: num(version),
      [S.writeToken]: str(writeToken),
      [S.state]: str(JSON.stringify(commit.state)),
      [S.status]: str(commit.status),
      [S.step]: num(commit.step),
      [S.compensations]: str(JSON.stringify(commit.compensations)),
      ...(commit.attention === undefined ? {} : { [S.attention]: str(JSON.stringify(commit.attention)) }),
    };
    const deletes = new Map<string, readonly [id: string, shard: number, sortKey: string]>();
    for (const name of dropped) {
      const found = remaining[name];
      if (found === undefined || deletes.has(found[0])) continue;
      deletes.set(found[0], found);
      delete remaining[name];
    }
    const shard = schedule.length > 0 ? await shardOf(saga, key, this.timeoutShards) : 0;
    const puts: Record<string, unknown>[] = [];
    for (const timeout of schedule) {
      const { place, request } = await this.#timeouts.put(timeout, shard);
      remaining[timeout.name] = [timeout.id, place.shard, place.sortKey];
      const same = deletes.get(timeout.id);
      if (same !== undefined && same[1] === place.shard && same[2] === place.sortKey) {
        // Rescheduled as it was (same id and due time): one item, which the put replaces, free again.
        deletes.delete(timeout.id);
        const { ConditionExpression: _, ExpressionAttributeNames: __, ...put } = request.Put as Record<string, unknown>;
        puts.push({ Put: put });
      } else puts.push(request);
    }
    for (const [, place] of deletes) items.push(this.#timeouts.remove({ shard: place[1], sortKey: place[2] }));
    items.push(...puts);
    if (touchesTimeouts) {
      instance[S.timeouts] = str(JSON.stringify(remaining));
      instance[S.timeoutsToken] = str(writeToken);
    }
    const head = this.#instanceWrite(
      pk,
      saga,
      key,
      expectedVersion,
      instance,
      commit.attention === undefined,
      touchesTimeouts ? listed : undefined,
    );
    const handledIndex = commit.handledId === undefined ? -1 : 1;
    const own: Record<string, unknown>[] = [head as Record<string, unknown>];
    if (commit.handledId !== undefined) {
      own.push({
        Put: {
          TableName: tableName,
          Item: this.#key(await this.#partition(SAGA_HANDLED_PARTITION_PREFIX, [saga, key, commit.handledId]), "0"),
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": partitionKey },
        },
      });
    }
    for (const [i, entry] of (commit.outbox ?? []).entries()) {
      own.push({
        Put: {
          TableName: tableName,
          Item: {
            ...this.#key(pk, await outboxSortKey(entry.id)),
            [S.seq]: num(version * 1000 + i),
            [S.entry]: str(JSON.stringify(entry)),
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": partitionKey },
        },
      });
    }
    // An ending step deletes every pending timeout with it: those its own items (its commands) leave no room
    // for go right after it. The ended instance lists none of them: one claimed meanwhile fires nothing.
    const afterEnd = final ? items.splice(Math.max(0, MAX_TRANSACTION_ITEMS - own.length)) : [];
    const transaction = [...own, ...items];
    // Steps only (they carry a handled id): parking, resuming and ending an instance are never refused.
    if (commit.handledId !== undefined && !final) {
      checkEndable(
        saga,
        key,
        commit.compensations.length,
        schedule.length > 0 ? Object.keys(remaining).length : undefined,
      );
    }
    checkTransaction(saga, key, transaction, await this.#keptBytes(head, pk, commit, touchesTimeouts));
    // A commit that leaves the list alone carries over the one remembered at the version it read (a new one has none).
    const carried = touchesTimeouts || expectedVersion === 0 ? undefined : expectedVersion;
    try {
      if (transaction.length === 1) {
        // A step that writes only the instance needs no transaction (half the write units).
        if (head.Put !== undefined) await this.client.send("PutItem", head.Put);
        else await this.client.send("UpdateItem", head.Update);
      } else {
        await this.client.send("TransactWriteItems", {
          TransactItems: transaction,
          ClientRequestToken: crypto.randomUUID(),
        });
      }
    } catch (error) {
      const single = isServiceErrorCode(error, "ConditionalCheckFailedException");
      const reasons = isServiceErrorCode(error, "TransactionCanceledException") ? error.cancellationReasons : [];
      const failed = (i: number) => reasons[i]?.code === "ConditionalCheckFailed";
      if (single || failed(0)) {
        const stored = await this.#stored(pk);
        // A single write has no ClientRequestToken: its repeat after a lost answer fails the condition its
        // first attempt moved, and the instance then holds this write's own token. It is done.
        if (single && readString(stored, S.writeToken) === writeToken) {
          this.#remember(pk, version, listedAfter(remaining, touchesTimeouts, writeToken), carried);
          return version;
        }
        throw sagaConflict(saga, key, expectedVersion, readNumber(stored, S.version) ?? 0);
      }
      // Handled already, the version check passed: the stored version is the one expected.
      if (handledIndex > 0 && failed(handledIndex)) throw sagaConflict(saga, key, expectedVersion, expectedVersion);
      // An outbox entry's put: its id is still pending (the base class refused duplicates within the commit).
      const outboxStart = handledIndex > 0 ? 2 : 1;
      const taken = (commit.outbox ?? []).find((_, i) => failed(outboxStart + i));
      if (taken !== undefined) throw outboxEntryInUse(saga, key, taken.id);
      throw error;
    }
    this.#remember(pk, version, listedAfter(remaining, touchesTimeouts, writeToken), carried);
    if (afterEnd.length > 0) await this.#deleteAfterEnd(afterEnd);
    return version;
  }

  /**
   * Deletes the due items of an ended instance that its ending transaction had no room for. Best effort: the step
   * is saved, and an item left (this delete failed, or the process died first) is claimed when due and dropped by
   * the runtime without firing, as every timeout of an ended instance is.
   */
  async #deleteAfterEnd(deletes: readonly Record<string, unknown>[]): Promise<void> {
    await Promise.all(deletes.map((remove) => this.client.send("DeleteItem", remove.Delete).catch(() => undefined)));
  }

  protected async writeDispatched(saga: string, key: string, entryId: string): Promise<void> {
    const pk = await this.#partition(SAGA_PARTITION_PREFIX, [saga, key]);
    await this.client.send("DeleteItem", {
      TableName: this.layout.tableName,
      Key: this.#key(pk, await outboxSortKey(entryId)),
    });
  }

  protected async claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    return this.#timeouts.claim(options);
  }

  protected override async readNextDue(sagas: readonly string[] | undefined): Promise<number | undefined> {
    return this.#timeouts.nextDue(sagas);
  }

  protected override async readTimeoutPending(saga: string, key: string, timeoutId: string): Promise<boolean> {
    // The instance's item lists its pending timeouts, changed by each commit with its version.
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(await this.#partition(SAGA_PARTITION_PREFIX, [saga, key]), "0"),
      ConsistentRead: true,
      ProjectionExpression: "#tmo",
      ExpressionAttributeNames: { "#tmo": S.timeouts },
    });
    const timeouts = pendingOf(result.Item ?? {}, saga, key, "sagaTimeoutPending");
    return Object.values(timeouts).some(([id]) => id === timeoutId);
  }

  /**
   * Drops a timeout without firing it (its firing ignored, its handler gone, its instance ended): its due item
   * and, while its instance still lists it under its name, that name, so that `isTimeoutPending` and the 98
   * pending timeouts a step may leave no longer count it. Both in one transaction, conditional on the list's
   * token as read: a step that rewrote the list meanwhile makes the drop read it again. The version stays.
   */
  protected async deleteTimeout(timeoutId: string): Promise<void> {
    for (let attempt = 0; attempt < DROP_ATTEMPTS; attempt++) {
      const found = await this.#timeouts.locate(timeoutId);
      if (found === undefined) return;
      const remove = this.#timeouts.remove(found.place);
      const pk = await this.#partition(SAGA_PARTITION_PREFIX, [found.saga, found.key]);
      const listed = await this.#listed(pk, found.saga, found.key);
      if (listed.timeouts[found.name]?.[0] !== timeoutId) {
        // Not (or no longer) the instance's: fired, replaced, or its instance ended or gone. The item alone.
        await this.client.send("DeleteItem", remove.Delete);
        return;
      }
      const { [found.name]: _, ...left } = listed.timeouts;
      const unlist = this.#unlistWrite(pk, left, listed.token);
      try {
        await this.client.send("TransactWriteItems", {
          TransactItems: [remove, unlist],
          ClientRequestToken: crypto.randomUUID(),
        });
        this.#pending.delete(pk);
        return;
      } catch (error) {
        const reasons = isServiceErrorCode(error, "TransactionCanceledException") ? error.cancellationReasons : [];
        if (reasons[1]?.code !== "ConditionalCheckFailed") throw error;
      }
    }
    throw new ServiceError(
      "DynamoDB",
      "dropSagaTimeout",
      "SAGA_TIMEOUT_BUSY",
      true,
      `the pending timeouts of the instance of timeout "${timeoutId}" changed ${DROP_ATTEMPTS} times while it was dropped`,
    );
  }

  /** The instance's list without a dropped timeout's name: an update conditional on the list's token as read. */
  #unlistWrite(pk: string, left: PendingTimeouts, token: string | undefined): Record<string, unknown> {
    const values: Record<string, unknown> = { ":tmo": str(JSON.stringify(left)), ":next": str(crypto.randomUUID()) };
    if (token !== undefined) values[":tt"] = str(token);
    return {
      Update: {
        TableName: this.layout.tableName,
        Key: this.#key(pk, "0"),
        UpdateExpression: "SET #tmo = :tmo, #tt = :next",
        // attribute_exists: an update would otherwise make an instance item that was never written.
        ConditionExpression: `attribute_exists(#pk) AND ${token === undefined ? "attribute_not_exists(#tt)" : "#tt = :tt"}`,
        ExpressionAttributeNames: { "#pk": this.layout.partitionKey, "#tmo": S.timeouts, "#tt": S.timeoutsToken },
        ExpressionAttributeValues: values,
      },
    };
  }

  protected async listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]> {
    const instances = new Map<string, Record<string, unknown>>();
    const outboxes = new Map<string, Record<string, unknown>[]>();
    const values: Record<string, unknown> = { ":prefix": str(partitionValue(this.layout, SAGA_PARTITION_PREFIX)) };
    const names: Record<string, string> = { "#pk": this.layout.partitionKey };
    let filter = "begins_with(#pk, :prefix)";
    if (options.saga !== undefined) {
      // Outbox items carry no saga name: instances are filtered here, their entries matched below.
      filter += " AND (attribute_not_exists(#sg) OR #sg = :sg)";
      names["#sg"] = S.saga;
      values[":sg"] = str(options.saga);
    }
    let start: unknown;
    const pageTrail = new PageTrail();
    do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown } = await this.client.send(
        "Scan",
        {
          TableName: this.layout.tableName,
          ConsistentRead: true,
          FilterExpression: filter,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        },
        { pageTrail },
      );
      for (const item of page.Items ?? []) {
        const pk = readString(item, this.layout.partitionKey) ?? "";
        if (readNumber(item, this.layout.sortKey) === 0) instances.set(pk, item);
        else outboxes.set(pk, [...(outboxes.get(pk) ?? []), item]);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return [...instances.entries()]
      .filter(([pk, item]) => {
        if (options.status !== undefined && readString(item, S.status) !== options.status) return false;
        return options.pendingOutbox !== true || (outboxes.get(pk)?.length ?? 0) > 0;
      })
      .sort(([, a], [, b]) => (readNumber(a, S.created) ?? 0) - (readNumber(b, S.created) ?? 0))
      .slice(0, options.limit)
      .map(([pk, item]) => this.#record(item, outboxes.get(pk) ?? [], "listSagas"));
  }

  protected async writeFailure(failure: SagaFailure): Promise<void> {
    // Time first, then this process's counter (order within a millisecond), then random digits
    // (two processes in the same millisecond never overwrite each other).
    this.#failureSeq = (this.#failureSeq + 1) % 1000;
    const random = crypto.getRandomValues(new Uint32Array(1))[0] as number;
    const sortKey = `${Date.now() * 1000 + this.#failureSeq}.${String(random).padStart(10, "0")}`;
    await this.client.send("PutItem", {
      TableName: this.layout.tableName,
      Item: {
        ...this.#key(await this.#partition(SAGA_FAILURE_PARTITION_PREFIX, [failure.saga]), sortKey),
        [S.failure]: str(JSON.stringify(failure)),
      },
    });
  }

  protected async readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]> {
    const found: { sortKey: number; failure: SagaFailure }[] = [];
    let start: unknown;
    const pageTrail = new PageTrail();
    do {
      const names = { "#pk": this.layout.partitionKey };
      const from = start === undefined ? {} : { ExclusiveStartKey: start };
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: unknown } =
        saga === undefined
          ? await this.client.send(
              "Scan",
              {
                TableName: this.layout.tableName,
                ConsistentRead: true,
                FilterExpression: "begins_with(#pk, :pk)",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: { ":pk": str(partitionValue(this.layout, SAGA_FAILURE_PARTITION_PREFIX)) },
                ...from,
              },
              { pageTrail },
            )
          : await this.client.send(
              "Query",
              {
                TableName: this.layout.tableName,
                ConsistentRead: true,
                KeyConditionExpression: "#pk = :pk",
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: { ":pk": str(await this.#partition(SAGA_FAILURE_PARTITION_PREFIX, [saga])) },
                Limit: limit,
                ...from,
              },
              { pageTrail },
            );
      for (const item of page.Items ?? []) {
        found.push({
          sortKey: readNumber(item, this.layout.sortKey) ?? 0,
          failure: failureOf(item),
        });
      }
      start = saga !== undefined && found.length >= limit ? undefined : page.LastEvaluatedKey;
    } while (start !== undefined);
    return found
      .sort((a, b) => a.sortKey - b.sortKey)
      .slice(0, limit)
      .map((f) => f.failure);
  }

  #instanceWrite(
    pk: string,
    saga: string,
    key: string,
    expectedVersion: number,
    attributes: Record<string, unknown>,
    clearAttention: boolean,
    rewrites?: Listed,
  ): { readonly Put?: Record<string, unknown>; readonly Update?: Record<string, unknown> } {
    const { tableName, partitionKey } = this.layout;
    if (expectedVersion === 0) {
      return {
        Put: {
          TableName: tableName,
          Item: {
            ...this.#key(pk, "0"),
            [S.saga]: str(saga),
            [S.key]: str(key),
            [S.created]: num(Date.now()),
            ...attributes,
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": partitionKey },
        },
      };
    }
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ":expected": num(expectedVersion) };
    const sets = Object.entries(attributes).map(([name, value], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      return `#a${i} = :a${i}`;
    });
    names["#v"] = S.version;
    if (clearAttention) names["#att"] = S.attention;
    let condition = "#v = :expected";
    if (rewrites !== undefined) {
      // The list it rewrites is the one it read: a drop may have changed it since, leaving the version.
      names["#tt"] = S.timeoutsToken;
      if (rewrites.token === undefined) condition += " AND attribute_not_exists(#tt)";
      else {
        values[":tt"] = str(rewrites.token);
        condition += " AND #tt = :tt";
      }
    }
    return {
      Update: {
        TableName: tableName,
        Key: this.#key(pk, "0"),
        UpdateExpression: `SET ${sets.join(", ")}${clearAttention ? " REMOVE #att" : ""}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  /**
   * What an update of the instance leaves in its item besides what it sets (its names, creation time
   * and, unless the step changes them, its pending timeouts), so that the size check before sending
   * counts the whole item: DynamoDB refuses an update whose item would pass 400 KB.
   */
  async #keptBytes(
    head: { readonly Update?: Record<string, unknown> },
    pk: string,
    commit: SagaCommit,
    touchesTimeouts: boolean,
  ): Promise<number> {
    if (head.Update === undefined) return 0;
    const { saga, key, expectedVersion } = commit;
    let kept = itemBytes({ [S.saga]: str(saga), [S.key]: str(key), [S.created]: num(0) });
    const values = head.Update.ExpressionAttributeValues as Record<string, unknown>;
    if (touchesTimeouts) return kept;
    // Counted whenever known (a load or commit of this store cached them: no request); read only for a large
    // item. Up to 98 timeouts with the longest names and key make a list of about 300 KB on their own.
    const cached = this.#pending.get(pk);
    const listed =
      cached?.version === expectedVersion
        ? cached.listed
        : itemBytes(values) + kept > MAX_ITEM_BYTES / 2
          ? await this.#pendingTimeouts(pk, saga, key, expectedVersion)
          : undefined;
    if (listed !== undefined) {
      kept += itemBytes({ [S.timeouts]: str(JSON.stringify(listed.timeouts)), [S.timeoutsToken]: str(TOKEN) });
    }
    return kept;
  }

  /** The pending timeouts of the instance at `version`: from the cache, else read (refused at once when it moved on). */
  async #pendingTimeouts(pk: string, saga: string, key: string, version: number): Promise<Listed> {
    const cached = this.#pending.get(pk);
    if (cached?.version === version) return cached.listed;
    const item = await this.#listItem(pk);
    const actual = item === undefined ? 0 : (readNumber(item, S.version) ?? 0);
    if (actual !== version) throw sagaConflict(saga, key, version, actual);
    return listedOf(item ?? {}, saga, key, "commitSaga");
  }

  /** The instance's pending timeouts as stored now (none: no instance). */
  async #listed(pk: string, saga: string, key: string): Promise<Listed> {
    return listedOf((await this.#listItem(pk)) ?? {}, saga, key, "dropSagaTimeout");
  }

  /** The instance item's version, pending timeouts and their token, read consistently. */
  async #listItem(pk: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(pk, "0"),
      ConsistentRead: true,
      ProjectionExpression: "#v, #tmo, #tt",
      ExpressionAttributeNames: { "#v": S.version, "#tmo": S.timeouts, "#tt": S.timeoutsToken },
    });
    return result.Item;
  }

  /** Remembers an instance's pending timeouts at a version (or carries them over from `from`, when unchanged). */
  #remember(pk: string, version: number, listed: Listed, from?: number): void {
    if (from !== undefined) {
      const cached = this.#pending.get(pk);
      if (cached?.version !== from) {
        this.#pending.delete(pk);
        return;
      }
      listed = cached.listed;
    }
    this.#pending.delete(pk);
    this.#pending.set(pk, { version, listed });
    if (this.#pending.size > CACHED_INSTANCES) this.#pending.delete(this.#pending.keys().next().value as string);
  }

  /** The instance's version and last write's token, read consistently (none: an empty item). */
  async #stored(pk: string): Promise<Record<string, unknown>> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(pk, "0"),
      ConsistentRead: true,
      ProjectionExpression: "#v, #wt",
      ExpressionAttributeNames: { "#v": S.version, "#wt": S.writeToken },
    });
    return result.Item ?? {};
  }

  /**
   * The instance item and its outbox entries as a record. Its attributes are strings another tool may
   * have written: one that is not JSON, or a record of the wrong shape, is `SAGA_CORRUPT`, naming the
   * instance and quoting none of it (as on PostgreSQL and SQLite), never a SyntaxError.
   */
  #record(
    instance: Record<string, unknown>,
    outbox: readonly Record<string, unknown>[],
    operation: string,
  ): SagaRecord {
    const saga = readString(instance, S.saga) ?? "";
    const key = readString(instance, S.key) ?? "";
    const json = (from: Record<string, unknown>, name: string, absent: string, what: string): unknown =>
      readJson(from, name, absent, () => corruptInstance(operation, saga, key, `its ${what} is not JSON`));
    const record: SagaRecord = {
      saga,
      key,
      version: readNumber(instance, S.version) ?? 0,
      state: json(instance, S.state, "null", "state"),
      status: readString(instance, S.status) as SagaRecord["status"],
      step: readNumber(instance, S.step) ?? 0,
      compensations: json(instance, S.compensations, "[]", "compensations") as SagaRecord["compensations"],
      outbox: [...outbox]
        .sort((a, b) => (readNumber(a, S.seq) ?? 0) - (readNumber(b, S.seq) ?? 0))
        .map((item) => json(item, S.entry, "null", "outbox entry") as OutboxEntry),
      attention:
        readString(instance, S.attention) === undefined
          ? undefined
          : (json(instance, S.attention, "null", "attention") as SagaRecord["attention"]),
    };
    const flaw = sagaRecordFlaw(record);
    if (flaw !== undefined) throw corruptInstance(operation, saga, key, flaw);
    return record;
  }

  /** An item's partition, after the layout's tenant prefix (if any). */
  async #partition(prefix: string, parts: readonly string[]): Promise<string> {
    return partitionValue(this.layout, await partitionOf(prefix, parts));
  }

  #key(pk: string, sortKey: string): Record<string, unknown> {
    return { [this.layout.partitionKey]: str(pk), [this.layout.sortKey]: { N: sortKey } };
  }
}

function corruptInstance(operation: string, saga: string, key: string, flaw: string): Error {
  return sagaCorruptError("DynamoDB", operation, `the stored instance of saga "${saga}" key "${key}": ${flaw}`);
}

/** An instance item's pending timeouts with their token. */
function listedOf(item: Record<string, unknown>, saga: string, key: string, operation: string): Listed {
  return { timeouts: pendingOf(item, saga, key, operation), token: readString(item, S.timeoutsToken) };
}

/** What a commit leaves listed: the list it wrote under its token, or (not touching it) none it knows of. */
function listedAfter(remaining: PendingTimeouts, touchesTimeouts: boolean, writeToken: string): Listed {
  return touchesTimeouts ? { timeouts: remaining, token: writeToken } : NOTHING_LISTED;
}

/** An instance item's pending timeouts (by name: [timeout id, shard, sort key]); an object, or SAGA_CORRUPT. */
function pendingOf(item: Record<string, unknown>, saga: string, key: string, operation: string): PendingTimeouts {
  const flaw = () => corruptInstance(operation, saga, key, "its pending timeouts are not an object of timeout entries");
  const timeouts = readJson(item, S.timeouts, "{}", flaw);
  if (typeof timeouts !== "object" || timeouts === null || Array.isArray(timeouts)) throw flaw();
  if (!Object.values(timeouts).every(Array.isArray)) throw flaw();
  return timeouts as PendingTimeouts;
}

/** A stored failure: an object, or SAGA_CORRUPT (as on PostgreSQL). */
function failureOf(item: Record<string, unknown>): SagaFailure {
  const corrupt = () => sagaCorruptError("DynamoDB", "sagaFailures", "a stored saga failure is not an object");
  const failure = readJson(item, S.failure, "null", corrupt);
  if (typeof failure !== "object" || failure === null || Array.isArray(failure)) throw corrupt();
  return failure as SagaFailure;
}

function checkedOptions(options: DynamoDbSagaStoreOptions): DynamoDbSagaStoreOptions {
  assertObject(options, [], "DynamoDB saga store options");
  return options;
}
