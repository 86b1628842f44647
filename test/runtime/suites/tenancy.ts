/**
 * The tenant isolation contract under each isolation strategy, listed by the suite module of the
 * backend it needs (in-memory.ts, dynamodb.ts, postgres.ts, sqlite-node.ts, sqlite-workerd.ts).
 * Every strategy gives a tenant stores of its own: an instance, a table, a schema, a database file,
 * a Durable Object, or a client that sets the tenant for row-level-security tables (per statement
 * over a shared pool, or once per connection of a tenant's own pool).
 */
import {
  createDynamoDbClient,
  DynamoDbEventStore,
  DynamoDbSnapshotStore,
  dynamoDbStreamDeletion,
  ensureEventStoreTable,
  sharedTableTenantStores,
  tableLayout,
} from "../../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  dropTenantSchema,
  ensureTenantSchema,
  PostgresCheckpointStore,
  PostgresEventStore,
  PostgresSnapshotStore,
  tenantScopedSql,
} from "../../../adapters/postgres/index.js";
import {
  type D1DatabaseLike,
  DurableObjectEventStore,
  type DurableObjectStubLike,
  d1TenantDatabases,
  SqliteCheckpointStore,
  type SqliteDriver,
  SqliteEventStore,
  SqliteSnapshotStore,
} from "../../../adapters/sqlite/index.js";
import {
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemorySnapshotStore,
  TenancyErrorCode,
  type TenantId,
  tenancy,
  ulid,
} from "../../../src/index.js";
import { assertEqual, assertRejects, tenantIsolationContract } from "../../../src/testing/index.js";
import { type RuntimeEnv, type RuntimeSuite, requiredVariable } from "../runtime-suite.js";
import { openTenantTables } from "./postgres-tenant-tables.js";

const CONTRACT = "tenantIsolationContract";

export const tenancyInMemorySuite: RuntimeSuite = {
  name: "in-memory tenant isolation (an instance per tenant)",
  contract: CONTRACT,
  open: () => ({
    suite: tenantIsolationContract({
      name: "tenant isolation (in memory, an instance per tenant)",
      forTenant: () => ({
        eventStore: new InMemoryEventStore(),
        snapshotStore: new InMemorySnapshotStore(),
        checkpointStore: new InMemoryCheckpointStore(),
      }),
    }),
  }),
};

const LOCAL = { region: "us-east-1", credentials: { accessKeyId: "eventflows", secretAccessKey: "local" } };

/** DynamoDB, a table per tenant (the events' and the snapshots' tables), dropped after each case. */
export const tenancyDynamoDbSuite: RuntimeSuite = {
  name: "dynamodb tenant isolation (a table per tenant)",
  contract: CONTRACT,
  open: (env: RuntimeEnv) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const tables = (tenant: TenantId) => [`events-${tenant}`, `snapshots-${tenant}`];
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (DynamoDB, a table per tenant)",
        forTenant: async (tenant) => {
          const [events, snapshots] = tables(tenant) as [string, string];
          const eventStore = new DynamoDbEventStore({ ...LOCAL, endpoint, tableName: events, gapTimeoutMs: 200 });
          const snapshotStore = new DynamoDbSnapshotStore({ ...LOCAL, endpoint, tableName: snapshots });
          await Promise.all([eventStore.ensureTable(), snapshotStore.ensureTable()]);
          return { eventStore, snapshotStore };
        },
        cleanup: async (tenants) => {
          const client = createDynamoDbClient({ ...LOCAL, endpoint });
          for (const table of tenants.flatMap(tables)) {
            await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
          }
        },
      }),
    };
  },
};

/**
 * DynamoDB, one table for every tenant, each under its key prefix (`<tenant>#`: `sharedTableTenantStores`).
 * A's crafted ids add what a prefix scheme invites: B's prefix and the separator in every place, and
 * control characters (refused as stream ids). The table is dropped when the suite closes.
 */
export const tenancyDynamoDbSharedTableSuite: RuntimeSuite = {
  name: "dynamodb tenant isolation (one table, a key prefix per tenant)",
  contract: CONTRACT,
  open: async (env: RuntimeEnv) => {
    const endpoint = requiredVariable(env, "AWS_ENDPOINT_URL_DYNAMODB");
    const client = createDynamoDbClient({ ...LOCAL, endpoint });
    const tableName = `runtime_tenants_${ulid()}`;
    await ensureEventStoreTable(client, tableLayout({ tableName }));
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (DynamoDB, one table, a key prefix per tenant)",
        // With stream deletion: each tenant's deletion records, tombstones and hidden streams under its prefix.
        forTenant: sharedTableTenantStores({
          client,
          tableName,
          eventStore: { gapTimeoutMs: 200, streamDeletion: dynamoDbStreamDeletion },
        }),
        craftStreamIds: ({ tenant, streamId }) => [
          `#${streamId}`,
          `${tenant}#${streamId}`,
          `${tenant}##${streamId}`,
          `-1#${streamId}`,
          `1#${streamId}`,
          `\u001feventflows`,
          `${streamId}#`,
          `${streamId}\u0000`,
          `\u001f${streamId}`,
          `${tenant}#\u001feventflows:log`,
        ],
      }),
      close: async () => {
        await client.send("DeleteTable", { TableName: tableName }).catch(() => undefined);
      },
    };
  },
};

