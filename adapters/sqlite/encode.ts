import {
  type EventEnvelope,
  type Issue,
  isWellFormedUnicode,
  PayloadTooLargeError,
  type PendingEvent,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import type { SqliteRow } from "./driver.js";

/** Default for `maxEventBytes`: an event's data and metadata as JSON, in UTF-8 bytes. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
/** SQLite's own cap on one value (SQLITE_MAX_LENGTH): the batch travels as one string. */
export const SQLITE_MAX_VALUE_BYTES = 1_000_000_000;

export interface EncodedBatch {
  /**
   * `[[id, type, data JSON, metadata JSON, timestamp], …]`: one parameter, whatever the batch size,
   * for the single-statement append (D1). Built on demand: the transaction's row-by-row inserts
   * need none, and the JSON-in-JSON encoding was a visible share of a large append's cost.
   * @throws {PayloadTooLargeError} the batch over `maxValueBytes`.
   */
  json(): string;
  /** The same rows, unencoded. */
  readonly rows: readonly (readonly string[])[];
  readonly ids: readonly string[];
}

/**
 * Serializes a validated batch for the append statement.
 * @throws {PayloadTooLargeError} an event over `maxEventBytes`, or a data or metadata text over
 *   `maxValueBytes` (the backend's cap on one parameter).
 * @throws {ValidationError} a type with an unpaired surrogate (UTF-8 text cannot store it verbatim).
 */
export function encodeBatch(
  events: readonly PendingEvent[],
  maxEventBytes: number,
  maxValueBytes: number,
): EncodedBatch {
  const rows: string[][] = [];
  const issues: Issue[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as PendingEvent;
    const data = JSON.stringify(event.data);
    const metadata = JSON.stringify(event.metadata);
    const size = bytesOver(data.length + metadata.length, maxEventBytes, () => utf8Length(data) + utf8Length(metadata));
    if (size > maxEventBytes) throw new PayloadTooLargeError(`Event ${index} (${event.type})`, size, maxEventBytes);
    // Inserted row by row, each value is its own parameter: under the backend's cap too (2 MB on Durable Objects).
    if (maxEventBytes > maxValueBytes) {
      for (const value of [data, metadata]) {
        const bytes = bytesOver(value.length, maxValueBytes, () => utf8Length(value));
        if (bytes > maxValueBytes)
          throw new PayloadTooLargeError(`Event ${index} (${event.type})`, bytes, maxValueBytes);
      }
    }
    // Checked here without building an empty list per event: this runs for every event appended.
    if (!isWellFormedUnicode(event.type)) issues.push(...textIssues(event.type, [index, "type"]));
    rows.push([event.id, event.type, data, metadata, event.timestamp]);
  }
  if (issues.length > 0) throw new ValidationError("Invalid events", issues);
  let text: string | undefined;
  const json = () => {
    if (text !== undefined) return text;
    text = JSON.stringify(rows);
    const total = bytesOver(text.length, maxValueBytes, () => utf8Length(text as string));
    if (total > maxValueBytes)
      throw new PayloadTooLargeError(`The append's ${events.length} events`, total, maxValueBytes);
    return text;
  };
  return { json, rows, ids: events.map((e) => e.id) };
}

/**
 * The UTF-8 size, counted only when it could exceed `limit`: a UTF-16 code unit takes at most three
 * UTF-8 bytes, so text of `units` code units with `units * 3 <= limit` is within it (and its
 * size is not needed). Counting every event's bytes was a visible share of an append's cost.
 */
function bytesOver(units: number, limit: number, count: () => number): number {
  return units * 3 <= limit ? units : count();
}

/**
 * Text columns hold UTF-8: an unpaired surrogate would come back as U+FFFD, not verbatim. Native
 * `isWellFormed` where the runtime has it: cheaper than a regular expression, run on every append.
 */
export function textIssues(value: string, path: (string | number)[]): Issue[] {
  return isWellFormedUnicode(value)
    ? []
    : [{ path, message: "contains an unpaired UTF-16 surrogate, which UTF-8 cannot store" }];
}

export function assertStorableStreamId(streamId: string): void {
  const issues = textIssues(streamId, []);
  if (issues.length > 0) throw new ValidationError("Invalid stream id", issues);
}

/** A row of the events table (every column, as the statements select them) as an envelope. */
export function fromRow(row: SqliteRow): EventEnvelope {
  return {
    id: String(row.id),
    type: String(row.type),
    streamId: String(row.stream_id),
    version: Number(row.version),
    globalPosition: Number(row.position),
    timestamp: String(row.timestamp),
    data: JSON.parse(String(row.data)),
    metadata: JSON.parse(String(row.metadata)),
  };
}
