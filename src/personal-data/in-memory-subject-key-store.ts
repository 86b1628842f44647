import { knownOptions } from "../internal/validate.js";
import {
  newSubjectKey,
  SUBJECT_KEY_STORE_OPTIONS,
  type SubjectKeyLookup,
  SubjectKeyStore,
  type SubjectKeyStoreOptions,
} from "./subject-key-store.js";

/**
 * Subject keys in this process's memory: for tests, and for single-process applications whose
 * events live in memory too (the keys go when the process does, and with them every personal field).
 */
export class InMemorySubjectKeyStore extends SubjectKeyStore {
  readonly #keys: Map<string, SubjectKeyLookup>;

  constructor(options: SubjectKeyStoreOptions = {}, keys = new Map<string, SubjectKeyLookup>()) {
    super(knownOptions(options, Object.keys(SUBJECT_KEY_STORE_OPTIONS), "in-memory subject key store options"));
    this.#keys = keys;
  }

  /**
   * Another store over the same keys with a cache of its own: what a second process sees, for tests
   * of caching across processes.
   */
  sharing(options: SubjectKeyStoreOptions = {}): InMemorySubjectKeyStore {
    return new InMemorySubjectKeyStore(options, this.#keys);
  }

  protected async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    return this.#keys.get(subjectId) ?? { status: "unknown" };
  }

  protected async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    const existing = this.#keys.get(subjectId);
    if (existing !== undefined) return existing;
    const { key } = await newSubjectKey();
    // Another call may have stored one while this one generated: the first stored wins.
    const stored = this.#keys.get(subjectId) ?? { status: "active", key };
    this.#keys.set(subjectId, stored);
    return stored;
  }

  protected async eraseKey(subjectId: string): Promise<void> {
    this.#keys.set(subjectId, { status: "erased" });
  }
}
