/** @eventflows/core/postgres against the harness's PostgreSQL (EVENTFLOWS_PG_URL), with the adapter's own client. */

import {
  createPostgresClient,
  PostgresCheckpointStore,
  PostgresDedupStore,
  PostgresEventStore,
  PostgresIdempotencyStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  PostgresSagaStore,
  PostgresSnapshotStore,
  PostgresSubjectKeyStore,
  tenantScopedSql,
} from "../../../adapters/postgres/index.js";
import { isServiceError, ulid } from "../../../src/index.js";
import {
  assert,
  type ContractSuite,
  checkpointStoreContract,
  dedupStoreContract,
  eventEvolutionContract,
  eventStoreContract,
  holdCommitIn,
  idempotencyStoreContract,
  projectionContract,
  sagaStoreContract,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
} from "../../../src/testing/index.js";
import { type OpenedSuite, type RuntimeEnv, requiredVariable, type SuiteModule } from "../runtime-suite.js";
import { openTenantTables } from "./postgres-tenant-tables.js";
import { tenancyPostgresRlsPoolSuite, tenancyPostgresRlsSuite, tenancyPostgresSuite } from "./tenancy.js";

/** A client and a freshly migrated schema of its own (so runs and runtimes never see each other's rows). */
async function withSchema(
  env: RuntimeEnv,
  suite: (sql: ReturnType<typeof createPostgresClient>, schema: string) => ContractSuite,
): Promise<OpenedSuite> {
  const sql = createPostgresClient(requiredVariable(env, "EVENTFLOWS_PG_URL"), { max: 12 });
  const schema = `runtime_${ulid().toLowerCase()}`;
  await new PostgresEventStore({ sql, schema }).migrate();
  return {
    suite: suite(sql, schema),
    close: async () => {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.end();
    },
  };
}

/** One tenant's client on row-level-security tables: the tenant-scoped pipeline on this runtime's sockets. */
async function withTenantTables(
  env: RuntimeEnv,
  suite: (sql: ReturnType<typeof createPostgresClient>, schema: string) => ContractSuite,
): Promise<OpenedSuite> {
  const { sql, schema, close } = await openTenantTables(env);
  return { suite: suite(tenantScopedSql(sql, "runtime-tenant"), schema), close };
}

/**
 * Stores whose database port is closed (port 1 of the database's host): the failure to connect is a
 * retryable ServiceError on every runtime. Node and Bun give ECONNREFUSED; workerd an Error of its
 * own words with no code, which went untyped before (see WORKERD_SOCKET_FAILURES in errors.ts).
 */
function closedPortSuite(env: RuntimeEnv): OpenedSuite {
  const url = new URL(requiredVariable(env, "EVENTFLOWS_PG_URL"));
  url.port = "1";
  const clients: ReturnType<typeof createPostgresClient>[] = [];
  const client = () => {
    const sql = createPostgresClient(url.href, { max: 1, connect_timeout: 5 });
    clients.push(sql);
    return sql;
  };
  const refusedAsRetryable = async (store: PostgresEventStore) => {
    let thrown: unknown;
    try {
      await store.getStreamVersion(`Closed-${ulid()}`);
    } catch (error) {
      thrown = error;
    }
    const text = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    assert(isServiceError(thrown), `a ServiceError, not ${text}`);
    assert(thrown.service === "postgres" && thrown.retryable, `retryable, not ${thrown.serviceCode}: ${text}`);
  };
  return {
    suite: {
      name: "PostgreSQL on a closed port",
      cases: [
        {
          name: "a store whose database port is closed fails with a retryable ServiceError",
          run: () => refusedAsRetryable(new PostgresEventStore({ sql: client(), schema: "closed_port" })),
        },
        {
          name: "so does a tenant-scoped store (tenantScopedSql, whose reserve() fails)",
          run: () =>
            refusedAsRetryable(new PostgresEventStore({ sql: tenantScopedSql(client(), "t1"), schema: "closed_port" })),
        },
      ],
    },
    close: async () => {
      await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })));
    },
  };
}

