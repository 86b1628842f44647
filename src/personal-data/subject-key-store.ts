import { type Issue, isEventFlowsError, PersonalDataError, SubjectErasedError, ValidationError } from "../errors.js";
import { functionIssues, isName, kindOf, nameIssues } from "../internal/validate.js";
import { KeyCache } from "./key-cache.js";
import { forgetSyncKey, rememberSyncKey } from "./sync-aes-gcm.js";

/**
 * The runtime's Web Crypto key type (`CryptoKey`), named through the global `crypto` so that public
 * types compile without the DOM library: Node's own types declare `CryptoKey` only as
 * `crypto.webcrypto.CryptoKey`, not as a global.
 */
export type WebCryptoKey = Parameters<typeof crypto.subtle.encrypt>[1];

/** Longest data subject id accepted, in characters. */
export const MAX_SUBJECT_ID_LENGTH = 256;

/** What a key store holds for one data subject. */
export type SubjectKeyLookup =
  /** The subject's AES-GCM key (256 bits, not extractable). */
  | { readonly status: "active"; readonly key: WebCryptoKey }
  /** The subject's key was deleted: its personal data is unreadable for good. */
  | { readonly status: "erased" }
  /** No key was ever made for the subject. */
  | { readonly status: "unknown" };

export interface SubjectKeyStoreOptions {
  /**
   * Most keys (and erasures) kept in memory; the least recently used goes first. Defaults to 1,000;
   * 0 turns the cache off (every lookup asks the backend).
   */
  readonly cacheSize?: number;
  /**
   * How long a cached key is trusted, in ms. A delete through this instance drops its cached key at
   * once; a delete made by another process is seen here once this has passed. Defaults to 60,000.
   */
  readonly cacheTtlMs?: number;
  /** The cache's clock, in ms. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/**
 * The keys of {@link SubjectKeyStoreOptions}, for the stores that extend them to refuse any other key (a misspelt
 * option was dropped without a word): a record, so that a key added to the interface and not here fails to compile.
 */
export const SUBJECT_KEY_STORE_OPTIONS = {
  cacheSize: true,
  cacheTtlMs: true,
  now: true,
} as const satisfies Record<keyof SubjectKeyStoreOptions, true>;

export const DEFAULT_KEY_CACHE_SIZE = 1000;
export const DEFAULT_KEY_CACHE_TTL_MS = 60_000;

let peekCache: (store: SubjectKeyStore, subjectId: string) => SubjectKeyLookup | undefined;

/**
 * What `store` has cached for the subject, without a promise (`undefined`: ask {@link SubjectKeyStore.get}).
 * For {@link PersonalData}: a read whose keys are all cached decrypts without an asynchronous hop.
 */
export function cachedSubjectKey(store: SubjectKeyStore, subjectId: string): SubjectKeyLookup | undefined {
  return peekCache(store, subjectId);
}

/**
 * The port of per-subject encryption keys for crypto-shredding. Subclasses implement storage
 * (`readKey`, `insertKey`, `eraseKey`); this base validates subject ids, caches keys with a bound,
 * makes sure a deleted key never outlives its delete in this process, and fails closed: anything a
 * backend throws that is not already a typed error becomes a {@link PersonalDataError}.
 *
 * Deleting is final: a deleted subject keeps a tombstone, so no new key is ever made for it.
 */
export abstract class SubjectKeyStore {
  readonly #cache: KeyCache<SubjectKeyLookup>;
  /** Bumped by every delete: a lookup that started before one does not cache what it read. */
  #deletes = 0;
  /**
   * Lookups and creations under way, per subject: concurrent callers for one subject (the events of
   * an append, a read's events decrypted ahead) share one backend call instead of making one each.
   */
  readonly #reading = new Map<string, Promise<SubjectKeyLookup>>();
  readonly #creating = new Map<string, Promise<SubjectKeyLookup>>();

  static {
    peekCache = (store, subjectId) => store.#cache.get(subjectId);
  }

  constructor(options: SubjectKeyStoreOptions = {}) {
    const issues: Issue[] = [];
    // null too: a subclass's own checks of its options (a missing client or master key) come after this.
    const size = options?.cacheSize ?? DEFAULT_KEY_CACHE_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) {
      issues.push({ path: ["cacheSize"], message: `must be a non-negative integer, got ${kindOf(size)}` });
    }
    const ttl = options?.cacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    if (typeof ttl !== "number" || !(ttl > 0)) {
      issues.push({ path: ["cacheTtlMs"], message: `must be a positive number, got ${kindOf(ttl)}` });
    }
    issues.push(...functionIssues(options?.now, "now"));
    if (issues.length > 0) throw new ValidationError("Invalid subject key store options", issues);
    this.#cache = new KeyCache(size, ttl, options?.now ?? Date.now);
  }

