import { describe, expect, test } from "bun:test";
import { projection } from "../../src/index.js";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import {
  appliedMigrations,
  createPostgresClient,
  dropTenantSchema,
  emmettPostgresSource,
  enableRowLevelSecurity,
  ensureTenantSchema,
  listTenantSchemas,
  migrate,
  migrateTenantSchemas,
  PostgresCheckpointStore,
  PostgresDedupStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  PostgresSagaStore,
  PostgresSnapshotStore,
  type PostgresSql,
  PostgresSubjectKeyStore,
  postgresProjectionRunner,
  postgresStoreStats,
  resolvePostgresUrl,
  rowLevelSecurityEnabled,
  schemaVersion,
  tableNames,
  tenantSchemaName,
} from "./index.js";

// Every option object of the PostgreSQL adapter refuses a key it does not take, naming its path,
// before anything reaches the database: before, a misspelt key was dropped and its default taken
// without a word (`schmea` migrated, read and wrote the default schema; `isolaton` ran at read
// committed; `partiton` imported another partition). `client` (postgres.js's options) is not checked:
// postgres.js takes its own keys.

// A client that never connects: postgres.js connects on the first query, and none is sent here.
const sql = createPostgresClient("postgres://app@localhost:1/never", { max: 2 });
/** A client that fails the test if anything reaches it: the refusal comes before any statement. */
const reached = () => {
  throw new Error("the database was reached");
};
const untouched = Object.assign(reached, { begin: reached, unsafe: reached, reserve: reached }) as never;
const masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
])) as CryptoKey;
const NAMES = ["schema", "tablePrefix"];
const EVENT_STORE = ["bus", "onPublishError", "maxJsonDepth", "eventRegistry", "personalData", "telemetry"];
const SNAPSHOT = ["serializer", "legacySerializers", "compression", "keepLast", "maxDecompressedBytes"];

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  PostgresEventStore: {
    keys: [...EVENT_STORE, ...NAMES, "sql", "url", "client", "env", "maxEventBytes", "readPageSize", "projections"],
    build: (extra) => new PostgresEventStore({ sql, schema: "app", ...extra }),
  },
  withTransaction: {
    keys: ["isolation"],
    reaches: true,
    build: (extra) => new PostgresEventStore({ sql: untouched }).withTransaction(() => undefined, { ...extra }),
  },
  "PostgresEventStore migrate": {
    keys: ["to"],
    reaches: true,
    build: (extra) => new PostgresEventStore({ sql: untouched }).migrate({ ...extra }),
  },
  PostgresCheckpointStore: {
    keys: [...NAMES, "sql"],
    build: (extra) => new PostgresCheckpointStore({ sql, ...extra }),
  },
  PostgresDedupStore: {
    keys: [...NAMES, "sql", "ttlMs", "now"],
    build: (extra) => new PostgresDedupStore({ sql, ...extra }),
  },
  PostgresIdempotencyStore: {
    keys: [...NAMES, "sql", "ttlMs", "inProgressTtlMs", "now"],
    build: (extra) => new PostgresIdempotencyStore({ sql, ...extra }),
  },
  PostgresSnapshotStore: {
    keys: [...SNAPSHOT, "personalData", "telemetry", ...NAMES, "sql", "maxPayloadBytes"],
    build: (extra) => new PostgresSnapshotStore({ sql, ...extra }),
  },
  PostgresSagaStore: {
    keys: ["maxStateBytes", ...NAMES, "sql"],
    build: (extra) => new PostgresSagaStore({ sql, ...extra }),
  },
  PostgresReadModelStore: {
    keys: [...NAMES, "sql"],
    build: (extra) => new PostgresReadModelStore({ sql, ...extra }),
  },
  PostgresProjectionLock: {
    keys: [...NAMES, "sql"],
    build: (extra) => new PostgresProjectionLock({ sql, ...extra }),
  },
  PostgresSubjectKeyStore: {
    keys: ["cacheSize", "cacheTtlMs", "now", ...NAMES, "sql", "masterKey"],
    build: (extra) => new PostgresSubjectKeyStore({ sql, masterKey, ...extra }),
  },
  postgresProjectionRunner: {
    keys: [
      "readModels",
      "lock",
      "owner",
      "batchSize",
      "maxBatchSize",
      "pollIntervalMs",
      "standbyPollMs",
      "leaseMs",
      "retryDelayMs",
      "onFailure",
      "onError",
      "onBatch",
      "inline",
      "telemetry",
    ],
    build: (extra) =>
      postgresProjectionRunner(
        new PostgresEventStore({ sql }),
        projection({ name: "counts", handle: () => undefined }),
        { ...extra },
      ),
  },
  migrate: { keys: ["to", ...NAMES], reaches: true, build: (extra) => migrate(untouched, { ...extra }) },
  appliedMigrations: { keys: NAMES, reaches: true, build: (extra) => appliedMigrations(untouched, { ...extra }) },
  schemaVersion: { keys: NAMES, reaches: true, build: (extra) => schemaVersion(untouched, { ...extra }) },
  postgresStoreStats: { keys: NAMES, reaches: true, build: (extra) => postgresStoreStats(untouched, { ...extra }) },
  enableRowLevelSecurity: {
    keys: NAMES,
    reaches: true,
    build: (extra) => enableRowLevelSecurity(untouched, { ...extra }),
  },
  rowLevelSecurityEnabled: {
    keys: NAMES,
    reaches: true,
    build: (extra) => rowLevelSecurityEnabled(untouched, { ...extra }),
  },
  tableNames: { keys: NAMES, build: (extra) => tableNames({ ...extra }) },
  tenantSchemaName: { keys: ["schemaPrefix", "tablePrefix"], build: (extra) => tenantSchemaName("acme", { ...extra }) },
  ensureTenantSchema: {
    keys: ["schemaPrefix", "tablePrefix"],
    reaches: true,
    build: (extra) => ensureTenantSchema(untouched, "acme", { ...extra }),
  },
  listTenantSchemas: {
    keys: ["schemaPrefix", "tablePrefix"],
    reaches: true,
    build: (extra) => listTenantSchemas(untouched, { ...extra }),
  },
  migrateTenantSchemas: {
    keys: ["schemaPrefix", "tablePrefix"],
    reaches: true,
    build: (extra) => migrateTenantSchemas(untouched, { ...extra }),
  },
  dropTenantSchema: {
    keys: ["schemaPrefix", "tablePrefix"],
    reaches: true,
    build: (extra) => dropTenantSchema(untouched, "acme", { ...extra }),
  },
  emmettPostgresSource: { keys: ["schema", "partition"], build: (extra) => emmettPostgresSource(sql, { ...extra }) },
  resolvePostgresUrl: {
    keys: ["url", "urlFile"],
    build: (extra) => resolvePostgresUrl({ url: "postgres://app@localhost/db", ...extra }, { env: {} }),
  },
};

