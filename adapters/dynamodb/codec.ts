import {
  type EventEnvelope,
  type EventMetadata,
  isIsoTime,
  PayloadTooLargeError,
  type PendingEvent,
  utf8Length,
} from "../../src/index.js";
import {
  type AttributeValue,
  type Item,
  jsonFromAttribute,
  NotJsonAttribute,
  num,
  readNumber,
  readString,
  str,
} from "./attribute-value.js";
import { EventCorruptError } from "./errors.js";
import { A, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, partitionValue, type TableLayout } from "./layout.js";

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
  // The key and the numbers at their widest: a conservative item size. DynamoDB counts attribute
  // names in UTF-8 bytes too, and key names may be any characters.
  const keyBytes =
    utf8Length(layout.partitionKey) +
    utf8Length(partitionValue(layout, streamId)) +
    utf8Length(layout.sortKey) +
    NUMBER_BYTES;
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
    [layout.partitionKey]: str(partitionValue(layout, streamId)),
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

/**
 * Whether an item holds no event: a removed event's key-only item, or a deleted stream's fence or
 * version-1 stub (deletion attributes only), which reads pass by. Any event attribute makes it an
 * event to decode, so one another tool wrote without its `type` is an EventCorruptError, not skipped.
 */
export const holdsNoEvent = (item: Readonly<Record<string, unknown>>): boolean =>
  !Object.values(A).some((name) => item[name] !== undefined);

/**
 * Reads an event item back. Every read returns fresh objects: callers cannot change what is stored.
 * Items this store wrote hold data and metadata as JSON text; items other tools wrote may hold them
 * as native DynamoDB values (a map, a list, a number...), which are read as the JSON they spell, and
 * a time as epoch milliseconds. What has no sane reading is an {@link EventCorruptError}.
 * @throws {EventCorruptError} naming the stream and version.
 */
export function decodeItem(layout: TableLayout, item: Readonly<Record<string, unknown>>): EventEnvelope {
  // The caller's stream id: without the tenant's prefix.
  const streamId = (readString(item, layout.partitionKey) ?? "").slice(layout.keyPrefix?.length);
  const version = readNumber(item, layout.sortKey) ?? 0;
  const corrupt = (reason: string) => new EventCorruptError(streamId, version, reason);
  const id = readString(item, A.id);
  const type = readString(item, A.type);
  if (id === undefined || id === "") throw corrupt(`it has no event id (\`${A.id}\`, a string)`);
  if (type === undefined || type === "") throw corrupt(`it has no event type (\`${A.type}\`, a string)`);
  const timestamp = timestampOf(item[A.timestamp]);
  if (timestamp === undefined) {
    throw corrupt(`it has no time (\`${A.timestamp}\`: ISO-8601 text or epoch milliseconds)`);
  }
  if (item[A.data] === undefined) throw corrupt(`it has no data (\`${A.data}\`)`);
  const data = jsonOf(item[A.data], "data", corrupt);
  const metadata = item[A.metadata] === undefined ? {} : jsonOf(item[A.metadata], "metadata", corrupt);
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw corrupt("its metadata is not an object");
  }
  const position = readNumber(item, A.position);
  const envelope = { id, type, streamId, version, timestamp, data, metadata: metadata as EventMetadata };
  return position === undefined ? envelope : { ...envelope, globalPosition: position };
}

/** A string attribute is JSON text (what this store writes); any other attribute is read as a native value. */
function jsonOf(value: unknown, what: string, corrupt: (reason: string) => Error): unknown {
  const text = (value as { S?: unknown } | undefined)?.S;
  if (typeof text === "string") {
    try {
      return JSON.parse(text);
    } catch {
      // Without the parser's error as cause: its message quotes the stored text.
      throw corrupt(`its ${what} is text that is not JSON`);
    }
  }
  try {
    return jsonFromAttribute(value);
  } catch (error) {
    if (error instanceof NotJsonAttribute) throw corrupt(`its ${what}: ${error.message}`);
    throw error;
  }
}

function timestampOf(value: unknown): string | undefined {
  const attribute = value as { S?: unknown; N?: unknown } | undefined;
  // Text another tool wrote ("yesterday") would pass every reader until one that needs the time.
  if (typeof attribute?.S === "string" && isIsoTime(attribute.S)) return attribute.S;
  if (typeof attribute?.N === "string") {
    const ms = Number(attribute.N);
    const date = new Date(ms);
    if (attribute.N.trim() !== "" && Number.isFinite(date.getTime())) return date.toISOString();
  }
  return undefined;
}

function hasKeys(value: object): boolean {
  return Object.keys(value).length > 0;
}
