/** One cached value, a link of the recency list. */
interface Entry<V> {
  readonly key: string;
  value: V;
  at: number;
  /** The next less recently used entry (toward the head), and the next more recently used one. */
  older: Entry<V> | undefined;
  newer: Entry<V> | undefined;
}

/**
 * A bounded least-recently-used map with an age limit. Recency is a doubly linked list beside the
 * `Map` (the head is the least recently used): a hit, which every decrypted record makes, relinks one
 * entry instead of deleting and re-inserting it in the `Map`, and a hit on the most recent entry
 * changes nothing.
 */
export class KeyCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #size: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #oldest: Entry<V> | undefined;
  #newest: Entry<V> | undefined;

  constructor(size: number, ttlMs: number, now: () => number) {
    this.#size = size;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() - entry.at >= this.#ttlMs) {
      this.#remove(entry);
      return undefined;
    }
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#append(entry);
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.#size === 0) return;
    const at = this.#now();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = value;
      entry.at = at;
      this.#unlink(entry);
      this.#append(entry);
      return;
    }
    const added: Entry<V> = { key, value, at, older: undefined, newer: undefined };
    this.#entries.set(key, added);
    this.#append(added);
    if (this.#entries.size > this.#size) this.#remove(this.#oldest as Entry<V>);
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(entry);
  }

  get size(): number {
    return this.#entries.size;
  }

  #remove(entry: Entry<V>): void {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
  }

  #unlink(entry: Entry<V>): void {
    const { older, newer } = entry;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    entry.older = undefined;
    entry.newer = undefined;
  }

  #append(entry: Entry<V>): void {
    const last = this.#newest;
    entry.older = last;
    if (last === undefined) this.#oldest = entry;
    else last.newer = entry;
    this.#newest = entry;
  }
}