describe("the PostgreSQL adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [() => new PostgresEventStore({ sql, schmea: "app" } as never), ["schmea"]],
      [() => new PostgresEventStore({ sql, readPageSise: 10 } as never), ["readPageSise"]],
      [() => new PostgresSnapshotStore({ sql, keeplast: 1 } as never), ["keeplast"]],
      [() => new PostgresDedupStore({ sql, ttlMS: 1000 } as never), ["ttlMS"]],
      [() => migrate(untouched, { tablePrefx: "app_" } as never), ["tablePrefx"]],
      [
        () =>
          new PostgresEventStore({ sql: untouched }).withTransaction(() => 1, { isolaton: "serializable" } as never),
        ["isolaton"],
      ],
      [() => emmettPostgresSource(sql, { partiton: "tenant-1" } as never), ["partiton"]],
      [() => ensureTenantSchema(untouched, "acme", { schemaPrefx: "t_" } as never), ["schemaPrefx"]],
      [() => tableNames({ Schema: "app" } as never), ["Schema"]],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  test("what the store or the runner's arguments fix is refused in the options too, not taken or ignored", async () => {
    // An untyped migrate({ schema }) migrated another schema than the store's; an eventStore or projection in
    // the runner's options was dropped for the arguments without a word.
    const store = new PostgresEventStore({ sql: untouched, schema: "app" });
    const counts = projection({ name: "counts", handle: () => undefined });
    const cases: [() => unknown, string[]][] = [
      [() => store.migrate({ schema: "other" } as never), ["schema"]],
      [() => store.migrate({ tablePrefix: "x_", to: 1 } as never), ["tablePrefix"]],
      [
        () => postgresProjectionRunner(new PostgresEventStore({ sql }), counts, { eventStore: store } as never),
        ["eventStore"],
      ],
      [
        () => postgresProjectionRunner(new PostgresEventStore({ sql }), counts, { projection: counts } as never),
        ["projection"],
      ],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders);
  });

  test("postgres.js's own options pass through `client` unchecked, and null is still no options", () => {
    const store = new PostgresEventStore({
      url: "postgres://app@localhost:1/never",
      client: { max: 3, idle_timeout: 5 },
    });
    expect((store.sql as PostgresSql).options.max).toBe(3);
    expect(tenantSchemaName("acme", null as never)).toBe("tenant_acme");
  });

  test("null saga store options are refused as none are, naming sql (the base class read a field of null)", async () => {
    expect(await refusedPaths(() => new PostgresSagaStore(null as never))).toEqual(["sql"]);
  });
});
