import { ValidationError } from "../../src/index.js";

/**
 * Remembers which events a consumer has handled, so a message delivered twice (SQS delivers at
 * least once; EventBridge may too) is handled once. An event id is added only after its handlers
 * succeeded. Back it with a table shared by all consumers (DynamoDB, PostgreSQL) to deduplicate
 * across Lambda instances; the in-memory one covers a single process.
 */
export interface DedupStore {
  has(eventId: string): boolean | Promise<boolean>;
  add(eventId: string): void | Promise<void>;
}

export interface InMemoryDedupStoreOptions {
  /** Ids remembered; the oldest are forgotten first. Defaults to 100,000. */
  readonly maxEntries?: number;
}

/** A bounded in-process dedup store: the latest `maxEntries` ids, oldest evicted first. */
export class InMemoryDedupStore implements DedupStore {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(options: InMemoryDedupStoreOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new ValidationError("Invalid dedup store options", [
        { path: ["maxEntries"], message: "maxEntries must be a positive integer" },
      ]);
    }
    this.#max = max;
  }

  has(eventId: string): boolean {
    return this.#ids.has(eventId);
  }

  add(eventId: string): void {
    if (this.#ids.has(eventId)) return;
    this.#ids.add(eventId);
    // A Set iterates in insertion order, so its first element is the oldest.
    if (this.#ids.size > this.#max) this.#ids.delete(this.#ids.values().next().value as string);
  }

  get size(): number {
    return this.#ids.size;
  }
}