  /**
   * The subject's key, made and stored first if it has none. Concurrent calls, in this process or
   * others, get one key.
   * @throws {SubjectErasedError} the subject was erased: no key is made again.
   * @throws {ValidationError} a bad subject id.
   */
  async createOrGet(subjectId: string): Promise<WebCryptoKey> {
    assertSubjectId(subjectId);
    const cached = this.#cache.get(subjectId);
    let lookup = cached;
    if (lookup === undefined || lookup.status === "unknown") {
      lookup = await this.#shared(this.#creating, subjectId, async () => {
        const deletes = this.#deletes;
        const made = await this.#call(subjectId, async () => checkedLookup(await this.insertKey(subjectId)));
        if (deletes === this.#deletes) this.#cache.set(subjectId, made);
        return made;
      });
    }
    if (lookup.status === "active") return lookup.key;
    if (lookup.status === "erased") throw new SubjectErasedError(subjectId);
    throw new PersonalDataError("key-store", subjectId, undefined);
  }

  /** The subject's key, or whether it was erased or never made. */
  async get(subjectId: string): Promise<SubjectKeyLookup> {
    assertSubjectId(subjectId);
    const cached = this.#cache.get(subjectId);
    if (cached !== undefined) return cached;
    return this.#shared(this.#reading, subjectId, async () => {
      const deletes = this.#deletes;
      const lookup = await this.#call(subjectId, async () => checkedLookup(await this.readKey(subjectId)));
      // "unknown" is not cached: another process may make the key any moment.
      if (lookup.status !== "unknown" && deletes === this.#deletes) this.#cache.set(subjectId, lookup);
      return lookup;
    });
  }

  /**
   * Crypto-shreds the subject: deletes its key and leaves a tombstone, so everything encrypted under
   * it reads as erased from now on, and no key is made for it again. Deleting twice, or deleting a
   * subject that never had a key, is harmless (and still leaves the tombstone).
   */
  async delete(subjectId: string): Promise<void> {
    assertSubjectId(subjectId);
    this.#deletes++;
    // Whoever asks from now on waits for a lookup of its own, not one that started before the delete.
    this.#reading.delete(subjectId);
    this.#creating.delete(subjectId);
    const cached = this.#cache.get(subjectId);
    // Its synchronous cipher context goes now, not when the CryptoKey is collected.
    if (cached?.status === "active") forgetSyncKey(cached.key);
    this.#cache.delete(subjectId);
    try {
      await this.#call(subjectId, () => this.eraseKey(subjectId));
    } finally {
      // Dropped again: a lookup that finished while the delete ran must not have left the key here.
      this.#cache.delete(subjectId);
      this.#deletes++;
    }
    this.#cache.set(subjectId, { status: "erased" });
  }

  /** Keys held in this instance's cache now (for tests and metrics). */
  get cachedKeys(): number {
    return this.#cache.size;
  }

  /** `work` for the subject, or the one already under way in `calls`. */
  #shared(
    calls: Map<string, Promise<SubjectKeyLookup>>,
    subjectId: string,
    work: () => Promise<SubjectKeyLookup>,
  ): Promise<SubjectKeyLookup> {
    const under = calls.get(subjectId);
    if (under !== undefined) return under;
    const call: Promise<SubjectKeyLookup> = work().finally(() => {
      if (calls.get(subjectId) === call) calls.delete(subjectId);
    });
    calls.set(subjectId, call);
    return call;
  }

  async #call<T>(subjectId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isEventFlowsError(error)) throw error;
      throw new PersonalDataError("key-store", subjectId, undefined, { cause: error });
    }
  }

  /** What the backend holds for the subject. */
  protected abstract readKey(subjectId: string): Promise<SubjectKeyLookup>;
  /**
   * Stores a new key for the subject unless it has one or was erased, and returns what the backend
   * holds afterwards (the winner's key when another writer got there first).
   */
  protected abstract insertKey(subjectId: string): Promise<SubjectKeyLookup>;
  /** Deletes the subject's key, leaving a tombstone; idempotent. */
  protected abstract eraseKey(subjectId: string): Promise<void>;
}

/**
 * A backend's answer, if it is a lookup that seals and opens: a key store written by hand that answers anything else
 * (nothing, another status, a key that is no AES-GCM CryptoKey) would otherwise fail later as an untyped TypeError
 * from Web Crypto, or as a record "tampered". Thrown inside the key store's call, so it becomes its "key-store"
 * fault; the answer itself is left out, since it may hold key material.
 */
function checkedLookup(lookup: SubjectKeyLookup): SubjectKeyLookup {
  const status = (lookup as SubjectKeyLookup | undefined)?.status;
  if (status === "erased" || status === "unknown") return lookup;
  // 256 bits: the records are labelled aes-256-gcm; a 128-bit key sealed them under that label.
  const key = (lookup as { key?: { algorithm?: { length?: unknown } } }).key;
  if (status === "active" && aesGcmKeyFault(key) === undefined && key?.algorithm?.length === 256) return lookup;
  throw new TypeError("The key store's answer is no subject key lookup with a usable AES-256-GCM key");
}

/**
 * `path`: where the id came from, for a record whose declaration's `subject` returned it (`[index, "data"]`,
 * `["state"]`), so that the caller of an append of many events learns which one was refused.
 */
