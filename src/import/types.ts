import type { EventMetadata } from "../events/envelope.js";

/** One event read from another event store, mapped onto an EventFlows envelope's fields. */
export interface ImportedEvent {
  /** The stream it is imported into. */
  readonly streamId: string;
  /**
   * Its place in its stream at the source, from 1 (Emmett's stream position, Castore's aggregate
   * version): it becomes the EventFlows version unchanged, so a stream's events must come without gaps.
   */
  readonly version: number;
  /** A ULID that is the same on every run (see `importedEventId`): what makes a re-run write nothing twice. */
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  /** When it was stored at the source, ISO-8601: kept as the envelope's timestamp. */
  readonly timestamp: string;
}

/**
 * A slice of the source and where to resume after it. A stream's events in it may come in any
 * order, but without gaps: together with the batches before, from version 1 on.
 */
export interface ImportBatch {
  readonly events: readonly ImportedEvent[];
  /**
   * The source's position once this batch is imported: saved as the checkpoint and handed back to
   * `batches` on the next run. What it means is the source's own (a transaction id, a time).
   */
  readonly position: number;
}

/**
 * Another event store to import from. Implementations read the source's own tables: Emmett on
 * PostgreSQL (`emmettPostgresSource` in `@eventflows/core/postgres`), Castore on DynamoDB
 * (`castoreDynamoDbSource` in `@eventflows/core/dynamodb`); anything that yields stream-ordered
 * batches can be one.
 */
export interface ImportSource {
  /** Names the source in the default checkpoint id and in errors, e.g. `emmett-postgres`. */
  readonly name: string;
  /**
   * Yields batches of at most about `limit` events from `position` on (0: the beginning; otherwise
   * a batch's `position` from an earlier run). A source may yield again events at or just before
   * `position`: the import recognises events it stored already.
   */
  batches(position: number, limit: number, signal?: AbortSignal): AsyncIterable<ImportBatch>;
  /** Where the source ends now, in the units of `position`: for progress reports only. */
  head(): Promise<number>;
}

export interface ImportEventsResult {
  /** Events read from the source by this run. */
  readonly read: number;
  /** Events appended to the target by this run. */
  readonly imported: number;
  /** Events found stored already (by an earlier, interrupted run): not written again. */
  readonly skipped: number;
  /** Distinct streams this run touched. */
  readonly streams: number;
  /** The checkpoint saved last: pass nothing and run again to continue from it. */
  readonly position: number;
  readonly elapsedMs: number;
}
