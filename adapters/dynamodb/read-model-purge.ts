import { assertKnownOptions, type Issue, ValidationError } from "../../src/index.js";
import { PageTrail, type SendOptions } from "../aws/index.js";
import { num, readNumber, readString, str } from "./attribute-value.js";
import type { AwsJsonClient } from "./client.js";
import { partitionValue, type TableLayout } from "./layout.js";
import { NAMESPACE, RETIRED_AT, RETIRED_PARTITION } from "./read-model-generations.js";
import { batchWriteAll } from "./unprocessed.js";

export interface PurgeRetiredGenerationsOptions {
  /**
   * Requests this call sends at most (a page's deletes, once its `Scan` is sent, are finished: up
   * to 40 more). Defaults to 100.
   */
  readonly maxRequests?: number;
  /**
   * Only generations retired at least this long ago: a store elsewhere may read a swapped-out
   * generation for up to its `generationCacheMs`. Defaults to 60,000 ms.
   */
  readonly olderThanMs?: number;
  /** Items a `Scan` page evaluates at most. Defaults to 1,000. */
  readonly pageSize?: number;
}

export interface PurgeRetiredGenerationsResult {
  /** Document items deleted by this call. */
  readonly deleted: number;
  /** Requests sent by this call. */
  readonly requests: number;
  /** No retired generation old enough is left; false: call again, it resumes where this one stopped. */
  readonly done: boolean;
}

/** Sort key of the purge's cursor: which namespaces the scan under way deletes, and where it is. */
const CURSOR_SORT_KEY = 0;
const CURSOR = "cursor";
/** A filter's `IN` takes at most 100 operands. */
const NAMESPACES_PER_PASS = 100;
/** BatchWriteItem takes at most 25 requests. */
const DELETES_PER_BATCH = 25;

interface Pass {
  readonly namespaces: readonly string[];
  /** Sort keys of the retired markers this pass clears when its scan ends. */
  readonly markers: readonly number[];
  readonly cursor: Record<string, unknown> | undefined;
}

/**
 * Deletes retired generations' documents: takes up to 100 retired namespaces old enough, scans the
 * table for their documents page by page (the cursor kept in the table after each page, so a
 * crash or the budget's end resumes there), deletes them, and clears the markers when the scan ends.
 */
export async function purgeRetiredGenerations(
  client: AwsJsonClient,
  layout: TableLayout,
  options: PurgeRetiredGenerationsOptions,
  documents: { readonly documentPrefix: string; readonly namespaceAttribute: string },
): Promise<PurgeRetiredGenerationsResult> {
  // Before any request: a misspelt `olderThanMS` purged generations younger than meant.
  assertKnownOptions(options, ["maxRequests", "olderThanMs", "pageSize"], "purge options");
  const maxRequests = checked(options, "maxRequests", 100, 1);
  const olderThanMs = checked(options, "olderThanMs", 60_000, 0);
  const pageSize = checked(options, "pageSize", 1000, 1);
  let requests = 0;
  let deleted = 0;
  const send = <T>(operation: string, input: unknown, sendOptions?: SendOptions) => {
    requests++;
    return client.send<T>(operation, input, sendOptions);
  };
  const key = (sortKey: number) => ({
    [layout.partitionKey]: str(partitionValue(layout, RETIRED_PARTITION)),
    [layout.sortKey]: num(sortKey),
  });
  const deleteAll = async (keys: Record<string, unknown>[]) => {
    for (let i = 0; i < keys.length; i += DELETES_PER_BATCH) {
      // What DynamoDB leaves unprocessed (throttling) is sent again a bounded number of times; then the
      // call fails, retryable, and the next one rescans from the saved cursor.
      await batchWriteAll(
        client,
        async (pending) => {
          const result = await send<{ UnprocessedItems?: Record<string, unknown[]> }>("BatchWriteItem", {
            RequestItems: { [layout.tableName]: pending },
          });
          return result.UnprocessedItems?.[layout.tableName] ?? [];
        },
        keys.slice(i, i + DELETES_PER_BATCH).map((Key) => ({ DeleteRequest: { Key } })),
        (count) => `${count} retired document deletion(s) left unprocessed; call purgeRetiredGenerations again`,
      );
    }
  };
  const savePass = (pass: Pass) =>
    send("PutItem", {
      TableName: layout.tableName,
      Item: { ...key(CURSOR_SORT_KEY), [CURSOR]: str(JSON.stringify(pass)) },
    });

  const saved = await send<{ Item?: Record<string, unknown> }>("GetItem", {
    TableName: layout.tableName,
    Key: key(CURSOR_SORT_KEY),
    ConsistentRead: true,
  });
  const text = saved.Item === undefined ? undefined : readString(saved.Item, CURSOR);
  let pass = text === undefined ? undefined : savedPass(text);
  // The keys this call's scan of one pass was given (a pass resumed from a saved cursor starts a new trail).
  let pageTrail = new PageTrail();
  while (requests < maxRequests) {
    if (pass === undefined) {
      pass = await nextPass(send, layout, Date.now() - olderThanMs);
      pageTrail = new PageTrail();
      if (pass === undefined) return { deleted, requests, done: true };
      await savePass(pass);
      continue;
    }
    const names = Object.fromEntries(pass.namespaces.map((ns, i) => [`:n${i}`, str(ns)]));
    const page = await send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>(
      "Scan",
      {
        TableName: layout.tableName,
        ConsistentRead: true,
        Limit: pageSize,
        ProjectionExpression: "#pk, #sk",
        FilterExpression: `begins_with(#pk, :prefix) AND #ns IN (${Object.keys(names).join(", ")})`,
        ExpressionAttributeNames: {
          "#pk": layout.partitionKey,
          "#sk": layout.sortKey,
          "#ns": documents.namespaceAttribute,
        },
        ExpressionAttributeValues: { ":prefix": str(documents.documentPrefix), ...names },
        ...(pass.cursor === undefined ? {} : { ExclusiveStartKey: pass.cursor }),
      },
      { pageTrail },
    );
    const found = page.Items ?? [];
    await deleteAll(found);
    deleted += found.length;
    if (page.LastEvaluatedKey !== undefined) {
      pass = { ...pass, cursor: page.LastEvaluatedKey };
      await savePass(pass);
      continue;
    }
    // The scan has seen the whole table: these generations are gone, and so are their markers.
    await deleteAll([...pass.markers.map(key), key(CURSOR_SORT_KEY)]);
    pass = undefined;
  }
  return { deleted, requests, done: false };
}

