/**
 * What the stored-format tests share: one fixed 256-bit key, handed out by a key store either
 * unwrapped by the library (so it gets synchronous AES-GCM where the runtime has it) or imported by
 * hand (Web Crypto only), and base64 as the formats' definitions write it.
 */
import fc from "fast-check";
import {
  InMemorySubjectKeyStore,
  type SubjectKeyLookup,
  SubjectKeyStore,
  unwrapSubjectKey,
  wrapSubjectKey,
} from "../../src/index.js";

export const RAW_KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
export const FIXED_IV = Uint8Array.from({ length: 12 }, (_, i) => 200 - i);

export const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
export const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Hands out the fixed key: unwrapped by the library (synchronous AES-GCM where it can) or imported by hand (Web Crypto). */
export class FixedKey extends SubjectKeyStore {
  constructor(readonly how: "unwrapped" | "imported") {
    super();
  }
  protected async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    if (this.how === "imported") {
      const key = await crypto.subtle.importKey("raw", RAW_KEY, "AES-GCM", false, ["encrypt", "decrypt"]);
      return { status: "active", key };
    }
    const master = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const key = await unwrapSubjectKey(master, subjectId, await wrapSubjectKey(master, subjectId, RAW_KEY));
    return { status: "active", key };
  }
  protected async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    return this.readKey(subjectId);
  }
  protected async eraseKey(): Promise<void> {}
}

/**
 * Keys imported straight through Web Crypto, as a third-party key store may: no synchronous context,
 * so reads and writes take the Web Crypto path even where the runtime has node:crypto.
 */
export class WebCryptoOnlyKeys extends InMemorySubjectKeyStore {
  readonly #keys = new Map<string, SubjectKeyLookup>();
  protected override async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    return this.#keys.get(subjectId) ?? { status: "unknown" };
  }
  protected override async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    const stored = this.#keys.get(subjectId) ?? { status: "active", key };
    this.#keys.set(subjectId, stored);
    return stored;
  }
  protected override async eraseKey(subjectId: string): Promise<void> {
    this.#keys.set(subjectId, { status: "erased" });
  }
}

/** Names for subjects, ids, types and fields: ASCII, with and without characters JSON escapes, and any Unicode. */
export const nameText = (max: number) =>
  fc.oneof(
    fc.string({ maxLength: max }),
    fc.string({ unit: fc.constantFrom("a", "~", "\u007f", " ", '"', "\\", "\n", "\u0000"), maxLength: max }),
    fc.string({ unit: "grapheme", maxLength: max }),
  );
