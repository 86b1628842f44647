import { describe, expect, test } from "bun:test";
import { isValidationError } from "../../src/index.js";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import {
  castoreDynamoDbSource,
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
  dynamoDbTenantStatement,
  ensureEventStoreTable,
  eventStoreTableDefinition,
  sharedTableTenantStores,
  tableLayout,
} from "./index.js";

// Every option object of the DynamoDB adapter refuses a key it does not take, naming its path, before
// any request: before, a misspelt key was dropped and its default taken without a word (`sortkey`
// read and wrote `sk`, `endpiont` sent the requests to AWS rather than DynamoDB Local, `ttlMS` kept
// dedup ids 14 days).

/** A fetch that fails the test if a request is made: the refusal comes before any. */
const fetch = () => Promise.reject(new Error("a request was sent"));
const aws = {
  region: "eu-west-1",
  credentials: { accessKeyId: "a", secretAccessKey: "b" },
  fetch,
  retry: { maxAttempts: 1 },
};
const client = createDynamoDbClient(aws);
const table = { client, tableName: "events" };
const masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
])) as CryptoKey;
const AWS = ["region", "endpoint", "credentials", "env", "fetch", "retry", "timeoutMs", "attemptTimeoutMs", "clock"];
const LAYOUT = ["tableName", "partitionKey", "sortKey", "tenant"];
const STORE = [...AWS, ...LAYOUT, "client"];
const EVENT_STORE = ["bus", "onPublishError", "maxJsonDepth", "eventRegistry", "personalData", "telemetry"];
const SNAPSHOT = ["serializer", "legacySerializers", "compression", "keepLast", "maxDecompressedBytes"];

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  createDynamoDbClient: { keys: AWS, build: (extra) => createDynamoDbClient({ ...aws, ...extra }) },
  "createDynamoDbClient retry": {
    keys: ["maxAttempts", "baseDelayMs", "maxDelayMs", "budget", "random"],
    at: "retry.",
    build: (extra) => createDynamoDbClient({ ...aws, retry: { maxAttempts: 2, ...extra } }),
  },
  DynamoDbEventStore: {
    keys: [...EVENT_STORE, ...STORE, "globalFeed", "gapTimeoutMs", "streamDeletion"],
    build: (extra) => new DynamoDbEventStore({ ...table, ...extra }),
  },
  "DynamoDbEventStore without a client": {
    keys: [...EVENT_STORE, ...STORE, "globalFeed", "gapTimeoutMs", "streamDeletion"],
    build: (extra) => new DynamoDbEventStore({ ...aws, tableName: "events", ...extra }),
  },
  DynamoDbSnapshotStore: {
    keys: [...SNAPSHOT, "personalData", "telemetry", ...STORE],
    build: (extra) => new DynamoDbSnapshotStore({ ...table, ...extra }),
  },
  DynamoDbReadModelStore: {
    keys: [...STORE, "generationCacheMs"],
    build: (extra) => new DynamoDbReadModelStore({ ...table, ...extra }),
  },
  DynamoDbCheckpointStore: {
    keys: [...STORE, "generationCacheMs"],
    build: (extra) => new DynamoDbCheckpointStore({ ...table, ...extra }),
  },
  DynamoDbProjectionLock: {
    keys: [...STORE, "generationCacheMs", "now"],
    build: (extra) => new DynamoDbProjectionLock({ ...table, ...extra }),
  },
  DynamoDbSagaStore: {
    keys: ["maxStateBytes", ...STORE, "timeoutShards"],
    build: (extra) => new DynamoDbSagaStore({ ...table, ...extra }),
  },
  DynamoDbDedupStore: {
    keys: [...STORE, "now", "ttlMs"],
    build: (extra) => new DynamoDbDedupStore({ ...table, ...extra }),
  },
  DynamoDbIdempotencyStore: {
    keys: [...STORE, "now", "ttlMs", "inProgressTtlMs"],
    build: (extra) => new DynamoDbIdempotencyStore({ ...table, ...extra }),
  },
  DynamoDbSubjectKeyStore: {
    keys: ["cacheSize", "cacheTtlMs", "now", ...STORE, "masterKey"],
    build: (extra) => new DynamoDbSubjectKeyStore({ ...table, masterKey, ...extra }),
  },
  tableLayout: { keys: LAYOUT, build: (extra) => tableLayout({ tableName: "events", ...extra }) },
  sharedTableTenantStores: {
    keys: [...AWS, "tableName", "partitionKey", "sortKey", "client", "personalData", "eventStore", "snapshotStore"],
    build: (extra) => sharedTableTenantStores({ ...table, ...extra }),
  },
  "sharedTableTenantStores eventStore": {
    keys: [...EVENT_STORE, "globalFeed", "gapTimeoutMs", "streamDeletion"],
    at: "eventStore.",
    build: (extra) => sharedTableTenantStores({ ...table, eventStore: { ...extra } }),
  },
  "sharedTableTenantStores snapshotStore": {
    keys: [...SNAPSHOT, "personalData", "telemetry"],
    at: "snapshotStore.",
    build: (extra) => sharedTableTenantStores({ ...table, snapshotStore: { ...extra } }),
  },
  castoreDynamoDbSource: {
    keys: ["tableName", "eventStoreId", "streamId", "concurrency"],
    build: (extra) => castoreDynamoDbSource(client, { tableName: "castore", eventStoreId: "carts", ...extra }),
  },
  dynamoDbTenantStatement: {
    keys: ["tableArn", "tenant", "stores"],
    build: (extra) =>
      dynamoDbTenantStatement({
        tableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/events",
        tenant: "acme",
        stores: ["eventStore"],
        ...extra,
      }),
  },
  "ensureTable options": {
    keys: ["timeoutMs"],
    build: async (extra) => {
      // Refused before its first request; valid options would send one (here, the failing fetch).
      await new DynamoDbEventStore(table).ensureTable({ ...extra }).catch((error) => {
        if (isValidationError(error)) throw error;
      });
    },
  },
  // A layout or its options: a layout's keyPrefix (its tenant's) is taken too.
  "ensureEventStoreTable layout": {
    keys: [...LAYOUT, "keyPrefix"],
    build: async (extra) => {
      await ensureEventStoreTable(client, { tableName: "events", ...extra } as never).catch((error) => {
        if (isValidationError(error)) throw error;
      });
    },
  },
  "eventStoreTableDefinition layout": {
    keys: [...LAYOUT, "keyPrefix"],
    build: (extra) => eventStoreTableDefinition({ tableName: "events", ...extra } as never),
  },
  "purgeRetiredGenerations options": {
    keys: ["maxRequests", "olderThanMs", "pageSize"],
    build: async (extra) => {
      await new DynamoDbReadModelStore(table).purgeRetiredGenerations({ ...extra }).catch((error) => {
        if (isValidationError(error)) throw error;
      });
    },
  },
};