export function assertSubjectId(subjectId: unknown, path: (string | number)[] = []): asserts subjectId is string {
  // Checked for every record sealed: the list of issues is built only when there are some.
  if (isName(subjectId, MAX_SUBJECT_ID_LENGTH)) return;
  const issues = nameIssues(subjectId, "subject id", MAX_SUBJECT_ID_LENGTH, path);
  if (issues.length > 0) throw new ValidationError("Invalid data subject id", issues);
}

const KEY_ALGORITHM = { name: "AES-GCM", length: 256 } as const;
const WRAP_LABEL = "eventflows/subject-key/v1\u0000";
const IV_BYTES = 12;
const encoder = new TextEncoder();

/** A new subject key: 32 random bytes, and the non-extractable CryptoKey made of them. */
export async function newSubjectKey(): Promise<{ readonly raw: Uint8Array; readonly key: WebCryptoKey }> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  return { raw, key: await importSubjectKey(raw) };
}

async function importSubjectKey(raw: Uint8Array): Promise<WebCryptoKey> {
  const key = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, KEY_ALGORITHM, false, [
    "encrypt",
    "decrypt",
  ]);
  rememberSyncKey(key, raw);
  return key;
}

/**
 * A subject key as a backend stores it: AES-GCM under the application's master key, with the
 * subject id as additional data (a wrapped key copied to another subject's row does not unwrap).
 * The bytes are the 12-byte IV followed by the ciphertext. For key store adapters.
 * @throws {ValidationError} `subjectId` is no subject id, `masterKey` no AES-GCM CryptoKey that may
 * encrypt and decrypt, `raw` no Uint8Array.
 */
export async function wrapSubjectKey(masterKey: WebCryptoKey, subjectId: string, raw: Uint8Array): Promise<Uint8Array> {
  assertSubjectId(subjectId);
  assertWrapArguments(masterKey, raw, "raw");
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(WRAP_LABEL + subjectId) },
    masterKey,
    raw as Uint8Array<ArrayBuffer>,
  );
  const wrapped = new Uint8Array(IV_BYTES + sealed.byteLength);
  wrapped.set(iv);
  wrapped.set(new Uint8Array(sealed), IV_BYTES);
  return wrapped;
}

/**
 * The key {@link wrapSubjectKey} wrapped, as a non-extractable CryptoKey.
 * @throws {ValidationError} `subjectId` is no subject id (checked first, since the error below keeps
 * it), `masterKey` no AES-GCM CryptoKey that may encrypt and decrypt, `wrapped` no Uint8Array.
 * @throws {PersonalDataError} `key-unwrap`: a wrong master key, another subject's row, altered bytes.
 */
export async function unwrapSubjectKey(
  masterKey: WebCryptoKey,
  subjectId: string,
  wrapped: Uint8Array,
): Promise<WebCryptoKey> {
  assertSubjectId(subjectId);
  assertWrapArguments(masterKey, wrapped, "wrapped");
  let raw: ArrayBuffer;
  try {
    raw = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: wrapped.subarray(0, IV_BYTES) as Uint8Array<ArrayBuffer>,
        additionalData: encoder.encode(WRAP_LABEL + subjectId),
      },
      masterKey,
      wrapped.subarray(IV_BYTES) as Uint8Array<ArrayBuffer>,
    );
  } catch (error) {
    throw new PersonalDataError("key-unwrap", subjectId, undefined, { cause: error });
  }
  return importSubjectKey(new Uint8Array(raw));
}

/**
 * Before any Web Crypto call: a master key that is no usable AES-GCM CryptoKey, or bytes that are no
 * Uint8Array, would otherwise throw the runtime's TypeError (or, unwrapping, look like altered bytes).
 */
function assertWrapArguments(masterKey: unknown, bytes: unknown, name: "raw" | "wrapped"): void {
  const issues = masterKeyIssues(masterKey);
  if (!(bytes instanceof Uint8Array)) issues.push({ path: [name], message: `${name} must be a Uint8Array` });
  if (issues.length > 0) throw new ValidationError("Invalid subject key arguments", issues);
}

/** Checks a master key before a store uses it: an AES-GCM CryptoKey that may encrypt and decrypt. */
export function masterKeyIssues(masterKey: unknown): Issue[] {
  const fault = aesGcmKeyFault(masterKey);
  return fault === undefined ? [] : [{ path: ["masterKey"], message: `masterKey ${fault}` }];
}

/** What keeps `key` from sealing and opening (not an AES-GCM CryptoKey, or one that may not do both), if anything. */
function aesGcmKeyFault(key: unknown): string | undefined {
  const candidate = key as { algorithm?: { name?: unknown }; usages?: unknown } | null | undefined;
  if (typeof candidate !== "object" || candidate === null || candidate.algorithm?.name !== "AES-GCM") {
    return "must be an AES-GCM CryptoKey";
  }
  const usages = candidate.usages;
  if (!Array.isArray(usages) || !usages.includes("encrypt") || !usages.includes("decrypt")) {
    return "must allow encrypt and decrypt";
  }
  return undefined;
}
