import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStore as CastoreEventStore, EventType } from "@castore/core";
import { importEvents, isAbortedError, ulid } from "../../src/index.js";
import { castoreCreateTable, castoreStorage } from "../../test/fixtures/castore-table.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { castoreDynamoDbSource, createDynamoDbClient, DynamoDbCheckpointStore, DynamoDbEventStore } from "./index.js";

// Castore keeps the timestamp a writer passes as it is, and its initialEvents index sorts that text.
// With a zone offset, text order is not time order: 09:00-05:00 (14:00 UTC) sorts before 12:00Z.
const AGGREGATES = [
  { id: "offset", timestamp: "2024-01-01T09:00:00.000-05:00" },
  { id: "utc", timestamp: "2024-01-01T12:00:00.000Z" },
  { id: "micros", timestamp: "2024-01-01T12:30:00.123456Z" },
  { id: "ahead", timestamp: "2024-01-01T23:00:00.000+09:00" },
  { id: "last", timestamp: "2024-01-01T23:30:00.000Z" },
];
const run = ulid().slice(-8).toLowerCase();
const castoreTable = `castore_times_${run}`;
const tables = [castoreTable];
let local: DynamoDbEndpoint;
let client: ReturnType<typeof createDynamoDbClient>;

beforeAll(async () => {
  local = await ensureDynamoDb();
  client = createDynamoDbClient(local);
  await client.send("CreateTable", castoreCreateTable(castoreTable));
  const opened = new EventType<"Opened", { id: string }>({ type: "Opened" });
  const carts = new CastoreEventStore({
    eventStoreId: "CARTS",
    eventTypes: [opened],
    reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
    eventStorageAdapter: castoreStorage(local, castoreTable),
  });
  for (const { id, timestamp } of AGGREGATES) {
    await carts.pushEvent({ aggregateId: id, version: 1, type: "Opened", payload: { id }, timestamp });
  }
}, 120_000);

afterAll(async () => {
  for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
});

describe("resuming a Castore import whose timestamps are not all UTC text of milliseconds", () => {
  test("an import stopped after each batch, run again until done, imports every aggregate", async () => {
    const tableName = `eventflows_times_${run}`;
    tables.push(tableName);
    const store = new DynamoDbEventStore({ ...local, client, tableName });
    await store.ensureTable();
    const checkpoints = new DynamoDbCheckpointStore({ ...local, client, tableName });
    const source = castoreDynamoDbSource(client, { tableName: castoreTable, eventStoreId: "CARTS" });
    // One aggregate a batch; run n stopped after its n-th batch, so each run resumes from a checkpoint.
    for (let runs = 1; runs <= AGGREGATES.length + 1; runs++) {
      const controller = new AbortController();
      let batches = 0;
      const stopped = await importEvents({
        source,
        target: store,
        checkpoints,
        batchSize: 1,
        signal: controller.signal,
        onProgress: () => {
          if (++batches === runs) controller.abort(new Error("Ctrl-C"));
        },
      }).then(
        (result) => result,
        (error: unknown) => error,
      );
      if (!isAbortedError(stopped)) break;
    }
    const times: Record<string, string> = {};
    for await (const event of store.readAll()) times[event.streamId] = event.timestamp;
    // Each once, at its instant, as UTC text to the millisecond (what migrating.md's table says).
    expect(times).toEqual({
      "CARTS-offset": "2024-01-01T14:00:00.000Z",
      "CARTS-utc": "2024-01-01T12:00:00.000Z",
      "CARTS-micros": "2024-01-01T12:30:00.123Z",
      "CARTS-ahead": "2024-01-01T14:00:00.000Z",
      "CARTS-last": "2024-01-01T23:30:00.000Z",
    });
  }, 120_000);
});