/** The next up to 100 namespaces retired before `cutoff`, or undefined when there are none. */
async function nextPass(
  send: <T>(operation: string, input: unknown, options?: SendOptions) => Promise<T>,
  layout: TableLayout,
  cutoff: number,
): Promise<Pass | undefined> {
  const namespaces = new Set<string>();
  const markers: number[] = [];
  let start: Record<string, unknown> | undefined;
  const pageTrail = new PageTrail();
  do {
    const page = await send<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>(
      "Query",
      {
        TableName: layout.tableName,
        ConsistentRead: true,
        KeyConditionExpression: "#pk = :pk AND #sk > :cursor",
        FilterExpression: "#at <= :cutoff",
        ExpressionAttributeNames: { "#pk": layout.partitionKey, "#sk": layout.sortKey, "#at": RETIRED_AT },
        ExpressionAttributeValues: {
          ":pk": str(partitionValue(layout, RETIRED_PARTITION)),
          ":cursor": num(CURSOR_SORT_KEY),
          ":cutoff": num(cutoff),
        },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      },
      { pageTrail },
    );
    for (const item of page.Items ?? []) {
      const ns = readString(item, NAMESPACE);
      const sortKey = readNumber(item, layout.sortKey);
      if (ns === undefined || sortKey === undefined) continue;
      if (!namespaces.has(ns) && namespaces.size >= NAMESPACES_PER_PASS) return pass();
      namespaces.add(ns);
      markers.push(sortKey);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return namespaces.size === 0 ? undefined : pass();

  function pass(): Pass {
    return { namespaces: [...namespaces], markers, cursor: undefined };
  }
}

function checked(
  options: PurgeRetiredGenerationsOptions,
  name: keyof PurgeRetiredGenerationsOptions,
  fallback: number,
  min: number,
) {
  const value = options?.[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    const issues: Issue[] = [{ path: [name], message: `${name} must be an integer of at least ${min}` }];
    throw new ValidationError("Invalid purge options", issues);
  }
  return value;
}

/**
 * A pass saved by an earlier call, or undefined when its item is not one (another tool wrote it): a new
 * pass then starts, which is safe, since a pass only deletes what is retired and may run again.
 */
function savedPass(text: string): Pass | undefined {
  let pass: Partial<Pass>;
  try {
    pass = JSON.parse(text) as Partial<Pass>;
  } catch {
    return undefined;
  }
  const strings = Array.isArray(pass?.namespaces) && pass.namespaces.every((n) => typeof n === "string");
  const numbers = Array.isArray(pass?.markers) && pass.markers.every((m) => typeof m === "number");
  const cursor = pass?.cursor === undefined || (typeof pass.cursor === "object" && pass.cursor !== null);
  return strings && numbers && cursor ? (pass as Pass) : undefined;
}
