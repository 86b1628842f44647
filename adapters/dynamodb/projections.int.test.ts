import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProjectionRunner, ulid } from "../../src/index.js";
import { checkpointStoreContract, projectionContract, registerContract } from "../../src/testing/index.js";
import { countingProjection } from "../../test/postgres/counting-projection.ts";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import {
  createDynamoDbClient,
  DynamoDbCheckpointStore,
  DynamoDbEventStore,
  DynamoDbProjectionLock,
  DynamoDbReadModelStore,
} from "./index.js";

let local: DynamoDbEndpoint;
let tableName = "";

beforeAll(async () => {
  local = await ensureDynamoDb();
  tableName = `projections_${ulid()}`;
  await new DynamoDbEventStore({ ...local, tableName }).ensureTable();
}, 120_000);

afterAll(async () => {
  await createDynamoDbClient(local)
    .send("DeleteTable", { TableName: tableName })
    .catch(() => undefined);
});

registerContract(
  projectionContract({
    name: "projection contract on DynamoDB Local (read models and checkpoints as items, conditional-write leases)",
    create: () => ({
      eventStore: new DynamoDbEventStore({ ...local, tableName }),
      readModels: new DynamoDbReadModelStore({ ...local, tableName }),
      lock: new DynamoDbProjectionLock({ ...local, tableName }),
    }),
  }),
  { describe, test },
);

registerContract(
  checkpointStoreContract({
    name: "DynamoDbCheckpointStore contract (DynamoDB Local)",
    create: () => new DynamoDbCheckpointStore({ ...local, tableName }),
  }),
  { describe, test },
);

describe("DynamoDbProjectionLock", () => {
  test("a lease that is not renewed lapses and another owner takes it", async () => {
    let now = 1_000_000;
    const lock = new DynamoDbProjectionLock({ ...local, tableName, now: () => now });
    const name = `lease-${ulid()}`;
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
    expect(await lock.acquire(name, "b", 1000)).toBe(false);
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
    now += 1001;
    expect(await lock.acquire(name, "b", 1000)).toBe(true);
    await lock.release(name, "a");
    expect(await lock.acquire(name, "a", 1000)).toBe(false);
    await lock.release(name, "b");
    expect(await lock.acquire(name, "a", 1000)).toBe(true);
  });
});

describe("ProjectionRunner on DynamoDB", () => {
  test("a runner stopped mid-run and started again ends with the read model a run from scratch makes", async () => {
    const eventStore = new DynamoDbEventStore({ ...local, tableName });
    const readModels = new DynamoDbReadModelStore({ ...local, tableName });
    const lock = new DynamoDbProjectionLock({ ...local, tableName });
    const streams = Array.from({ length: 6 }, (_, i) => `Stopped${i % 2}-${ulid()}`);
    for (const [i, stream] of streams.entries()) {
      await eventStore.appendToStream(
        stream,
        Array.from({ length: 10 }, (_, n) => ({ type: "Counted", data: { i, n } })),
      );
    }
    const name = `stopped-${ulid()}`;
    const collection = `stopped-${ulid()}`;
    const runner = (projectionName: string, into: string) =>
      new ProjectionRunner({
        projection: countingProjection(projectionName, into, 5),
        eventStore,
        readModels,
        lock,
        batchSize: 10,
        pollIntervalMs: 20,
      });
    const first = runner(name, collection);
    let batches = 0;
    const stopping = new Promise<void>((resolve) => {
      const watch = setInterval(async () => {
        const lag = await first.lag();
        if (lag.position > 0) batches++;
        if (batches > 0) {
          clearInterval(watch);
          resolve();
        }
      }, 5);
    });
    first.start();
    await stopping;
    await first.stop();
    const atStop = await first.lag();
    expect(atStop.behind).toBeGreaterThan(0);
    await runner(name, collection).catchUp();
    const scratch = `scratch-${ulid()}`;
    const scratchName = `scratch-${ulid()}`;
    await runner(scratchName, scratch).catchUp();
    const resumed = await readModels.list(collection);
    // The projection counts every Counted event of the table (other tests' too): this test's streams are there, whole.
    for (const stream of streams)
      expect(resumed.find((d) => d.id === stream)?.document).toEqual({ count: 10, sum: 45 });
    expect(resumed).toEqual(await readModels.list(scratch));
    expect(await readModels.get("projection-state", name)).toEqual(
      await readModels.get("projection-state", scratchName),
    );
  }, 60_000);
});
