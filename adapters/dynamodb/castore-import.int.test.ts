import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStore as CastoreEventStore, EventType } from "@castore/core";
import { configureTelemetry, importEvents, isAbortedError, ulid } from "../../src/index.js";
import { castoreCreateTable, castoreStorage } from "../../test/fixtures/castore-table.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { castoreDynamoDbSource, createDynamoDbClient, DynamoDbCheckpointStore, DynamoDbEventStore } from "./index.js";

// Events written with Castore 2.4's own library (the single-table DynamoDB adapter and the AWS SDK)
// into DynamoDB Local, imported into EventFlows tables, then checked with raw Scans of both tables.
// EVENTFLOWS_IMPORT_EVENTS sets the count: 10,000 here; `bun scripts/import-100k.ts` runs 100,000.
const TOTAL = Number(process.env.EVENTFLOWS_IMPORT_EVENTS ?? 10_000);
// Generous for a loaded two-core machine (10k events: 2 minutes a step), bounded so that a hang still fails.
const TIMEOUT_MS = Math.max(120_000, TOTAL * 12);
const PER_AGGREGATE = 100;
const PER_GROUP = 25;
const AGGREGATES = Math.ceil(TOTAL / PER_AGGREGATE);
const run = ulid().slice(-8).toLowerCase();
const castoreTable = `castore_import_${run}`;
const tables = [castoreTable];
let local: DynamoDbEndpoint;
let client: ReturnType<typeof createDynamoDbClient>;

beforeAll(async () => {
  // 98-event transactions on a loaded emulator pass the slow-call threshold: not what is tested here.
  configureTelemetry({ slowStoreCallMs: false });
  local = await ensureDynamoDb();
  client = createDynamoDbClient(local);
  // The table as Castore's documentation defines it: key aggregateId + version, the initialEvents index.
  await client.send("CreateTable", castoreCreateTable(castoreTable));
  const itemAdded = new EventType<"ItemAdded", { cart: number; n: number; sku: string }, { tenant: string }>({
    type: "ItemAdded",
  });
  const carts = new CastoreEventStore({
    eventStoreId: "CARTS",
    eventTypes: [itemAdded],
    reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
    eventStorageAdapter: castoreStorage(local, castoreTable),
  });
  const started = performance.now();
  const base = Date.UTC(2024, 0, 1);
  // Each aggregate in groups of 25 events (one TransactWriteItems each), 16 aggregates at a time.
  const writeAggregate = async (a: number) => {
    for (let from = 1; from <= PER_AGGREGATE; from += PER_GROUP) {
      const grouped = Array.from({ length: PER_GROUP }, (_, i) => {
        const version = from + i;
        return carts.groupEvent({
          aggregateId: `cart-${a}`,
          version,
          type: "ItemAdded" as const,
          timestamp: new Date(base + a * 1000 + version).toISOString(),
          payload: { cart: a, n: version, sku: `SKU-${version}` },
          metadata: { tenant: "acme" },
        });
      });
      const [head, second, ...rest] = grouped;
      if (head === undefined || second === undefined) throw new Error("a group has two events at least");
      await CastoreEventStore.pushEventGroup(head, second, ...rest);
    }
  };
  for (let from = 0; from < AGGREGATES; from += 16) {
    await Promise.all(Array.from({ length: Math.min(16, AGGREGATES - from) }, (_, k) => writeAggregate(from + k)));
  }
  console.log(`castore: wrote ${TOTAL} events in ${Math.round(performance.now() - started)} ms`);
}, TIMEOUT_MS);

afterAll(async () => {
  configureTelemetry({ slowStoreCallMs: 1000 });
  for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
});

async function freshTarget() {
  const tableName = `eventflows_import_${ulid().slice(-8).toLowerCase()}`;
  tables.push(tableName);
  const store = new DynamoDbEventStore({ ...local, client, tableName });
  await store.ensureTable();
  return { tableName, store, checkpoints: new DynamoDbCheckpointStore({ ...local, client, tableName }) };
}