describe("the DynamoDB adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [() => new DynamoDbEventStore({ ...table, sortkey: "sort" } as never), ["sortkey"]],
      [
        () => new DynamoDbEventStore({ ...aws, tableName: "events", endpiont: "http://localhost:8000" } as never),
        ["endpiont"],
      ],
      [() => new DynamoDbDedupStore({ ...table, ttlMS: 1000 } as never), ["ttlMS"]],
      // Created the table with the default key `sk`, which no store given `sortKey: "version"` could use.
      [() => ensureEventStoreTable(client, { tableName: "events", sortkey: "version" } as never), ["sortkey"]],
      [() => eventStoreTableDefinition({ tableName: "events", partitionkey: "stream" } as never), ["partitionkey"]],
      [() => createDynamoDbClient({ ...aws, retry: { maxAttempt: 1 } } as never), ["retry.maxAttempt"]],
      [
        () => sharedTableTenantStores({ ...table, eventStore: { gapTimeoutMS: 5 } } as never),
        ["eventStore.gapTimeoutMS"],
      ],
      // One personalData for every tenant put their subject keys in one key store: erasing subject 42 in one
      // tenant erased every tenant's 42. It is given per tenant, as a function, at the top level.
      [
        () =>
          sharedTableTenantStores({
            ...table,
            eventStore: { personalData: {} },
            snapshotStore: { personalData: {} },
          } as never),
        ["eventStore.personalData", "snapshotStore.personalData"],
      ],
      [() => sharedTableTenantStores({ ...table, personalData: {} } as never), ["personalData"]],
      [
        () =>
          dynamoDbTenantStatement({
            tableArn: "arn:aws:dynamodb:eu-west-1:1:table/t",
            tenant: "acme",
            store: [],
          } as never),
        ["store", "stores"],
      ],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders, { skipProto: true });
  });
});

describe("DynamoDbEventStore options of the wrong kind", () => {
  // From JavaScript: the string "false" kept the feed on, and `true` failed as a TypeError.
  for (const [key, value] of [
    ["globalFeed", "false"],
    ["globalFeed", 0],
    ["streamDeletion", true],
    ["streamDeletion", null],
    ["streamDeletion", {}],
  ] as const) {
    test(`${key}: ${JSON.stringify(value)} is a ValidationError naming it, before any request`, () => {
      let thrown: unknown;
      try {
        new DynamoDbEventStore({ ...table, [key]: value } as never);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path)).toEqual([[key]]);
    });
  }
});
