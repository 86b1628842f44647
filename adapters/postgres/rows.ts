import { EventCorruptError, type EventEnvelope, storedEventFlaw } from "../../src/index.js";

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

/** The event, unless its row is none ({@link storedEventFlaw}): an EventCorruptError naming the stream and version. */
function checked(event: EventEnvelope): EventEnvelope {
  const flaw = storedEventFlaw(event);
  if (flaw !== undefined) throw new EventCorruptError(event.streamId, event.version, flaw);
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