/** Every item of a table (a raw, consistent Scan), as `stream/version type payload time`. */
async function scan(tableName: string, line: (item: Record<string, Record<string, string>>) => string | undefined) {
  const lines: string[] = [];
  let startKey: unknown;
  do {
    const page = await client.send<{ Items: Record<string, Record<string, string>>[]; LastEvaluatedKey?: unknown }>(
      "Scan",
      // Pages of 1,000 items: on a loaded emulator a whole 1 MB page can take longer than the client's deadline.
      {
        TableName: tableName,
        ConsistentRead: true,
        Limit: 1000,
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      },
    );
    for (const item of page.Items) {
      const text = line(item);
      if (text !== undefined) lines.push(text);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return lines.sort();
}
const castoreLines = () =>
  scan(castoreTable, (item) => {
    const payload = item.payload as unknown as { M: Record<string, { N?: string; S?: string }> };
    const sku = payload.M.sku?.S;
    return `${item.aggregateId?.S?.replace("CARTS#", "CARTS-")}/${item.version?.N} ${item.type?.S} ${sku} ${item.timestamp?.S}`;
  });
const eventflowsLines = (tableName: string) =>
  scan(tableName, (item) => {
    // Event items only: the feed's commit markers, counters and checkpoints carry no type.
    if (item.type?.S === undefined || !item.pk?.S?.startsWith("CARTS-")) return undefined;
    const data = JSON.parse(item.data?.S ?? "null") as { sku: string };
    return `${item.pk.S}/${item.sk?.N} ${item.type.S} ${data.sku} ${item.ts?.S}`;
  });

describe(`importing ${TOTAL} events from Castore on DynamoDB`, () => {
  test(
    "every event arrives once, in its aggregate's stream at its Castore version, with type, payload, metadata and time",
    async () => {
      const { tableName, store, checkpoints } = await freshTarget();
      const source = castoreDynamoDbSource(client, { tableName: castoreTable, eventStoreId: "CARTS" });
      const started = performance.now();
      const result = await importEvents({ source, target: store, checkpoints });
      console.log(`castore import: ${TOTAL} events in ${Math.round(performance.now() - started)} ms`);
      expect(result).toMatchObject({ read: TOTAL, imported: TOTAL, skipped: 0, streams: AGGREGATES });
      const expected = await castoreLines();
      expect(expected).toHaveLength(TOTAL);
      expect(await eventflowsLines(tableName)).toEqual(expected);
      const [first] = await Array.fromAsync(store.readStream("CARTS-cart-3", { maxCount: 1 }));
      expect(first).toMatchObject({ version: 1, type: "ItemAdded", metadata: { tenant: "acme" } });

      const again = await importEvents({ source, target: store, checkpoints });
      // The aggregates that began in the checkpoint's millisecond are read again and found stored.
      expect(again).toMatchObject({ imported: 0, skipped: again.read });
      expect(again.read).toBeLessThanOrEqual(PER_AGGREGATE);
      const restarted = await importEvents({ source, target: store, checkpoints, restart: true });
      expect(restarted).toMatchObject({ read: TOTAL, imported: 0, skipped: TOTAL });
      expect(await eventflowsLines(tableName)).toHaveLength(TOTAL);
    },
    TIMEOUT_MS,
  );

  test(
    "an import interrupted after three batches resumes where it stopped",
    async () => {
      const { tableName, store, checkpoints } = await freshTarget();
      const source = castoreDynamoDbSource(client, { tableName: castoreTable, eventStoreId: "CARTS" });
      const controller = new AbortController();
      let batches = 0;
      const stopped = await importEvents({
        source,
        target: store,
        checkpoints,
        batchSize: 500,
        signal: controller.signal,
        onProgress: () => {
          if (++batches === 3) controller.abort(new Error("Ctrl-C"));
        },
      }).catch((error) => error);
      expect(isAbortedError(stopped)).toBe(true);
      expect(await eventflowsLines(tableName)).toHaveLength(1500);
      const resumed = await importEvents({ source, target: store, checkpoints });
      expect(resumed.imported).toBe(TOTAL - 1500);
      expect(resumed.read - resumed.imported).toBe(resumed.skipped);
      expect(await eventflowsLines(tableName)).toEqual(await castoreLines());
    },
    TIMEOUT_MS,
  );
});
