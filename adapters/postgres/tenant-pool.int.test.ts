// Row-level-security tables with a pool per tenant (createPostgresClient's `tenant`): the tenant is
// set once per connection, at its start. The shared-pool way (tenantScopedSql) is tested in
// row-level-security.int.test.ts; both read the same policies, so they must agree row for row.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isEventFlowsError, ulid } from "../../src/index.js";
import {
  checkpointStoreContract,
  collect,
  eventStoreContract,
  holdCommitIn,
  projectionContract,
  registerContract,
  untilReadable,
} from "../../src/testing/index.js";
import {
  postgresTestClient,
  type RestrictedTestRole,
  restrictedTestRole,
  uniqueSchema,
} from "../../test/services/postgres.ts";
import {
  createPostgresClient,
  enableRowLevelSecurity,
  migrate,
  PostgresCheckpointStore,
  PostgresEventStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  type PostgresSql,
  tenantScopedSql,
} from "./index.js";

// As in row-level-security.int.test.ts: a role that owns the tables, neither superuser nor BYPASSRLS.
const schema = uniqueSchema("rls_pool");
let role: RestrictedTestRole | undefined;
let admin: PostgresSql;
let app: PostgresSql;
let appUrl: string;
const pools: PostgresSql[] = [];

/** A client of the tenant's own, ended after the file. */
function poolOf(tenant: string, max = 3): PostgresSql {
  const pool = createPostgresClient(appUrl, { max, tenant });
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  admin = await postgresTestClient();
  role = await restrictedTestRole(admin, "ef_pool");
  appUrl = role.url;
  app = createPostgresClient(appUrl, { max: 4 });
  await migrate(app, { schema });
  await enableRowLevelSecurity(app, { schema });
});
afterAll(async () => {
  for (const pool of pools) await pool.end();
  await app?.end();
  await admin?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await role?.drop();
  await admin?.end();
});

let contractPool: PostgresSql | undefined;
const contractSql = () => {
  contractPool ??= poolOf("pool-contract", 6);
  return contractPool;
};
registerContract(
  eventStoreContract({
    name: "PostgresEventStore contract on row-level-security tables, a pool per tenant",
    create: (options) => new PostgresEventStore({ ...options, sql: contractSql(), schema }),
    holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
  }),
  { describe, test },
);
registerContract(
  checkpointStoreContract({
    name: "PostgresCheckpointStore contract on row-level-security tables, a pool per tenant",
    create: () => new PostgresCheckpointStore({ sql: contractSql(), schema }),
  }),
  { describe, test },
);
registerContract(
  projectionContract({
    name: "projection contract on row-level-security tables, a pool per tenant",
    create: () => ({
      eventStore: new PostgresEventStore({ sql: contractSql(), schema }),
      readModels: new PostgresReadModelStore({ sql: contractSql(), schema }),
      lock: new PostgresProjectionLock({ sql: contractSql(), schema }),
    }),
  }),
  { describe, test },
);

