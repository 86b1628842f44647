import { assertUnchangedRetry } from "../event-store/retried-append.js";
import { compareSealedDataWith } from "../event-store/sealed-data.js";
import { setOwn } from "../internal/json.js";
import { compactMarkerOf } from "./compact-format.js";
import { ENCRYPTED_MARKER, isEncryptedValue } from "./field-crypto.js";

/**
 * The records (events' data) that `encryptEvents` sealed in this process. Every seal draws a fresh IV,
 * so the ciphertext of a retried append never equals the stored one: a retry's comparison with what is
 * stored must leave the sealed bytes out for these records, and only for them (a record of a store
 * without personal data is compared whole, whatever keys it holds).
 */
const sealedRecords = new WeakSet<object>();
/** What a retry's comparison is handed once this process seals a record. */
const SEALED_DATA = { is: isSealedRecord, without: withoutSealedBytes, assertSamePlaintexts: assertUnchangedRetry };

/** @internal Marks a record `encryptEvents` sealed (or that a Durable Object's client says it sealed). */
export function markSealedRecord(record: unknown): void {
  if (typeof record !== "object" || record === null) return;
  sealedRecords.add(record);
  // A retry of a sealed record can only follow a seal: the comparison learns of sealed data here.
  compareSealedDataWith(SEALED_DATA);
}

/** @internal Whether `encryptEvents` sealed `record` in this process. */
export function isSealedRecord(record: unknown): boolean {
  return typeof record === "object" && record !== null && sealedRecords.has(record);
}

/**
 * A copy of a stored record without the bytes that differ from seal to seal (format /3: the marker's
 * fourth element, IV and ciphertext; format /2: each encrypted value's `iv` and `data`), keeping what
 * an append and its retry must agree on: the other fields, the subjects and the field lists. Whether
 * the plaintexts agree too is checked once decrypted (see `EventStore.appendToStream`).
 */
export function withoutSealedBytes(record: unknown): unknown {
  const marker = compactMarkerOf(record);
  if (Array.isArray(marker)) return { ...(record as object), [ENCRYPTED_MARKER]: marker.slice(0, 3) };
  return withoutV2Bytes(record);
}

function withoutV2Bytes(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(withoutV2Bytes);
  const record = value as Record<string, unknown>;
  // A /2 ciphertext (a reference has no iv or data: it is kept whole).
  const sealed = isEncryptedValue(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (sealed && (key === "iv" || key === "data")) continue;
    setOwn(copy, key, sealed ? record[key] : withoutV2Bytes(record[key]));
  }
  return copy;
}
