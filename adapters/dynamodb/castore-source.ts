import {
  assertKnownOptions,
  type EventMetadata,
  type ImportBatch,
  type ImportedEvent,
  type ImportSource,
  importedEventId,
  ValidationError,
} from "../../src/index.js";
import { PageTrail } from "../aws/index.js";
import { jsonFromAttribute, NotJsonAttribute, readNumber, readString } from "./attribute-value.js";
import { type AwsJsonClient, assertClient } from "./client.js";
import { EventCorruptError } from "./errors.js";

export interface CastoreDynamoDbSourceOptions {
  /** The table of Castore's `DynamoDBSingleTableEventStorageAdapter`. */
  readonly tableName: string;
  /** The Castore event store whose aggregates are imported (its `eventStoreId`, e.g. `POKEMONS`). */
  readonly eventStoreId: string;
  /** The EventFlows stream of an aggregate; defaults to `<eventStoreId>-<aggregateId>`. */
  readonly streamId?: (aggregateId: string) => string;
  /** Aggregates read at the same time, 1 to 64; defaults to 8. */
  readonly concurrency?: number;
}

const CASTORE_SOURCE = "castore-dynamodb";
/** Castore's attribute and index names (`@castore/event-storage-adapter-dynamodb` 2.x, single table). */
const CASTORE = {
  partitionKey: "aggregateId",
  version: "version",
  type: "type",
  timestamp: "timestamp",
  payload: "payload",
  metadata: "metadata",
  eventStoreId: "eventStoreId",
  initialEventIndex: "initialEvents",
} as const;

interface Page {
  readonly Items?: Record<string, unknown>[];
  readonly LastEvaluatedKey?: Record<string, unknown>;
}

/**
 * Reads one event store of a Castore 2.x single-table DynamoDB table (items keyed
 * `<eventStoreId>#<aggregateId>` and `version`, first events listed by the `initialEvents` index)
 * for `importEvents`. Aggregates come in the index's order of their first event's timestamp text (its
 * time's order, when every writer wrote UTC as `toISOString` does), each whole and in version order: Castore's aggregate version becomes the EventFlows version (both count from 1);
 * type, payload (as data), metadata and timestamp are kept; the event id is a ULID derived from the
 * item's key (`importedEventId`), the same on every run. Castore has no global order: the position
 * (the checkpoint) is the first-event time, in epoch milliseconds, of the last aggregate a batch
 * holds whole, and a resumed run reads again the aggregates that began in that millisecond. A
 * timestamp whose text sorts before its time's (a zone offset behind UTC) leaves the checkpoint where it was.
 */
