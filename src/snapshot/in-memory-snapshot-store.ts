import { assertPositiveInteger, knownOptions } from "../internal/validate.js";
import { SNAPSHOT_STORE_OPTIONS, SnapshotStore, type SnapshotStoreOptions } from "./snapshot-store.js";
import type { SnapshotStoreCapabilities, StoredSnapshot } from "./types.js";

export interface InMemorySnapshotStoreOptions extends SnapshotStoreOptions {
  /** Refuse payloads above this size, as a backend with an item limit would. No limit by default. */
  readonly maxPayloadBytes?: number;
}

const KEYS = [...Object.keys(SNAPSHOT_STORE_OPTIONS), "maxPayloadBytes"];

/**
 * The reference snapshot store, in memory: for tests, prototypes and single-process apps. Records
 * are kept per stream in version order; payloads are copied in and out, so no caller can change them.
 */
export class InMemorySnapshotStore extends SnapshotStore {
  protected override readonly dbSystem: string = "memory";
  readonly capabilities: SnapshotStoreCapabilities;
  readonly #streams = new Map<string, StoredSnapshot[]>();

  constructor(options: InMemorySnapshotStoreOptions = {}) {
    super(knownOptions(options, KEYS, "in-memory snapshot store options"));
    const maxPayloadBytes = options?.maxPayloadBytes;
    if (maxPayloadBytes !== undefined) assertPositiveInteger(maxPayloadBytes, "maxPayloadBytes");
    this.capabilities = maxPayloadBytes === undefined ? {} : { maxPayloadBytes };
  }

  protected async writeSnapshot(record: StoredSnapshot, keepLast: number): Promise<{ pruned: number }> {
    const stored = { ...record, payload: record.payload.slice() };
    let records = this.#streams.get(record.streamId);
    if (records === undefined) {
      records = [];
      this.#streams.set(record.streamId, records);
    }
    // Ascending by version; snapshots usually arrive in order, so search from the end.
    let index = records.length;
    while (index > 0 && (records[index - 1] as StoredSnapshot).version > record.version) index--;
    const previous = records[index - 1];
    if (previous !== undefined && previous.version === record.version) records[index - 1] = stored;
    else records.splice(index, 0, stored);
    const pruned = Math.max(0, records.length - keepLast);
    if (pruned > 0) records.splice(0, pruned);
    return { pruned };
  }

  protected async readSnapshot(streamId: string, maxVersion: number | undefined): Promise<StoredSnapshot | undefined> {
    const records = this.#streams.get(streamId);
    if (records === undefined) return undefined;
    for (let i = records.length - 1; i >= 0; i--) {
      const record = records[i] as StoredSnapshot;
      if (maxVersion === undefined || record.version <= maxVersion)
        return { ...record, payload: record.payload.slice() };
    }
    return undefined;
  }

  protected async deleteSnapshots(streamId: string): Promise<number> {
    const count = this.#streams.get(streamId)?.length ?? 0;
    this.#streams.delete(streamId);
    return count;
  }
}
