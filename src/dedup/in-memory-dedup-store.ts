import { ValidationError } from "../errors.js";
import { assertKnownOptions, checkedClock, functionIssues, integerOptionIssues } from "../internal/validate.js";
import { checkDedupId, type DedupStore } from "./dedup-store.js";

export interface InMemoryDedupStoreOptions {
  /** Ids remembered; the oldest are forgotten first. Defaults to 100,000. */
  readonly maxEntries?: number;
  /** How long an id is remembered. Defaults to forever (until evicted by `maxEntries`). */
  readonly ttlMs?: number;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

/** A bounded in-process dedup store: the latest `maxEntries` ids, oldest evicted first. */
export class InMemoryDedupStore implements DedupStore {
  /** Id -> when it expires. */
  readonly #ids = new Map<string, number>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(given: InMemoryDedupStoreOptions = {}) {
    // null is no options, as for every store (assertKnownOptions refuses what is no object).
    const options = given ?? {};
    assertKnownOptions(options, ["maxEntries", "ttlMs", "now"], "dedup store options");
    const max = options.maxEntries ?? 100_000;
    const issues = [];
    if (!Number.isSafeInteger(max) || max < 1) {
      issues.push({ path: ["maxEntries"], message: "maxEntries must be a positive integer" });
    }
    // The check every dedup store makes: `null` is refused, not read as a default (here: never expire).
    issues.push(...integerOptionIssues(options.ttlMs, "ttlMs", Number.MAX_SAFE_INTEGER));
    issues.push(...functionIssues(options.now, "now"));
    if (issues.length > 0) throw new ValidationError("Invalid dedup store options", issues);
    this.#max = max;
    this.#ttlMs = options.ttlMs ?? Number.POSITIVE_INFINITY;
    // A reading that is no time (NaN) would make every id look expired: every redelivery handled again.
    this.#now = checkedClock(options.now);
  }

  /** Nothing to reach in memory: always answers. */
  async ping(): Promise<void> {}

  has(eventId: string): boolean {
    checkDedupId(eventId);
    const expiresAt = this.#ids.get(eventId);
    return expiresAt !== undefined && expiresAt > this.#now();
  }

  add(eventId: string): void {
    checkDedupId(eventId);
    // Re-inserting moves the id to the end, so the Map stays in expiry order.
    this.#ids.delete(eventId);
    this.#ids.set(eventId, this.#now() + this.#ttlMs);
    // A Map iterates in insertion order, so its first key is the oldest.
    if (this.#ids.size > this.#max) this.#ids.delete(this.#ids.keys().next().value as string);
  }

  get size(): number {
    return this.#ids.size;
  }
}
