import {
  EventCorruptError,
  type EventEnvelope,
  type Issue,
  isIsoTime,
  isWellFormedUnicode,
  PayloadTooLargeError,
  type PendingEvent,
  storedEventFlaw,
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
 * @throws {PayloadTooLargeError} an event over `maxEventBytes`, or its data and metadata texts together
 *   over `maxValueBytes` (the backend's cap on one value, which caps a row too).
 * @throws {ValidationError} a type with an unpaired surrogate (UTF-8 text cannot store it verbatim).
 */
export function encodeBatch(
  events: readonly PendingEvent[],
  maxEventBytes: number,
  maxValueBytes: number,
): EncodedBatch {
  const rows: string[][] = [];
  let issues: Issue[] | undefined;
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as PendingEvent;
    const data = JSON.stringify(event.data);
    const metadata = JSON.stringify(event.metadata);
    const size = within(data.length + metadata.length, maxEventBytes) ? 0 : utf8Length(data) + utf8Length(metadata);
    if (size > maxEventBytes) throw new PayloadTooLargeError(`Event ${index} (${event.type})`, size, maxEventBytes);
    // Inserted row by row, the event's row is under the backend's cap too (2 MB on Durable Objects): SQLite's
    // length limit caps a row as it caps one value, so data and metadata must fit it together.
    if (maxEventBytes > maxValueBytes) {
      const units = data.length + metadata.length;
      const bytes = within(units, maxValueBytes) ? 0 : size || utf8Length(data) + utf8Length(metadata);
      if (bytes > maxValueBytes) throw new PayloadTooLargeError(`Event ${index} (${event.type})`, bytes, maxValueBytes);
    }
    // Checked here without building an empty list per event: this runs for every event appended.
    if (!isWellFormedUnicode(event.type)) {
      issues ??= [];
      issues.push(...textIssues(event.type, [index, "type"]));
    }
    rows.push([event.id, event.type, data, metadata, event.timestamp]);
  }
  if (issues !== undefined) throw new ValidationError("Invalid events", issues);
  return new Encoded(rows, maxValueBytes);
}

/**
 * Whether text of `units` UTF-16 code units is surely within `limit` UTF-8 bytes: a code unit takes
 * at most three, so with `units * 3 <= limit` the size need not be counted. Counting every event's
 * bytes was a visible share of an append's cost.
 */
function within(units: number, limit: number): boolean {
  return units * 3 <= limit;
}

/** An {@link EncodedBatch}: a class, so an append makes one object, not closures, and only what it uses. */
class Encoded implements EncodedBatch {
  #text: string | undefined;
  readonly rows: readonly (readonly string[])[];
  readonly #maxValueBytes: number;

  constructor(rows: readonly (readonly string[])[], maxValueBytes: number) {
    this.rows = rows;
    this.#maxValueBytes = maxValueBytes;
  }

  get ids(): readonly string[] {
    return this.rows.map((row) => row[0] as string);
  }

  json(): string {
    if (this.#text !== undefined) return this.#text;
    const text = JSON.stringify(this.rows);
    const total = within(text.length, this.#maxValueBytes) ? 0 : utf8Length(text);
    if (total > this.#maxValueBytes)
      throw new PayloadTooLargeError(`The append's ${this.rows.length} events`, total, this.#maxValueBytes);
    this.#text = text;
    return text;
  }
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
  if (isWellFormedUnicode(streamId)) return;
  const issues = textIssues(streamId, []);
  if (issues.length > 0) throw new ValidationError("Invalid stream id", issues);
}

/**
 * A row of the events table (every column, as the statements select them) as an envelope.
 * @throws {EventCorruptError} the row is no event (a row another tool wrote): data or metadata that is
 *   not JSON, metadata that is no object, an empty id, type or time, a version that is no integer from 1.
 */
export function fromRow(row: SqliteRow): EventEnvelope {
  const streamId = String(row.stream_id);
  const version = storedInteger(row.version);
  // NOT NULL columns still take '' or '2x' from another tool: refused here, as the DynamoDB store
  // refuses such items, rather than handed to a reader that breaks on them further away.
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new EventCorruptError(streamId, 0, "its version is not an integer from 1");
  }
  const envelope = {
    id: String(row.id),
    type: String(row.type),
    streamId,
    version,
    globalPosition: Number(row.position),
    timestamp: String(row.timestamp),
    data: storedJson(row.data, "data", streamId, version),
    metadata: storedJson(row.metadata, "metadata", streamId, version) as EventEnvelope["metadata"],
  };
  const flaw =
    storedEventFlaw(envelope) ?? (isIsoTime(envelope.timestamp) ? undefined : "its time is no ISO-8601 time");
  if (flaw !== undefined) throw new EventCorruptError(streamId, version, flaw);
  return envelope;
}

/**
 * An INTEGER column's value as a number, NaN when it is none: the column keeps text and BLOBs another
 * tool wrote, which Number() would read as numbers ('' as 0, x'01' as 1). A bigint under safeIntegers.
 */
export function storedInteger(value: unknown): number {
  return typeof value === "number" || typeof value === "bigint" ? Number(value) : Number.NaN;
}

/**
 * A BLOB column's value as bytes of the caller's own, undefined when it is none (text or a number another
 * tool wrote): BLOBs come back as a Uint8Array (bun:sqlite, node:sqlite), an ArrayBuffer (Durable Objects)
 * or an array of byte numbers (D1).
 */
export function storedBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Uint8Array.from(value as number[]);
  }
  return undefined;
}

/**
 * A TEXT column's JSON, parsed. A value that is not text (a BLOB another tool wrote) is refused as JSON
 * that does not parse is: `String()` of its bytes read `x'37'` as the number 55 on bun:sqlite, node:sqlite
 * and D1 (a Uint8Array or an array of bytes), while a Durable Object's ArrayBuffer failed to parse.
 * @throws {SyntaxError} not text, or text that is not JSON.
 */
export function storedJsonText(value: unknown): unknown {
  if (typeof value !== "string") throw new SyntaxError("a stored value that is not text");
  return JSON.parse(value);
}

function storedJson(text: unknown, what: string, streamId: string, version: number): unknown {
  try {
    return storedJsonText(text);
  } catch {
    // Without the parser's error as cause: its message quotes the stored text.
    throw new EventCorruptError(streamId, version, `its ${what} is text that is not JSON`);
  }
}