describe("row-level security with a pool per tenant", () => {
  test("tenants' pools see only their own rows, the same rows the shared pool's tenantScopedSql gives that tenant", async () => {
    const [a, b] = [`pool-a-${ulid().toLowerCase()}`, `pool-b-${ulid().toLowerCase()}`];
    const stream = `Account-${ulid()}`;
    const storeA = new PostgresEventStore({ sql: poolOf(a), schema });
    // A store that creates its client from the URL takes the option too (and ends its client on close).
    const storeB = new PostgresEventStore({ url: appUrl, client: { max: 2, tenant: b }, schema });
    try {
      const written = await storeA.appendToStream(stream, [
        { type: "Opened", data: { secret: "a" } },
        { type: "Deposited", data: { secret: "a" } },
      ]);
      // A's events readable before the feed reads below, so that B's empty read is B's scope, not a
      // lagging feed: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
      await untilReadable(storeA, written);
      expect(await storeB.getStreamVersion(stream)).toBe(0);
      expect(await collect(storeB.readStream(stream))).toEqual([]);
      const position = written.events[0]?.globalPosition ?? 0;
      expect(await collect(storeB.readAll({ after: position - 1 }))).toEqual([]);
      await storeB.appendToStream(stream, [{ type: "Opened", data: { secret: "b" } }], {
        expectedVersion: "no-stream",
      });

      // The shared pool, scoped to A, reads exactly what A's own pool wrote, and B's own.
      const sharedA = new PostgresEventStore({ sql: tenantScopedSql(app, a), schema });
      const sharedB = new PostgresEventStore({ sql: tenantScopedSql(app, b), schema });
      expect((await collect(sharedA.readStream(stream))).map((e) => e.data)).toEqual([
        { secret: "a" },
        { secret: "a" },
      ]);
      expect((await collect(sharedB.readStream(stream))).map((e) => e.data)).toEqual([{ secret: "b" }]);
      expect((await collect(storeA.readAll({ after: position - 1 }))).map((e) => e.globalPosition)).toEqual(
        written.events.map((e) => e.globalPosition),
      );

      const [checkpointsA, checkpointsB] = [a, b].map((t) => new PostgresCheckpointStore({ sql: poolOf(t), schema }));
      await checkpointsA?.store("billing", 42);
      expect(await checkpointsB?.load("billing")).toBeUndefined();
    } finally {
      await storeB.close();
    }
  });

  test("without a tenant nothing is visible or writable; a connection keeps its tenant through RESET ALL and transactions", async () => {
    const tenant = `pool-closed-${ulid().toLowerCase()}`;
    const stream = `Closed-${ulid()}`;
    const own = poolOf(tenant, 1);
    await new PostgresEventStore({ sql: own, schema }).appendToStream(stream, [{ type: "A", data: null }]);
    const unscoped = new PostgresEventStore({ sql: app, schema });
    expect(await unscoped.getStreamVersion(stream)).toBe(0);
    const refused = await unscoped.appendToStream(`Other-${ulid()}`, [{ type: "A", data: null }]).catch((e) => e);
    expect(isEventFlowsError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42501" });

    // The startup value is the setting's reset value: RESET ALL and a transaction's own setting end
    // where they began, at the pool's tenant (one connection: every statement lands on it).
    const store = new PostgresEventStore({ sql: own, schema });
    await own.unsafe("RESET ALL");
    expect(await store.getStreamVersion(stream)).toBe(1);
    await own.begin(async (tx) => {
      await tx.unsafe("SELECT set_config('eventflows.tenant', 'someone-else', true)");
    });
    expect(await store.getStreamVersion(stream)).toBe(1);
    const [setting] = await own.unsafe("SELECT current_setting('eventflows.tenant') AS tenant");
    expect(setting?.tenant).toBe(tenant);
  });

  // PostgreSQL reads a setting's name in any case, and postgres.js sends a URL's query parameters as
  // they are, over `connection`: `?EVENTFLOWS.TENANT=b` had a's pool (tenantOf: a) read and append to
  // b's streams, since the check compared the parameter's name case by case.
  test("a URL that names another tenant in any case is refused: the pool never serves that tenant", async () => {
    const owner = `pool-case-${ulid().toLowerCase()}`;
    const stream = `Case-${ulid()}`;
    await new PostgresEventStore({ sql: poolOf(owner, 1), schema }).appendToStream(stream, [{ type: "A", data: 1 }]);
    // And with a tab or line break in the name, which the URL parser postgres.js uses drops.
    for (const name of ["EVENTFLOWS.TENANT", "Eventflows.Tenant", "eventflows.TENANT", "eventflows.ten\tant"]) {
      const url = `${appUrl}${appUrl.includes("?") ? "&" : "?"}${name}=${owner}`;
      let pool: PostgresSql | undefined;
      let versionSeen: unknown;
      try {
        pool = createPostgresClient(url, { max: 1, tenant: "pool-case-other" });
        versionSeen = await new PostgresEventStore({ sql: pool, schema }).getStreamVersion(stream);
      } catch (error) {
        versionSeen = error;
      } finally {
        await pool?.end();
      }
      expect(versionSeen).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["url"] }] });
    }
  });

  // A key of `connection` the option overwrote kept its place, and a case variant after it (sent later,
  // and the server keeps the last value of a setting) set the connection's tenant.
  test("the tenant option wins over the setting in connection under any case of its name", async () => {
    const pool = createPostgresClient(appUrl, {
      max: 1,
      tenant: "pool-wins",
      connection: { "eventflows.tenant": "pool-wins", "EVENTFLOWS.TENANT": "pool-other", "Eventflows.Tenant": "x" },
    });
    pools.push(pool);
    const [row] = await pool.unsafe("SELECT current_setting('eventflows.tenant') AS tenant");
    expect(row?.tenant).toBe("pool-wins");
  });
});