export const postgresSuites: SuiteModule = {
  services: ["postgres"],
  // postgres.js reaches TCP on Workers through cloudflare:sockets and node:* modules.
  workerdFlags: ["nodejs_compat"],
  suites: [
    {
      name: "postgres event store",
      contract: "eventStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          eventStoreContract({
            name: "PostgresEventStore contract",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
            holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
          }),
        ),
    },
    {
      name: "postgres event store, one tenant on row-level-security tables",
      contract: "eventStoreContract",
      open: (env) =>
        withTenantTables(env, (sql, schema) =>
          eventStoreContract({
            name: "PostgresEventStore contract (tenantScopedSql, row-level security)",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
            holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
          }),
        ),
    },
    {
      name: "postgres stream deletion",
      contract: "streamDeletionContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          streamDeletionContract({
            name: "PostgresEventStore stream deletion contract",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
          }),
        ),
    },
    {
      name: "postgres stream deletion, one tenant on row-level-security tables",
      contract: "streamDeletionContract",
      open: (env) =>
        withTenantTables(env, (sql, schema) =>
          streamDeletionContract({
            name: "PostgresEventStore stream deletion contract (tenantScopedSql, row-level security)",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
          }),
        ),
    },
    {
      name: "postgres event evolution",
      contract: "eventEvolutionContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          eventEvolutionContract({
            name: "PostgresEventStore evolution contract",
            create: (options) => new PostgresEventStore({ ...options, sql, schema }),
          }),
        ),
    },
    {
      name: "postgres checkpoint store",
      contract: "checkpointStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          checkpointStoreContract({
            name: "PostgresCheckpointStore contract",
            create: () => new PostgresCheckpointStore({ sql, schema }),
          }),
        ),
    },
    {
      name: "postgres projections",
      contract: "projectionContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          projectionContract({
            name: "projection contract on PostgreSQL",
            create: () => ({
              eventStore: new PostgresEventStore({ sql, schema }),
              readModels: new PostgresReadModelStore({ sql, schema }),
              lock: new PostgresProjectionLock({ sql, schema }),
            }),
          }),
        ),
    },
    {
      name: "postgres snapshot store",
      contract: "snapshotStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          snapshotStoreContract({
            name: "PostgresSnapshotStore contract",
            create: (options) => new PostgresSnapshotStore({ ...options, sql, schema }),
          }),
        ),
    },
    {
      name: "postgres dedup store",
      contract: "dedupStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          dedupStoreContract({
            name: "PostgresDedupStore contract",
            create: (settings) => new PostgresDedupStore({ sql, schema, ...settings }),
          }),
        ),
    },
    {
      name: "postgres subject key store",
      contract: "subjectKeyStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) => {
          const masterKey = crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
          return subjectKeyStoreContract({
            name: "PostgresSubjectKeyStore contract",
            create: async (settings) =>
              new PostgresSubjectKeyStore({ sql, schema, masterKey: (await masterKey) as CryptoKey, ...settings }),
          });
        }),
    },
    {
      name: "postgres saga store",
      contract: "sagaStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          sagaStoreContract({
            name: "PostgresSagaStore contract",
            create: (settings) => new PostgresSagaStore({ sql, schema, ...settings }),
          }),
        ),
    },
    {
      name: "postgres idempotency store",
      contract: "idempotencyStoreContract",
      open: (env) =>
        withSchema(env, (sql, schema) =>
          idempotencyStoreContract({
            name: "PostgresIdempotencyStore contract",
            create: (settings) => new PostgresIdempotencyStore({ sql, schema, ...settings }),
          }),
        ),
    },
    { name: "postgres store on a closed port", contract: "eventStoreContract", open: closedPortSuite },
    tenancyPostgresSuite,
    tenancyPostgresRlsSuite,
    tenancyPostgresRlsPoolSuite,
  ],
};
