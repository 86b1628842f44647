import { beforeAll, describe, test } from "bun:test";
import { eventEvolutionContract, eventStoreContract, registerContract } from "../../src/testing/index.js";
import { checkEventStoreModel } from "../../test/differential/event-store-model.ts";
import { checkEvolutionPaths } from "../../test/differential/evolution-differential.ts";
import { DynamoDbEventStore, dynamoDbStreamDeletion } from "./index.js";
import { useLocalDynamoDb } from "./local.fixture.test.ts";

const local = useLocalDynamoDb();

for (const globalFeed of [true, false]) {
  const label = globalFeed ? "with the global feed" : "without the global feed";
  let tableName = "";
  describe(`DynamoDbEventStore ${label}`, () => {
    beforeAll(async () => {
      tableName = (await local.store({ globalFeed })).layout.tableName;
    }, 60_000);
    registerContract(
      eventStoreContract({
        name: `DynamoDbEventStore contract (DynamoDB Local, ${label})`,
        create: (options) =>
          new DynamoDbEventStore({ ...local.endpoint, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
      }),
      { describe, test },
    );
    registerContract(
      eventEvolutionContract({
        name: `DynamoDbEventStore evolution contract (DynamoDB Local, ${label})`,
        create: (options) =>
          new DynamoDbEventStore({ ...local.endpoint, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
      }),
      { describe, test },
    );
    test(
      "generated upcast, rename and split chains read on every path as the steps applied by hand (property)",
      () =>
        checkEvolutionPaths({
          create: (options) =>
            new DynamoDbEventStore({ ...local.endpoint, ...options, tableName, globalFeed, gapTimeoutMs: 200 }),
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
              ...local.endpoint,
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
