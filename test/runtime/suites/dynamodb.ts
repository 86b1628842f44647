/**
 * @eventflows/core/dynamodb against the harness's DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB), with
 * and without the global feed. The AWS client is web-standard, so no compatibility flag.
 */
import {
  createDynamoDbClient,
  DynamoDbCheckpointStore,
  DynamoDbDedupStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbProjectionLock,
  DynamoDbReadModelStore,
  DynamoDbSagaStore,
  DynamoDbSnapshotStore,
  DynamoDbSubjectKeyStore,
  dynamoDbStreamDeletion,
} from "../../../adapters/dynamodb/index.js";
import { ulid } from "../../../src/index.js";
import {
  type ContractSuite,
  checkpointStoreContract,
  dedupStoreContract,
  eventEvolutionContract,
  eventStoreContract,
  idempotencyStoreContract,
  projectionContract,
  sagaStoreContract,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
} from "../../../src/testing/index.js";
import { type RuntimeSuite, requiredVariable, type SuiteModule } from "../runtime-suite.js";
import { tenancyDynamoDbSharedTableSuite, tenancyDynamoDbSuite } from "./tenancy.js";

/** DynamoDB Local accepts any alphanumeric key id; the region only has to be consistent. */
const LOCAL = { region: "us-east-1", credentials: { accessKeyId: "eventflows", secretAccessKey: "local" } };

function eventStoreSuite(globalFeed: boolean): RuntimeSuite {
  const label = globalFeed ? "with the global feed" : "without the global feed";
  return {
    name: `dynamodb event store ${label}`,
    contract: "eventStoreContract",
    open: async (env) => {
      const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
      // A table per run, so runs and runtimes never see each other's items.
      const tableName = `runtime_${ulid()}`;
      const options = { ...LOCAL, endpoint, tableName, globalFeed, gapTimeoutMs: 200 };
      await new DynamoDbEventStore(options).ensureTable();
      return {
        suite: eventStoreContract({
          name: `DynamoDbEventStore contract (${label})`,
          create: (storeOptions) => new DynamoDbEventStore({ ...storeOptions, ...options }),
        }),
        close: async () => {
          await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
        },
      };
    },
  };
}

/** Soft and hard deletes, truncation and retention, with the global feed (the contract follows the feed). */
const streamDeletionSuite: RuntimeSuite = {
  name: "dynamodb stream deletion",
  contract: "streamDeletionContract",
  open: async (env) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const tableName = `runtime_deletion_${ulid()}`;
    const options = { ...LOCAL, endpoint, tableName, globalFeed: true, gapTimeoutMs: 200 };
    await new DynamoDbEventStore(options).ensureTable();
    return {
      suite: streamDeletionContract({
        name: "DynamoDbEventStore stream deletion contract",
        create: (storeOptions) =>
          new DynamoDbEventStore({ ...storeOptions, ...options, streamDeletion: dynamoDbStreamDeletion }),
      }),
      close: async () => {
        await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
      },
    };
  },
};

/** Two releases of an application on one table (with the global feed): old writes v1, current reads. */
const evolutionSuite: RuntimeSuite = {
  name: "dynamodb event evolution",
  contract: "eventEvolutionContract",
  open: async (env) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const tableName = `runtime_evolution_${ulid()}`;
    const options = { ...LOCAL, endpoint, tableName, globalFeed: true, gapTimeoutMs: 200 };
    await new DynamoDbEventStore(options).ensureTable();
    return {
      suite: eventEvolutionContract({
        name: "DynamoDbEventStore evolution contract",
        create: (storeOptions) => new DynamoDbEventStore({ ...storeOptions, ...options }),
      }),
      close: async () => {
        await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
      },
    };
  },
};

/** Read models, checkpoints and leases in the event store's table, following its global feed. */
const projectionSuite: RuntimeSuite = {
  name: "dynamodb projections",
  contract: "projectionContract",
  open: async (env) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const tableName = `runtime_projections_${ulid()}`;
    const options = { ...LOCAL, endpoint, tableName };
    await new DynamoDbEventStore(options).ensureTable();
    return {
      suite: projectionContract({
        name: "projection contract on DynamoDB",
        create: () => ({
          eventStore: new DynamoDbEventStore({ ...options, gapTimeoutMs: 200 }),
          readModels: new DynamoDbReadModelStore(options),
          lock: new DynamoDbProjectionLock(options),
        }),
      }),
      close: async () => {
        await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
      },
    };
  },
};

