import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStore as CastoreEventStore, EventType } from "@castore/core";
import { importEvents, ulid } from "../../src/index.js";
import { castoreCreateTable, castoreStorage } from "../../test/fixtures/castore-table.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import {
  castoreDynamoDbSource,
  createDynamoDbClient,
  DynamoDbCheckpointStore,
  DynamoDbEventStore,
  MAX_TRANSACTION_BYTES,
} from "./index.js";

// Castore stores an aggregate one item at a time, each under DynamoDB's 400 KB; together its events can
// be far over the 4 MB a TransactWriteItems carries, which is what one EventFlows append is.
const EVENTS = 15;
const PAYLOAD_CHARS = 280_000;
const run = ulid().slice(-8).toLowerCase();
const castoreTable = `castore_large_${run}`;
const tables = [castoreTable];
let local: DynamoDbEndpoint;
let client: ReturnType<typeof createDynamoDbClient>;

beforeAll(async () => {
  local = await ensureDynamoDb();
  client = createDynamoDbClient(local);
  await client.send("CreateTable", castoreCreateTable(castoreTable));
  const noted = new EventType<"Noted", { text: string; n: number }>({ type: "Noted" });
  const notes = new CastoreEventStore({
    eventStoreId: "NOTES",
    eventTypes: [noted],
    reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
    eventStorageAdapter: castoreStorage(local, castoreTable),
  });
  for (let version = 1; version <= EVENTS; version++) {
    const text = String.fromCharCode(97 + (version % 26)).repeat(PAYLOAD_CHARS);
    await notes.pushEvent({ aggregateId: "big", version, type: "Noted", payload: { text, n: version } });
  }
}, 120_000);

afterAll(async () => {
  for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
});

describe("importing a Castore aggregate larger than one DynamoDB transaction", () => {
  test("its events arrive in appends under 4 MB, each once, in version order", async () => {
    expect(EVENTS * PAYLOAD_CHARS).toBeGreaterThan(MAX_TRANSACTION_BYTES);
    const tableName = `eventflows_large_${run}`;
    tables.push(tableName);
    const store = new DynamoDbEventStore({ ...local, client, tableName });
    await store.ensureTable();
    const checkpoints = new DynamoDbCheckpointStore({ ...local, client, tableName });
    const source = castoreDynamoDbSource(client, { tableName: castoreTable, eventStoreId: "NOTES" });

    const result = await importEvents({ source, target: store, checkpoints });
    expect(result).toMatchObject({ read: EVENTS, imported: EVENTS, skipped: 0, streams: 1 });
    const stored = await Array.fromAsync(store.readStream("NOTES-big"));
    expect(stored.map((event) => [event.version, (event.data as { n: number }).n])).toEqual(
      Array.from({ length: EVENTS }, (_, i) => [i + 1, i + 1]),
    );
    expect(stored.map((event) => (event.data as { text: string }).text.length)).toEqual(
      Array.from({ length: EVENTS }, () => PAYLOAD_CHARS),
    );

    const again = await importEvents({ source, target: store, checkpoints, restart: true });
    expect(again).toMatchObject({ read: EVENTS, imported: 0, skipped: EVENTS });
  }, 120_000);
});
