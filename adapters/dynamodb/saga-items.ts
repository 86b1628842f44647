import { PayloadTooLargeError, utf8Length, ValidationError } from "../../src/index.js";
import { MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS } from "./layout.js";

/*
 * The saga store's items: where they live (partition and sort keys), their attribute names, and
 * DynamoDB's limits on what one commit writes.
 */

/**
 * Partition-key prefixes of the saga store's items. The control character keeps them off stream ids.
 * - instance: the instance (sort key 0) and its undispatched outbox entries (sort key: a hash of the entry id);
 * - handled: one item per handled event or timeout id (sort key 0);
 * - due: the pending timeouts of one shard, sorted by due time (sort key `<dueAt>.<hash of the id>`);
 * - failures: recorded failures of one saga, sorted by time.
 */
export const SAGA_PARTITION_PREFIX = "\u001feventflows:saga:";
export const SAGA_HANDLED_PARTITION_PREFIX = "\u001feventflows:saga-handled:";
export const SAGA_DUE_PARTITION_PREFIX = "\u001feventflows:saga-due:";
export const SAGA_FAILURE_PARTITION_PREFIX = "\u001feventflows:saga-failures:";

/** DynamoDB allows 2,048 bytes of partition key; longer names are stored under their SHA-256. */
const MAX_READABLE_KEY_BYTES = 1024;

/** The partition key of a tuple of names: their JSON while it is short, else `#` and its SHA-256 (JSON starts with `[`). */
export async function partitionOf(prefix: string, parts: readonly string[]): Promise<string> {
  const text = JSON.stringify(parts);
  if (utf8Length(text) <= MAX_READABLE_KEY_BYTES) return prefix + text;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return `${prefix}#${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * 63 bits of the SHA-256 of `text`, as 19 decimal digits: a sort key that distinguishes ids within
 * one partition (a collision is a 2^-63 chance per pair, and the puts are conditional, so one would
 * fail a commit rather than overwrite).
 */
export async function hashDigits(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(digest[i] as number);
  return (value & 0x7fff_ffff_ffff_ffffn).toString().padStart(19, "0");
}

/** The sort key of an outbox entry in its instance's partition: never 0, the instance's own. */
export async function outboxSortKey(entryId: string): Promise<string> {
  return (BigInt(await hashDigits(entryId)) + 1n).toString();
}

/** The sort key of a timeout in its shard: due time first, so a range query reads the due ones oldest first. */
export async function timeoutSortKey(dueAt: number, timeoutId: string): Promise<string> {
  return `${Math.floor(dueAt)}.${await hashDigits(timeoutId)}`;
}

/** Which due shard an instance's timeouts live in. */
export async function shardOf(saga: string, key: string, shards: number): Promise<number> {
  if (shards === 1) return 0;
  return Number(BigInt(await hashDigits(JSON.stringify([saga, key]))) % BigInt(shards));
}

/** Approximate stored size of an item, as DynamoDB counts it: attribute names plus values (numbers ≤ 21 bytes). */
export function itemBytes(item: Readonly<Record<string, unknown>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += utf8Length(name);
    const v = value as { S?: string; N?: string };
    bytes += v.S !== undefined ? utf8Length(v.S) : v.N !== undefined ? 21 : 1;
  }
  return bytes;
}

/** Attribute names of the saga items (the table's key names must differ from them). */
export const S = {
  saga: "sg",
  key: "ck",
  version: "v",
  state: "st",
  status: "ss",
  step: "step",
  compensations: "comp",
  attention: "att",
  timeouts: "tmo",
  created: "at",
  seq: "seq",
  entry: "entry",
  id: "id",
  name: "name",
  data: "data",
  owner: "owner",
  until: "until",
  failure: "fail",
  /** On the instance: the token of the write that last changed it, so a repeat of that write knows itself. */
  writeToken: "wt",
  /**
   * On the instance: the token of the write that last changed its pending timeouts' list (`tmo`). A drop of a
   * timeout changes the list and not the version: a commit that rewrites the list from an older read of it is
   * refused by this token instead, as a conflict, and decided again.
   */
  timeoutsToken: "tt",
} as const;

/** DynamoDB's transaction limits, checked before anything is sent. */
/**
 * `keptBytes`: what the first item (the instance) keeps of what it held, when it is an update: the
 * attributes the update does not set still count towards the item's size.
 */
export function checkTransaction(
  saga: string,
  key: string,
  transaction: readonly Record<string, unknown>[],
  keptBytes = 0,
): void {
  if (transaction.length > MAX_TRANSACTION_ITEMS) {
    throw new ValidationError(`Saga step too large for "${saga}" "${key}"`, [
      {
        path: [],
        message: `the step writes ${transaction.length} items (state, handled id, outbox entries, timeouts); DynamoDB commits at most ${MAX_TRANSACTION_ITEMS} at once`,
      },
    ]);
  }
  let total = 0;
  for (const [i, action] of transaction.entries()) {
    const write = (action.Put ?? action.Update ?? action.Delete) as {
      Item?: Record<string, unknown>;
      Key?: Record<string, unknown>;
      ExpressionAttributeValues?: Record<string, unknown>;
    };
    const bytes =
      itemBytes(write.Item ?? { ...write.Key, ...write.ExpressionAttributeValues }) + (i === 0 ? keptBytes : 0);
    if (bytes > MAX_ITEM_BYTES) {
      throw new PayloadTooLargeError(`An item of the saga step of "${saga}" "${key}"`, bytes, MAX_ITEM_BYTES);
    }
    total += bytes;
  }
  if (total > MAX_TRANSACTION_BYTES) {
    throw new PayloadTooLargeError(`The saga step of "${saga}" "${key}"`, total, MAX_TRANSACTION_BYTES);
  }
}

/**
 * Whether the instance a step leaves can still end in one transaction: its compensation writes every
 * registered compensation (with the instance, the handled id and, fired by a timeout, that timeout's
 * delete), its end deletes every pending timeout (with the instance and the handled id). Refused when
 * the step is taken; otherwise the instance could never compensate or end on DynamoDB.
 */
export function checkEndable(saga: string, key: string, compensations: number, timeouts: number | undefined): void {
  const issues = [];
  if (compensations > MAX_TRANSACTION_ITEMS - 3) {
    issues.push({
      path: ["compensations"],
      message: `${compensations} compensations registered; DynamoDB can send at most ${MAX_TRANSACTION_ITEMS - 3} in the one transaction that starts the compensation`,
    });
  }
  if (timeouts !== undefined && timeouts > MAX_TRANSACTION_ITEMS - 2) {
    issues.push({
      path: ["schedule"],
      message: `${timeouts} pending timeouts; DynamoDB can delete at most ${MAX_TRANSACTION_ITEMS - 2} in the one transaction that ends the instance`,
    });
  }
  if (issues.length > 0)
    throw new ValidationError(`Saga step of "${saga}" "${key}" leaves an instance that cannot end`, issues);
}

/** The partition of a due shard. */
export const dueShard = (shard: number): string => `${SAGA_DUE_PARTITION_PREFIX}${shard}`;
