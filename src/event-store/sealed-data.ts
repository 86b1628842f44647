import type { EventEnvelope, PendingEvent } from "../events/envelope.js";

/**
 * What comparing a retried append needs of the personal-data layer. That layer hands it over the
 * first time it seals a record (personal-data/sealed-records.ts) rather than being imported here: a
 * store bundle without personal data carries none of it (about 1.8 KB of a Worker's, gzipped).
 */
export interface SealedData {
  /** Whether `encryptEvents` sealed `record` (an event's data) in this process. */
  is(record: unknown): boolean;
  /** A stored record, as JSON, without the bytes that differ from seal to seal. */
  without(json: unknown): unknown;
  /** Refuses a retried append whose plaintexts differ from the stored events, decrypted. */
  assertSamePlaintexts(pending: readonly PendingEvent[], stored: readonly EventEnvelope[]): void;
}

let current: SealedData | undefined;

/** The personal-data layer's part, once it has sealed a record; undefined before (nothing to compare). */
export function sealedData(): SealedData | undefined {
  return current;
}

/** @internal Called by the personal-data layer as it seals records. */
export function compareSealedDataWith(sealed: SealedData): void {
  current = sealed;
}
