/** What to store: the aggregate's state after the event at `version` of `streamId`. */
export interface NewSnapshot<State = unknown> {
  readonly streamId: string;
  /** The version of the last event the state includes. At least 1. */
  readonly version: number;
  readonly state: State;
  /**
   * The shape of `state`, per aggregate type. Bump it when the state's shape changes: snapshots of
   * another schema version are not restored; the aggregate is replayed from its events instead.
   * Defaults to 1.
   */
  readonly schemaVersion?: number;
  /**
   * When it was taken, ISO 8601, from 1970 to 9999; stored as the loaded snapshot's `createdAt`.
   * Defaults to the store's wall clock. The repository passes its `snapshots.now`, the clock its
   * policies compare `createdAt` with.
   */
  readonly createdAt?: string;
}

/** A snapshot as loaded. */
export interface Snapshot<State = unknown> {
  readonly streamId: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly state: State;
  /** When it was saved, ISO 8601 UTC. */
  readonly createdAt: string;
  /** Size of the stored payload in bytes (after compression). */
  readonly storedBytes: number;
}

/**
 * A snapshot as adapters store it: the state already serialized (and maybe compressed) to
 * `payload`. `encoding` names how (`"json"`, `"msgpack+gzip"`): store it verbatim beside the bytes.
 */
export interface StoredSnapshot {
  readonly streamId: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly encoding: string;
  readonly payload: Uint8Array;
  readonly createdAt: string;
}

export interface LoadSnapshotOptions {
  /** Load the newest snapshot at or below this version (the state as of then). Defaults to the newest. */
  readonly maxVersion?: number;
}

export interface SaveSnapshotResult {
  readonly streamId: string;
  readonly version: number;
  readonly encoding: string;
  readonly storedBytes: number;
  /** Older snapshots of the stream deleted by the retention rule (`keepLast`). */
  readonly pruned: number;
}

export interface SnapshotStoreCapabilities {
  /** The largest payload the backend stores in one snapshot, if it has a limit (DynamoDB's item size). */
  readonly maxPayloadBytes?: number;
}
