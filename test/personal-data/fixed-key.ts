/**
 * What the stored-format tests share: one fixed 256-bit key, handed out by a key store either
 * unwrapped by the library (so it gets synchronous AES-GCM where the runtime has it) or imported by
 * hand (Web Crypto only), and base64 as the formats' definitions write it.
 */
import { type SubjectKeyLookup, SubjectKeyStore, unwrapSubjectKey, wrapSubjectKey } from "../../src/index.js";

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
