import { IdempotencyClaimLostError, type Issue, ValidationError } from "../errors.js";
import { ulid } from "../ids.js";
import { utf8Length } from "../internal/json.js";
import { assertKnownOptions, checkedClock, functionIssues } from "../internal/validate.js";
import {
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  type StoredResponse,
} from "./idempotency-store.js";

export interface InMemoryIdempotencyStoreOptions {
  /** How long a completed response is replayed. Defaults to 24 hours. */
  readonly ttlMs?: number;
  /** How long an unfinished claim blocks its key (a crashed request never completes). Defaults to 60 seconds. */
  readonly inProgressTtlMs?: number;
  /** Most keys kept in all; the oldest are forgotten first beyond it. Defaults to 10,000. */
  readonly maxEntries?: number;
  /** Most bytes kept in all (keys, fingerprints, stored bodies); the oldest go first. Defaults to 64 MiB. */
  readonly maxBytes?: number;
  /**
   * Most keys one scope (one caller) keeps; its own oldest go first. Defaults to 1,000. Keys without a
   * scope (`scopeOf` gives `""`) count only against the overall bounds.
   */
  readonly maxEntriesPerScope?: number;
  /**
   * Most bytes one scope keeps; its own oldest go first. A response larger than this alone is not
   * remembered (a retry runs again). Defaults to 4 MiB.
   */
  readonly maxBytesPerScope?: number;
  /**
   * The scope (the caller) a key belongs to. Defaults to {@link idempotencyScopeOf}: what precedes
   * the first `:`, which is how the HTTP layer writes keys (`<caller digest>:<key digest>`).
   */
  readonly scopeOf?: (key: string) => string;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

/** The scope of a key written `<scope>:<rest>`; `""` for a key without `:`. */
export function idempotencyScopeOf(key: string): string {
  const colon = key.indexOf(":");
  return colon === -1 ? "" : key.slice(0, colon);
}

interface Entry {
  readonly fingerprint: string;
  /** The token of the claim that holds the key. */
  readonly token: string;
  readonly response: StoredResponse | undefined;
  readonly expiresAt: number;
  readonly scope: string;
  readonly bytes: number;
}

interface Scope {
  /** The scope's keys, oldest first. */
  readonly keys: Set<string>;
  bytes: number;
}

// What a record costs beyond its strings: the map entries and objects that hold it.
const ENTRY_OVERHEAD = 96;

const IDEMPOTENCY_STORE_KEYS = Object.keys({
  ttlMs: true,
  inProgressTtlMs: true,
  maxEntries: true,
  maxBytes: true,
  maxEntriesPerScope: true,
  maxBytesPerScope: true,
  scopeOf: true,
  now: true,
} satisfies Record<keyof InMemoryIdempotencyStoreOptions, true>);

/**
 * Keys kept in this process's memory: right for one instance and for tests. Behind a load balancer,
 * on Lambda or on Workers, where requests land on many instances, use a shared store
 * (`PostgresIdempotencyStore`, `DynamoDbIdempotencyStore`, `SqliteIdempotencyStore` on D1): keys
 * remembered here are lost on restart and unknown to the other instances.
 *
 * Memory is bounded in entries and in bytes, overall and per scope (per caller), so one caller
 * cannot flush the keys of another: beyond its own bounds a caller forgets its own oldest keys first.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  /** Every key, oldest first: what the bounds forget first. */
  readonly #entries = new Map<string, Entry>();
  /**
   * The keys in progress, and those completed, each in expiry order: each kind has one TTL, so the
   * order of insertion is that of expiry, and expired keys are found from the front of each.
   */
  readonly #inProgress = new Set<string>();
  readonly #completed = new Set<string>();
  readonly #scopes = new Map<string, Scope>();
  #bytes = 0;
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxEntriesPerScope: number;
  readonly #maxBytesPerScope: number;
  readonly #scopeOf: (key: string) => string;
  readonly #now: () => number;

