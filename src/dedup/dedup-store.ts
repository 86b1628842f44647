import { type Issue, ValidationError } from "../errors.js";
import { isWellFormed, LONE_SURROGATE } from "../internal/unicode.js";

/**
 * Remembers which events a consumer has handled, so a message delivered twice (SQS delivers at
 * least once; EventBridge may too) is handled once. An event id is added only after its handlers
 * succeeded. Back it with a table shared by all consumers (DynamoDbDedupStore, PostgresDedupStore,
 * SqliteDedupStore on D1) to deduplicate across Lambda instances or Worker isolates; the in-memory one covers a single process.
 *
 * `has` and `add` both refuse an id that is not 1 to {@link MAX_DEDUP_ID_LENGTH} characters, or holds a
 * lone surrogate or U+0000, with a ValidationError, so every store accepts the same ids.
 */
export interface DedupStore {
  has(eventId: string): boolean | Promise<boolean>;
  add(eventId: string): void | Promise<void>;
  /** Resolves when the backend answers, for health checks. Optional for stores written before it. */
  ping?(signal?: AbortSignal): Promise<void>;
}

/** Longest event id a dedup store takes: a ULID or UUID with generous room for a prefix. */
export const MAX_DEDUP_ID_LENGTH = 512;

/** What every DedupStore refuses alike; stores with stricter text rules add their own issues. */
export function dedupIdIssues(eventId: unknown): Issue[] {
  if (typeof eventId !== "string" || eventId.length === 0 || eventId.length > MAX_DEDUP_ID_LENGTH) {
    return [{ path: ["eventId"], message: `must be a string of 1 to ${MAX_DEDUP_ID_LENGTH} characters` }];
  }
  // A lone surrogate would be stored as "?" by some backends, merging distinct ids into one.
  if (!isWellFormed(eventId)) return [{ path: ["eventId"], message: LONE_SURROGATE }];
  // PostgreSQL text cannot hold U+0000: refused for every store, so that they all take the same ids.
  return eventId.includes("\0")
    ? [{ path: ["eventId"], message: "contains U+0000 (NUL), which the stores cannot hold" }]
    : [];
}

/** @throws {ValidationError} an id that is not a string of 1 to {@link MAX_DEDUP_ID_LENGTH} characters. */
export function checkDedupId(eventId: unknown): void {
  const issues = dedupIdIssues(eventId);
  if (issues.length > 0) throw new ValidationError("Invalid event id for deduplication", issues);
}