export function castoreDynamoDbSource(client: AwsJsonClient, options: CastoreDynamoDbSourceOptions): ImportSource {
  assertClient(client, "client");
  // A misspelt `streamID` named the streams by the default, not the function given.
  assertKnownOptions(options, ["tableName", "eventStoreId", "streamId", "concurrency"], "Castore source");
  if (typeof options?.tableName !== "string" || options.tableName === "") {
    throw new ValidationError("Invalid Castore source", [{ path: ["tableName"], message: "tableName is required" }]);
  }
  if (typeof options.eventStoreId !== "string" || options.eventStoreId === "") {
    throw new ValidationError("Invalid Castore source", [
      { path: ["eventStoreId"], message: "eventStoreId is required" },
    ]);
  }
  const concurrency = options.concurrency ?? 8;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new ValidationError("Invalid Castore source", [
      { path: ["concurrency"], message: "concurrency must be an integer from 1 to 64" },
    ]);
  }
  const { tableName, eventStoreId } = options;
  const streamOf = options.streamId ?? ((aggregateId: string) => `${eventStoreId}-${aggregateId}`);

  /** The initial events' keys and times, in the index's order (the timestamp's text), from `from` (epoch ms) on. */
  async function* aggregates(from: number): AsyncIterable<{ key: string; time: number; text: string }[]> {
    let startKey: Record<string, unknown> | undefined;
    const pageTrail = new PageTrail();
    do {
      const page = await client.send<Page>(
        "Query",
        {
          TableName: tableName,
          IndexName: CASTORE.initialEventIndex,
          KeyConditionExpression: from > 0 ? "#store = :store AND #ts >= :from" : "#store = :store",
          ExpressionAttributeNames: {
            "#store": CASTORE.eventStoreId,
            "#key": CASTORE.partitionKey,
            "#ts": CASTORE.timestamp,
          },
          ExpressionAttributeValues: {
            ":store": { S: eventStoreId },
            ...(from > 0 ? { ":from": { S: new Date(from).toISOString() } } : {}),
          },
          ProjectionExpression: "#key, #ts",
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        },
        { pageTrail },
      );
      startKey = page.LastEvaluatedKey;
      yield (page.Items ?? []).map((item) => {
        const text = readString(item, CASTORE.timestamp) ?? "";
        return { key: readString(item, CASTORE.partitionKey) ?? "", time: Date.parse(text), text };
      });
    } while (startKey !== undefined);
  }

  /** One aggregate's events in version order (every page, consistently read). */
  async function events(key: string): Promise<ImportedEvent[]> {
    const aggregateId = key.startsWith(`${eventStoreId}#`) ? key.slice(eventStoreId.length + 1) : key;
    const streamId = streamOf(aggregateId);
    const out: ImportedEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    const pageTrail = new PageTrail();
    do {
      const page = await client.send<Page>(
        "Query",
        {
          TableName: tableName,
          KeyConditionExpression: "#key = :key",
          ExpressionAttributeNames: { "#key": CASTORE.partitionKey },
          ExpressionAttributeValues: { ":key": { S: key } },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        },
        { pageTrail },
      );
      startKey = page.LastEvaluatedKey;
      for (const item of page.Items ?? []) out.push(await toImported(item, key, streamId));
    } while (startKey !== undefined);
    return out;
  }

  return {
    name: CASTORE_SOURCE,
    async *batches(position: number, limit: number): AsyncIterable<ImportBatch> {
      let batch: ImportedEvent[] = [];
      let reached = position;
      for await (const page of aggregates(position)) {
        // Read side by side, kept in index order.
        for (let i = 0; i < page.length; i += concurrency) {
          const slice = page.slice(i, i + concurrency);
          const read = await Promise.all(slice.map((aggregate) => events(aggregate.key)));
          for (const [k, aggregate] of slice.entries()) {
            batch.push(...(read[k] ?? []));
            if (resumesBefore(aggregate)) reached = Math.max(reached, aggregate.time);
            if (batch.length >= limit) {
              yield { events: batch, position: reached };
              batch = [];
            }
          }
        }
      }
      if (batch.length > 0) yield { events: batch, position: reached };
    },
    async head(): Promise<number> {
      const page = await client.send<Page>("Query", {
        TableName: tableName,
        IndexName: CASTORE.initialEventIndex,
        KeyConditionExpression: "#store = :store",
        ExpressionAttributeNames: { "#store": CASTORE.eventStoreId, "#ts": CASTORE.timestamp },
        ExpressionAttributeValues: { ":store": { S: eventStoreId } },
        ProjectionExpression: "#ts",
        ScanIndexForward: false,
        Limit: 1,
      });
      const newest = page.Items?.[0];
      return newest === undefined ? 0 : Date.parse(readString(newest, CASTORE.timestamp) ?? "") || 0;
    },
  };
}

/**
 * Whether a resumed run, which reads the index from the text of `time` as `toISOString` writes it, reads
 * again this aggregate and every one after it. Castore keeps a writer's timestamp as given, and the
 * index sorts its text: with a zone offset (09:00-05:00 is 14:00Z) that text sorts before later times
 * written in UTC, which a checkpoint at its time would skip for good; such an aggregate leaves the
 * checkpoint where it was. More digits than milliseconds sort after their own millisecond: they move it.
 */
function resumesBefore({ time, text }: { time: number; text: string }): boolean {
  return Number.isFinite(time) && new Date(time).toISOString() <= text;
}

async function toImported(item: Record<string, unknown>, key: string, streamId: string): Promise<ImportedEvent> {
  const version = readNumber(item, CASTORE.version) ?? Number.NaN;
  const type = readString(item, CASTORE.type);
  const timestamp = readString(item, CASTORE.timestamp);
  if (!Number.isSafeInteger(version) || version < 1 || type === undefined || timestamp === undefined) {
    throw new EventCorruptError(streamId, version, "a Castore event needs a version from 1, a type and a timestamp");
  }
  // Which attribute failed goes in the message (a value's place in it is given as a depth only).
  const read = (name: string): unknown => {
    try {
      return jsonFromAttribute(item[name]);
    } catch (error) {
      if (error instanceof NotJsonAttribute) {
        throw new EventCorruptError(streamId, version, `its ${name}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  };
  const data = item[CASTORE.payload] === undefined ? null : read(CASTORE.payload);
  const metadata = item[CASTORE.metadata] === undefined ? undefined : read(CASTORE.metadata);
  return {
    streamId,
    version,
    id: await importedEventId(CASTORE_SOURCE, `${key}:${version}`, timestamp),
    type,
    data,
    metadata: asMetadata(metadata),
    timestamp,
  };
}

/** Castore's metadata is any value; EventFlows' is an object: another value is kept under `castore`. */
function asMetadata(value: unknown): EventMetadata {
  if (value === undefined) return {};
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as EventMetadata;
  return { castore: value };
}
