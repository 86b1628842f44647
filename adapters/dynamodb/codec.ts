import {
  type EventEnvelope,
  type EventMetadata,
  PayloadTooLargeError,
  type PendingEvent,
  utf8Length,
} from "../../src/index.js";
import { type AttributeValue, type Item, num, readNumber, readString, str } from "./attribute-value.js";
import { A, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, type TableLayout } from "./layout.js";

/** An event serialized once: data and metadata as JSON text, which keeps any JSON exactly (DynamoDB maps cannot hold every number JSON can). */
export interface EncodedEvent {
  readonly event: PendingEvent;
  readonly data: string;
  readonly metadata: string | undefined;
  /** Bytes of the item without its key and position. */
  readonly bodyBytes: number;
}

/**
 * Serializes a batch and checks DynamoDB's size limits (400 KB per item, 4 MB per transaction)
 * before anything is sent.
 * @throws {PayloadTooLargeError} naming the stream and the event's index.
 */
export function encodeEvents(layout: TableLayout, streamId: string, events: readonly PendingEvent[]): EncodedEvent[] {
  // The key and the numbers at their widest: a conservative item size.
  const keyBytes = layout.partitionKey.length + utf8Length(streamId) + layout.sortKey.length + NUMBER_BYTES;
  const positionBytes = A.position.length + NUMBER_BYTES;
  let total = 0;
  return events.map((event, index) => {
    const data = JSON.stringify(event.data);
    const metadata = hasKeys(event.metadata) ? JSON.stringify(event.metadata) : undefined;
    const bodyBytes =
      A.id.length +
      event.id.length +
      A.type.length +
      utf8Length(event.type) +
      A.data.length +
      utf8Length(data) +
      A.timestamp.length +
      event.timestamp.length +
      (metadata === undefined ? 0 : A.metadata.length + utf8Length(metadata));
    const itemBytes = keyBytes + positionBytes + bodyBytes;
    if (itemBytes > MAX_ITEM_BYTES) {
      throw new PayloadTooLargeError(
        `Event ${index} ("${event.type}") for stream "${streamId}"`,
        itemBytes,
        MAX_ITEM_BYTES,
      );
    }
    total += itemBytes;
    if (total > MAX_TRANSACTION_BYTES) {
      throw new PayloadTooLargeError(
        `An append of ${events.length} events to stream "${streamId}"`,
        total,
        MAX_TRANSACTION_BYTES,
      );
    }
    return { event, data, metadata, bodyBytes };
  });
}

/** DynamoDB stores a number in at most 21 bytes (38 digits, two per byte, plus one). */
const NUMBER_BYTES = 21;

export function eventItem(
  layout: TableLayout,
  streamId: string,
  version: number,
  position: number | undefined,
  encoded: EncodedEvent,
): Item {
  const item: Record<string, AttributeValue> = {
    [layout.partitionKey]: str(streamId),
    [layout.sortKey]: num(version),
    [A.id]: str(encoded.event.id),
    [A.type]: str(encoded.event.type),
    [A.data]: str(encoded.data),
    [A.timestamp]: str(encoded.event.timestamp),
  };
  if (encoded.metadata !== undefined) item[A.metadata] = str(encoded.metadata);
  if (position !== undefined) item[A.position] = num(position);
  return item;
}

export function envelopeOf(
  streamId: string,
  version: number,
  position: number | undefined,
  event: PendingEvent,
): EventEnvelope {
  return position === undefined
    ? {
        id: event.id,
        type: event.type,
        streamId,
        version,
        timestamp: event.timestamp,
        data: event.data,
        metadata: event.metadata,
      }
    : {
        id: event.id,
        type: event.type,
        streamId,
        version,
        globalPosition: position,
        timestamp: event.timestamp,
        data: event.data,
        metadata: event.metadata,
      };
}

/** Reads an event item back. Every read returns fresh objects: callers cannot change what is stored. */
export function decodeItem(layout: TableLayout, item: Readonly<Record<string, unknown>>): EventEnvelope {
  const streamId = readString(item, layout.partitionKey) ?? "";
  const version = readNumber(item, layout.sortKey) ?? 0;
  const metadata = readString(item, A.metadata);
  const position = readNumber(item, A.position);
  const envelope = {
    id: readString(item, A.id) ?? "",
    type: readString(item, A.type) ?? "",
    streamId,
    version,
    timestamp: readString(item, A.timestamp) ?? "",
    data: JSON.parse(readString(item, A.data) ?? "null") as unknown,
    metadata: (metadata === undefined ? {} : JSON.parse(metadata)) as EventMetadata,
  };
  return position === undefined ? envelope : { ...envelope, globalPosition: position };
}

function hasKeys(value: object): boolean {
  return Object.keys(value).length > 0;
}
