/**
 * Idempotent commands over HTTP: a request with an `Idempotency-Key` header runs once; a retry with
 * the same key and the same request gets the first response back, marked `Idempotent-Replayed: true`.
 * The same key with a different request (another command type or other body bytes) is refused with
 * 422, and a retry that arrives while the first is still running gets 409.
 *
 * Only successful responses are remembered: when the command fails, the key is released, so the
 * client may retry once the cause is fixed (a concurrency conflict, a backend outage).
 */
import { ValidationError } from "../../src/index.js";
import {
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../http/index.js";

export {
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  idempotencyInputIssues,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../http/index.js";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";

export interface InMemoryIdempotencyStoreOptions {
  /** How long a completed response is replayed. Defaults to 24 hours. */
  readonly ttlMs?: number;
  /** How long an unfinished claim blocks its key (a crashed request never completes). Defaults to 60 seconds. */
  readonly inProgressTtlMs?: number;
  /** Most keys kept; the oldest are forgotten first beyond it. Defaults to 10,000. */
  readonly maxEntries?: number;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

interface Entry {
  readonly fingerprint: string;
  readonly response: StoredResponse | undefined;
  readonly expiresAt: number;
}

/**
 * Keys kept in this process's memory: right for one instance and for tests. Behind a load balancer
 * or on Workers, where requests land on many isolates, use a shared store.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: InMemoryIdempotencyStoreOptions = {}) {
    this.#ttlMs = positiveInteger(options.ttlMs, 24 * 60 * 60 * 1000, "ttlMs");
    this.#inProgressTtlMs = positiveInteger(options.inProgressTtlMs, 60 * 1000, "inProgressTtlMs");
    this.#maxEntries = positiveInteger(options.maxEntries, 10_000, "maxEntries");
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    const now = this.#now();
    this.#evict(now);
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > now) {
      return entry.response === undefined
        ? { state: "in-progress", fingerprint: entry.fingerprint }
        : { state: "completed", fingerprint: entry.fingerprint, response: entry.response };
    }
    this.#set(key, { fingerprint, response: undefined, expiresAt: now + this.#inProgressTtlMs });
    return { state: "claimed" };
  }

  async complete(key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    checkIdempotencyInput(key, fingerprint, response);
    this.#set(key, { fingerprint, response, expiresAt: this.#now() + this.#ttlMs });
  }

  async release(key: string, fingerprint: string): Promise<void> {
    checkIdempotencyInput(key, fingerprint);
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.response === undefined && entry.fingerprint === fingerprint) {
      this.#entries.delete(key);
    }
  }

  #set(key: string, entry: Entry): void {
    // Re-inserting keeps the map in roughly expiry order, so eviction can stop at the first live entry.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) return;
      this.#entries.delete(key);
    }
  }
}

/**
 * The `Idempotency-Key` header's value: a plain token, or an RFC 8941 string in quotes, as the
 * IETF draft writes it. `undefined` when absent.
 * @throws {ValidationError} empty, too long, or not visible ASCII.
 */
export function idempotencyKeyFrom(headers: Headers): string | undefined {
  const raw = headers.get(IDEMPOTENCY_HEADER);
  if (raw === null) return undefined;
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ValidationError("Invalid Idempotency-Key", [
      {
        path: ["headers", IDEMPOTENCY_HEADER],
        message: `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`,
      },
    ]);
  }
  return key;
}

const encoder = new TextEncoder();

/** SHA-256 (hex) of what identifies a request: its command type and its exact body bytes. */
export async function requestFingerprint(type: string, body: Uint8Array | ArrayBuffer): Promise<string> {
  const bytes = body instanceof Uint8Array ? body : new Uint8Array(body);
  const prefix = encoder.encode(`${type}\n`);
  const input = new Uint8Array(prefix.length + bytes.length);
  input.set(prefix, 0);
  input.set(bytes, prefix.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError("Invalid idempotency store options", [
      { path: [name], message: "must be a positive integer" },
    ]);
  }
  return value;
}
