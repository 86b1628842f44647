import { afterAll, beforeAll, describe, test } from "bun:test";
import { ulid } from "../../src/index.js";
import { eventEvolutionContract, eventStoreContract, registerContract } from "../../src/testing/index.js";
import { checkEventStoreModel } from "../../test/differential/event-store-model.ts";
import { checkEvolutionPaths } from "../../test/differential/evolution-differential.ts";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import {
  createDynamoDbClient,
  DynamoDbEventStore,
  type DynamoDbEventStoreOptions,
  dynamoDbStreamDeletion,
} from "./index.js";

let local: DynamoDbEndpoint;
const tables: string[] = [];

beforeAll(async () => {
  local = await ensureDynamoDb();
}, 120_000);

afterAll(async () => {
  const client = createDynamoDbClient(local);
  for (const table of tables) await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
});

/** A store on a fresh table of its own. */
async function storeOn(options: Omit<DynamoDbEventStoreOptions, "tableName"> & { tableName?: string } = {}) {
  const tableName = options.tableName ?? `contract_${ulid()}`;
  const store = new DynamoDbEventStore({ ...local, ...options, tableName });
  if (!tables.includes(tableName)) {
    tables.push(tableName);
    await store.ensureTable();
  }
  return store;
}

for (const globalFeed of [true, false]) {
  const label = globalFeed ? "with the global feed" : "without the global feed";
  let tableName = "";
  describe(`DynamoDbEventStore ${label}`, () => {
    beforeAll(async () => {
      tableName = (await storeOn({ globalFeed })).layout.tableName;
    }, 60_000);
    registerContract(
      eventStoreContract({
        name: `DynamoDbEventStore contract (DynamoDB Local, ${label})`,
        create: (options) => new DynamoDbEventStore({ ...local, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
      }),
      { describe, test },
    );
    registerContract(
      eventEvolutionContract({
        name: `DynamoDbEventStore evolution contract (DynamoDB Local, ${label})`,
        create: (options) => new DynamoDbEventStore({ ...local, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
      }),
      { describe, test },
    );
    test(
      "generated upcast, rename and split chains read on every path as the steps applied by hand (property)",
      () =>
        checkEvolutionPaths({
          create: (options) =>
            new DynamoDbEventStore({ ...local, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
          numRuns: 25,
        }),
      180_000,
    );
    test(
      "generated command sequences answer as the documented model does: appends with every expected version, retries, stream and feed reads, subscriptions, deletions, restores, truncations (model-based property)",
      () =>
        checkEventStoreModel({
          create: () =>
            new DynamoDbEventStore({
              ...local,
              tableName,
              globalFeed,
              gapTimeoutMs: 200,
              streamDeletion: dynamoDbStreamDeletion,
            }),
          numRuns: 60,
        }),
      120_000,
    );
  });
}