/** PostgreSQL, a schema per tenant (`ensureTenantSchema`: `tenant_<id, - as _>`), dropped after each case. */
export const tenancyPostgresSuite: RuntimeSuite = {
  name: "postgres tenant isolation (a schema per tenant)",
  contract: CONTRACT,
  open: (env: RuntimeEnv) => {
    const sql = createPostgresClient(requiredVariable(env, "EVENTFLOWS_PG_URL"), { max: 4 });
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (PostgreSQL, a schema per tenant)",
        forTenant: async (tenant) => {
          const schema = await ensureTenantSchema(sql, tenant);
          return {
            eventStore: new PostgresEventStore({ sql, schema }),
            snapshotStore: new PostgresSnapshotStore({ sql, schema }),
            checkpointStore: new PostgresCheckpointStore({ sql, schema }),
          };
        },
        cleanup: async (tenants) => {
          for (const tenant of tenants) await dropTenantSchema(sql, tenant);
        },
      }),
      close: async () => {
        await sql.end();
      },
    };
  },
};

/**
 * PostgreSQL, one set of tables with a tenant column under row-level security: every tenant's stores
 * on `tenantScopedSql(sql, tenant)` over one pool, as a role the policies bind. The schema (every
 * case's rows) is dropped when the suite closes.
 */
export const tenancyPostgresRlsSuite: RuntimeSuite = {
  name: "postgres tenant isolation (tenant column + row-level security)",
  contract: CONTRACT,
  open: async (env: RuntimeEnv) => {
    const { sql, schema, close } = await openTenantTables(env, 4);
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (PostgreSQL, tenant column + row-level security)",
        forTenant: (tenant) => {
          const scoped = tenantScopedSql(sql, tenant);
          return {
            eventStore: new PostgresEventStore({ sql: scoped, schema }),
            snapshotStore: new PostgresSnapshotStore({ sql: scoped, schema }),
            checkpointStore: new PostgresCheckpointStore({ sql: scoped, schema }),
          };
        },
      }),
      close,
    };
  },
};

/**
 * The same row-level-security tables with a pool per tenant: each tenant's stores on a client of its
 * own, whose connections carry the tenant from their start (`createPostgresClient(url, { tenant })`).
 */
export const tenancyPostgresRlsPoolSuite: RuntimeSuite = {
  name: "postgres tenant isolation (tenant column + row-level security, a pool per tenant)",
  contract: CONTRACT,
  open: async (env: RuntimeEnv) => {
    const { url, schema, close } = await openTenantTables(env, 1);
    const pools: ReturnType<typeof createPostgresClient>[] = [];
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (PostgreSQL, tenant column + row-level security, a pool per tenant)",
        forTenant: (tenant) => {
          const pool = createPostgresClient(url, { tenant, max: 2 });
          pools.push(pool);
          return {
            eventStore: new PostgresEventStore({ sql: pool, schema }),
            snapshotStore: new PostgresSnapshotStore({ sql: pool, schema }),
            checkpointStore: new PostgresCheckpointStore({ sql: pool, schema }),
          };
        },
      }),
      close: async () => {
        for (const pool of pools) await pool.end();
        await close();
      },
    };
  },
};

/** SQLite, a database per tenant: `open(tenant)` gives a fresh database's driver (a file, here). */
export function tenancySqliteSuite(
  label: string,
  open: (tenant: TenantId) => SqliteDriver | Promise<SqliteDriver>,
  cleanup?: (tenants: readonly TenantId[]) => void | Promise<void>,
): ReturnType<typeof tenantIsolationContract> {
  return tenantIsolationContract({
    name: `tenant isolation (SQLite, a database per tenant, ${label})`,
    forTenant: async (tenant) => {
      const driver = await open(tenant);
      const eventStore = new SqliteEventStore({ driver });
      await eventStore.migrate();
      return {
        eventStore,
        snapshotStore: new SqliteSnapshotStore({ driver }),
        checkpointStore: new SqliteCheckpointStore({ driver }),
      };
    },
    ...(cleanup === undefined ? {} : { cleanup }),
  });
}

interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStubLike;
}

