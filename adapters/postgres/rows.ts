import { EventCorruptError, type EventEnvelope } from "../../src/index.js";

/** A row of the stream read: position, version, id, type, data, metadata, timestamp. */
export type StreamRow = readonly [string, number, string, string, string, string, string];
/** A row of the global read or an id lookup: the stream id first, then a {@link StreamRow}. */
export type FeedRow = readonly [string, string, number, string, string, string, string, string];

export function fromStreamRow(streamId: string, row: StreamRow): EventEnvelope {
  return checked({
    id: row[2],
    type: row[3],
    streamId,
    version: row[1],
    globalPosition: toPosition(row[0]),
    timestamp: row[6],
    data: JSON.parse(row[4]),
    metadata: metadataOf(row[5]),
  });
}

export function fromFeedRow(row: FeedRow): EventEnvelope {
  return checked({
    id: row[3],
    type: row[4],
    streamId: row[0],
    version: row[2],
    globalPosition: toPosition(row[1]),
    timestamp: row[7],
    data: JSON.parse(row[5]),
    metadata: metadataOf(row[6]),
  });
}

/**
 * The columns take what the library never writes (another tool wrote the row): an empty stream id, id or
 * type, an infinite time (which to_char reads as NULL), metadata that is JSON but no object. Refused here,
 * as the SQLite and DynamoDB stores refuse them, rather than handed to a reader that breaks further away.
 * @throws {EventCorruptError} naming the stream and version, and for a stream id of "" its global position.
 */
function checked(event: EventEnvelope): EventEnvelope {
  const { streamId, id, type, timestamp, metadata } = event;
  const missing = !streamId
    ? `stream id (global position ${event.globalPosition})`
    : !id
      ? "id"
      : !type
        ? "type"
        : !timestamp && "time";
  if (missing) throw new EventCorruptError(streamId, event.version, `it has no ${missing}`);
  if (typeof metadata !== "object" || !metadata || Array.isArray(metadata)) {
    throw new EventCorruptError(streamId, event.version, "its metadata is not an object");
  }
  return event;
}

/**
 * Stored metadata as an object of the envelope's own. Events appended without metadata store `{}`:
 * that text skips `JSON.parse` (a call per event of a feed read).
 */
function metadataOf(text: string): EventEnvelope["metadata"] {
  return text === "{}" ? {} : JSON.parse(text);
}

/** bigint text to number; positions stay below 2^53 for 2^41 transactions (see position.ts). */
export function toPosition(text: string): number {
  return Number(text);
}