  /** @throws {ValidationError} a bound or TTL that is not a positive integer, a clock or scopeOf that is not a function. */
  constructor(given: InMemoryIdempotencyStoreOptions = {}) {
    // null is no options, as for every store.
    const options = given ?? {};
    assertKnownOptions(options, IDEMPOTENCY_STORE_KEYS, "idempotency store options");
    const issues: Issue[] = [];
    this.#ttlMs = positiveInteger(options.ttlMs, 24 * 60 * 60 * 1000, "ttlMs", issues);
    this.#inProgressTtlMs = positiveInteger(options.inProgressTtlMs, 60 * 1000, "inProgressTtlMs", issues);
    this.#maxEntries = positiveInteger(options.maxEntries, 10_000, "maxEntries", issues);
    this.#maxBytes = positiveInteger(options.maxBytes, 64 * 1024 * 1024, "maxBytes", issues);
    this.#maxEntriesPerScope = positiveInteger(options.maxEntriesPerScope, 1_000, "maxEntriesPerScope", issues);
    this.#maxBytesPerScope = positiveInteger(options.maxBytesPerScope, 4 * 1024 * 1024, "maxBytesPerScope", issues);
    issues.push(...functionIssues(options.scopeOf, "scopeOf"), ...functionIssues(options.now, "now"));
    if (issues.length > 0) throw new ValidationError("Invalid idempotency store options", issues);
    this.#scopeOf = options.scopeOf ?? idempotencyScopeOf;
    // A reading that is no time (NaN) would make every record look expired: every claim would win.
    this.#now = checkedClock(options.now);
  }

  /** Nothing to reach in memory: always answers. */
  async ping(): Promise<void> {}

  /** Keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held now, as the bounds count them. */
  get bytes(): number {
    return this.#bytes;
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    const now = this.#now();
    this.#evictExpired(now);
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > now) {
      return entry.response === undefined
        ? { state: "in-progress", fingerprint: entry.fingerprint }
        : { state: "completed", fingerprint: entry.fingerprint, response: entry.response };
    }
    const token = ulid();
    this.#set(key, fingerprint, token, undefined, now + this.#inProgressTtlMs);
    return { state: "claimed", token };
  }

  async complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token, response);
    const now = this.#now();
    const entry = this.#entries.get(key);
    // Another request's live record: this claim expired and the key was claimed again since.
    if (entry !== undefined && entry.expiresAt > now && (entry.token !== token || entry.fingerprint !== fingerprint)) {
      throw new IdempotencyClaimLostError();
    }
    this.#set(key, fingerprint, token, response, now + this.#ttlMs);
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token);
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.response !== undefined || entry.token !== token) return;
    if (entry.fingerprint !== fingerprint) return;
    this.#delete(key);
  }

  #set(key: string, fingerprint: string, token: string, response: StoredResponse | undefined, expiresAt: number): void {
    const scope = this.#scopeOf(key);
    const bytes =
      ENTRY_OVERHEAD +
      key.length +
      fingerprint.length +
      token.length +
      (response === undefined ? 0 : utf8Length(response.body) + response.contentType.length);
    // Re-inserting moves the key to the end of its kind's set: each set stays in expiry order.
    this.#delete(key);
    const scoped = scope !== "";
    if ((scoped && bytes > this.#maxBytesPerScope) || bytes > this.#maxBytes) return;
    this.#entries.set(key, { fingerprint, token, response, expiresAt, scope, bytes });
    (response === undefined ? this.#inProgress : this.#completed).add(key);
    let owner = this.#scopes.get(scope);
    if (owner === undefined) {
      owner = { keys: new Set(), bytes: 0 };
      this.#scopes.set(scope, owner);
    }
    owner.keys.add(key);
    owner.bytes += bytes;
    this.#bytes += bytes;
    // The caller over its own bounds loses its own oldest keys; only the overall bounds touch others.
    while (scoped && (owner.keys.size > this.#maxEntriesPerScope || owner.bytes > this.#maxBytesPerScope)) {
      this.#delete(owner.keys.values().next().value as string);
    }
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#delete(this.#entries.keys().next().value as string);
    }
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    (entry.response === undefined ? this.#inProgress : this.#completed).delete(key);
    this.#bytes -= entry.bytes;
    const owner = this.#scopes.get(entry.scope);
    if (owner === undefined) return;
    owner.keys.delete(key);
    owner.bytes -= entry.bytes;
    if (owner.keys.size === 0) this.#scopes.delete(entry.scope);
  }

  #evictExpired(now: number): void {
    for (const keys of [this.#inProgress, this.#completed]) {
      for (const key of keys) {
        if ((this.#entries.get(key) as Entry).expiresAt > now) break;
        this.#delete(key);
      }
    }
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string, issues: Issue[]): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) issues.push({ path: [name], message: "must be a positive integer" });
  return value;
}