/** Workers: a Durable Object per tenant (`idFromName(tenant)`), its event store reached from the Worker. */
export const tenancyDurableObjectSuite: RuntimeSuite = {
  name: "sqlite (Durable Object per tenant) tenant isolation",
  contract: CONTRACT,
  open: (env: RuntimeEnv) => {
    const namespace = (env as unknown as Record<string, DurableObjectNamespaceLike | undefined>).SQLITE_EVENTS;
    if (namespace === undefined)
      throw new Error("the SQLITE_EVENTS binding is missing: the runner did not configure it");
    return {
      suite: tenantIsolationContract({
        name: "tenant isolation (Durable Objects, an object per tenant)",
        forTenant: (tenant) =>
          new DurableObjectEventStore({ stub: namespace.get(namespace.idFromName(`tenant:${tenant}`)) }),
      }),
    };
  },
};

/** The D1 bindings of the D1-per-tenant suite: tenant A's and tenant B's databases. */
export const TENANT_D1_BINDINGS = ["TENANT_A_D1", "TENANT_B_D1"] as const;

/**
 * Workers: a D1 database per tenant, each its own `[[d1_databases]]` binding, found through
 * `d1TenantDatabases`. Each case has two new tenants, A and B (= A + "-1"): A's database is
 * TENANT_A_D1 and B's TENANT_B_D1, emptied (tables dropped) after each case, as an offboarded
 * tenant's would be. Two more cases: a tenant without a binding is refused, typed, never handed
 * another tenant's database.
 */
export const tenancyD1Suite: RuntimeSuite = {
  name: "sqlite (D1 database per tenant) tenant isolation",
  contract: CONTRACT,
  open: (env: RuntimeEnv) => {
    const bindings = env as unknown as Record<string, D1DatabaseLike | undefined>;
    for (const name of TENANT_D1_BINDINGS) {
      if (bindings[name] === undefined)
        throw new Error(`the ${name} binding is missing: the runner did not configure it`);
    }
    const [first, second] = TENANT_D1_BINDINGS;
    const databases = d1TenantDatabases({ env, bindings: (tenant) => (tenant.endsWith("-1") ? second : first) });
    const suite = tenancySqliteSuite(
      "D1, a binding per tenant",
      (tenant) => databases.driver(tenant),
      async () => {
        for (const name of TENANT_D1_BINDINGS) await dropTables(bindings[name] as D1DatabaseLike);
      },
    );
    const served = `served-${ulid().toLowerCase()}` as TenantId;
    const mapped = d1TenantDatabases({ env, bindings: { [served]: first, stranger: "NO_SUCH_BINDING" } });
    const stores = (tenant: TenantId) => ({ eventStore: new SqliteEventStore({ driver: mapped.driver(tenant) }) });
    return {
      suite: {
        ...suite,
        cases: [
          ...suite.cases,
          {
            name: "a tenant without a binding is an UnknownTenantError, through knows and through the stores factory",
            run: async () => {
              const refusing = tenancy({ stores });
              const checked = tenancy({ knows: mapped.knows, stores });
              for (const tenant of ["unmapped", "stranger", "constructor"]) {
                await assertRejects(
                  () => refusing.forTenant(tenant),
                  TenancyErrorCode.UnknownTenant,
                  `stores for ${tenant}`,
                );
                await assertRejects(() => checked.forTenant(tenant), TenancyErrorCode.UnknownTenant, `knows ${tenant}`);
              }
              assertEqual((await checked.forTenant(served)).tenant, served, "the mapped tenant is served");
              await Promise.all([refusing.close(), checked.close()]);
            },
          },
          {
            name: "the mapped tenant's events land in its own binding's database only",
            run: async () => {
              const scope = await tenancy({ stores }).forTenant(served);
              await (scope.stores.eventStore.inner as SqliteEventStore).migrate();
              const stream = `Order-${ulid()}`;
              await scope.stores.eventStore.appendToStream(stream, [{ type: "Placed", data: {} }]);
              const count = async (name: string) => {
                const db = bindings[name] as D1DatabaseLike;
                const exists = await db
                  .prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'eventflows_events'")
                  .all();
                if (Number((exists.results?.[0] as { n?: number })?.n) === 0) return 0;
                const rows = await db
                  .prepare("SELECT count(*) AS n FROM eventflows_events WHERE stream_id = ?")
                  .bind(stream)
                  .all();
                return Number((rows.results?.[0] as { n?: number })?.n);
              };
              assertEqual(await count(first), 1, `events in ${first}`);
              assertEqual(await count(second), 0, `events in ${second}`);
              await dropTables(bindings[first] as D1DatabaseLike);
            },
          },
        ],
      },
    };
  },
};

/** Drops every table of a D1 database (its own `_cf_` tables aside). */
async function dropTables(db: D1DatabaseLike): Promise<void> {
  const listed = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    )
    .all();
  const names = (listed.results ?? []).map((row) => String((row as { name: unknown }).name));
  if (names.length > 0) await db.batch(names.map((name) => db.prepare(`DROP TABLE IF EXISTS "${name}"`)));
}