/** Snapshots in an event store's table, as the docs recommend. */
const snapshotStoreSuite: RuntimeSuite = {
  name: "dynamodb snapshot store",
  contract: "snapshotStoreContract",
  open: async (env) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const tableName = `runtime_snapshots_${ulid()}`;
    const options = { ...LOCAL, endpoint, tableName };
    await new DynamoDbEventStore(options).ensureTable();
    return {
      suite: snapshotStoreContract({
        name: "DynamoDbSnapshotStore contract",
        create: (storeOptions) => new DynamoDbSnapshotStore({ ...storeOptions, ...options }),
      }),
      close: async () => {
        await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
      },
    };
  },
};

/** A store of keyed items (dedup, idempotency) in an event store's table, with expiry by TTL. */
function keyedStoreSuite(
  name: string,
  contract: string,
  suite: (options: typeof LOCAL & { endpoint: string; tableName: string }) => ContractSuite,
): RuntimeSuite {
  return {
    name,
    contract,
    open: async (env) => {
      const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
      const tableName = `runtime_keyed_${ulid()}`;
      const options = { ...LOCAL, endpoint, tableName };
      await new DynamoDbEventStore(options).ensureTable();
      return {
        suite: suite(options),
        close: async () => {
          await createDynamoDbClient({ ...LOCAL, endpoint }).send("DeleteTable", { TableName: tableName });
        },
      };
    },
  };
}

const dedupStoreSuite = keyedStoreSuite("dynamodb dedup store", "dedupStoreContract", (options) =>
  dedupStoreContract({
    name: "DynamoDbDedupStore contract",
    create: (settings) => new DynamoDbDedupStore({ ...options, ...settings }),
  }),
);

const idempotencyStoreSuite = keyedStoreSuite("dynamodb idempotency store", "idempotencyStoreContract", (options) =>
  idempotencyStoreContract({
    name: "DynamoDbIdempotencyStore contract",
    create: (settings) => new DynamoDbIdempotencyStore({ ...options, ...settings }),
  }),
);

// The projections' checkpoints on their own, as PostgreSQL's and SQLite's run here: the projection suite
// exercises them only through the runner.
const checkpointStoreSuite = keyedStoreSuite("dynamodb checkpoint store", "checkpointStoreContract", (options) =>
  checkpointStoreContract({
    name: "DynamoDbCheckpointStore contract",
    create: () => new DynamoDbCheckpointStore(options),
  }),
);

const sagaStoreSuite = keyedStoreSuite("dynamodb saga store", "sagaStoreContract", (options) =>
  sagaStoreContract({
    name: "DynamoDbSagaStore contract",
    create: (settings) => new DynamoDbSagaStore({ ...options, ...settings }),
  }),
);

const subjectKeyStoreSuite = keyedStoreSuite("dynamodb subject key store", "subjectKeyStoreContract", (options) => {
  const masterKey = crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  return subjectKeyStoreContract({
    name: "DynamoDbSubjectKeyStore contract",
    create: async (settings) =>
      new DynamoDbSubjectKeyStore({ ...options, ...settings, masterKey: (await masterKey) as CryptoKey }),
  });
});

export const dynamodbSuites: SuiteModule = {
  services: ["dynamodb"],
  workerdFlags: [],
  suites: [
    eventStoreSuite(true),
    eventStoreSuite(false),
    streamDeletionSuite,
    evolutionSuite,
    projectionSuite,
    snapshotStoreSuite,
    checkpointStoreSuite,
    dedupStoreSuite,
    idempotencyStoreSuite,
    sagaStoreSuite,
    subjectKeyStoreSuite,
    tenancyDynamoDbSuite,
    tenancyDynamoDbSharedTableSuite,
  ],
};
