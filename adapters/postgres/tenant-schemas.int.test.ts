import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { InvalidTenantError, isTenantId, tenantId, ulid, ValidationError } from "../../src/index.js";
import {
  collect,
  eventStoreContract,
  holdCommitIn,
  projectionContract,
  registerContract,
  snapshotStoreContract,
  untilHeadReadable,
} from "../../src/testing/index.js";
import { ensurePostgres, postgresTestClient, restrictedTestRole } from "../../test/services/postgres.ts";
import {
  appliedMigrations,
  createPostgresClient,
  dropTenantSchema,
  ensureTenantSchema,
  LATEST_SCHEMA_VERSION,
  listTenantSchemas,
  migrateTenantSchemas,
  PostgresEventStore,
  PostgresProjectionLock,
  PostgresReadModelStore,
  PostgresSnapshotStore,
  type PostgresSql,
  tenantSchemaName,
} from "./index.js";

// A schema prefix of this run's own, so listing finds only the tenants made here.
const schemaPrefix = `ts${ulid().toLowerCase().slice(-8)}_`;
const APPLICATION = `eventflows_${ulid().toLowerCase().slice(-8)}`;
let sql: PostgresSql;
let contractSchema: string;

beforeAll(async () => {
  // One pool for every tenant: schema per tenant needs no connection of its own.
  // A name of its own: the connection count below must not see other clients of the same server.
  sql = createPostgresClient(await ensurePostgres(), { max: 12, application_name: APPLICATION });
  contractSchema = await ensureTenantSchema(sql, "contract", { schemaPrefix });
});
afterAll(async () => {
  for (const { tenant } of await listTenantSchemas(sql, { schemaPrefix })) {
    await dropTenantSchema(sql, tenant, { schemaPrefix });
  }
  await sql.end();
});

registerContract(
  eventStoreContract({
    name: "PostgresEventStore contract in a tenant's schema",
    create: (options) => new PostgresEventStore({ ...options, sql, schema: contractSchema }),
    holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
  }),
  { describe, test },
);
registerContract(
  snapshotStoreContract({
    name: "PostgresSnapshotStore contract in a tenant's schema",
    create: (options) => new PostgresSnapshotStore({ ...options, sql, schema: contractSchema }),
  }),
  { describe, test },
);
registerContract(
  projectionContract({
    name: "projection contract in a tenant's schema",
    create: () => ({
      eventStore: new PostgresEventStore({ sql, schema: contractSchema }),
      readModels: new PostgresReadModelStore({ sql, schema: contractSchema }),
      lock: new PostgresProjectionLock({ sql, schema: contractSchema }),
    }),
  }),
  { describe, test },
);

describe("schema per tenant", () => {
  test("a new tenant's schema is created and migrated once, however many callers race for it", async () => {
    const tenant = `race-${ulid().toLowerCase().slice(-6)}`;
    const other = createPostgresClient(await ensurePostgres(), { max: 4 });
    try {
      // Two clients stand for two processes: each one's calls share one migration, and the
      // advisory lock makes the second process find the schema migrated.
      const schemas = await Promise.all([
        ...Array.from({ length: 5 }, () => ensureTenantSchema(sql, tenant, { schemaPrefix })),
        ...Array.from({ length: 5 }, () => ensureTenantSchema(other, tenant, { schemaPrefix })),
      ]);
      expect(new Set(schemas)).toEqual(new Set([`${schemaPrefix}${tenant.replace("-", "_")}`]));
      const applied = await appliedMigrations(sql, { schema: schemas[0] });
      expect(applied.map((m) => m.version)).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      await other.end();
    }
  });

  test("list, migrate all and drop tenants' schemas; a dropped tenant can be made again", async () => {
    const [a, b] = [`list-a-${ulid().toLowerCase().slice(-6)}`, `list-b-${ulid().toLowerCase().slice(-6)}`];
    await ensureTenantSchema(sql, a, { schemaPrefix });
    await ensureTenantSchema(sql, b, { schemaPrefix });
    const listed: string[] = (await listTenantSchemas(sql, { schemaPrefix })).map((t) => t.tenant);
    expect(listed).toContain(a);
    expect(listed).toContain(b);
    const migrated = await migrateTenantSchemas(sql, { schemaPrefix });
    expect(migrated.every((r) => r.applied.length === 0 && r.version === LATEST_SCHEMA_VERSION)).toBe(true);
    expect(migrated.map((r): string => r.tenant)).toEqual(listed);

    const store = new PostgresEventStore({ sql, schema: tenantSchemaName(a, { schemaPrefix }) });
    await store.appendToStream("Order-1", [{ type: "Placed", data: null }]);
    await dropTenantSchema(sql, a, { schemaPrefix });
    expect((await listTenantSchemas(sql, { schemaPrefix })).map((t) => t.tenant)).not.toContain(a);
    await dropTenantSchema(sql, a, { schemaPrefix }); // absent: nothing to do
    // Forgotten by this process too: ensuring it again migrates a new, empty schema.
    await ensureTenantSchema(sql, a, { schemaPrefix });
    expect(await store.getStreamVersion("Order-1")).toBe(0);
  });

  test("tenants share one pool, and the same stream id is a different stream in each", async () => {
    const tenants = Array.from({ length: 6 }, (_, i) => `pool-${i}-${ulid().toLowerCase().slice(-6)}`);
    const stores = await Promise.all(
      tenants.map(
        async (tenant) =>
          new PostgresEventStore({ sql, schema: await ensureTenantSchema(sql, tenant, { schemaPrefix }) }),
      ),
    );
    await Promise.all(stores.map((s, i) => s.appendToStream("Account-1", [{ type: "Opened", data: { i } }])));
    for (const [i, store] of stores.entries()) {
      expect((await collect(store.readStream("Account-1"))).map((e) => e.data)).toEqual([{ i }]);
      // Another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
      await untilHeadReadable(store);
      expect((await collect(store.readAll())).map((e) => e.data)).toEqual([{ i }]);
    }
    const [row] = await sql.unsafe("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [
      APPLICATION,
    ]);
    // This client's connections are at most its max, whatever the number of tenants.
    expect(row?.n).toBeGreaterThan(0);
    expect(row?.n).toBeLessThanOrEqual(12);
  });

  test("exactly the core's tenant ids are accepted, '-' as '_' in the name; anything else is an InvalidTenantError (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 60 }), (tenant) => {
        if (isTenantId(tenant)) {
          expect(tenantSchemaName(tenant)).toBe(`tenant_${tenant.replaceAll("-", "_")}`);
          return;
        }
        let refused: unknown;
        try {
          tenantSchemaName(tenant);
        } catch (error) {
          refused = error;
        }
        expect(refused).toBeInstanceOf(InvalidTenantError);
        expect(refused).toMatchObject({ code: "TENANT_INVALID" });
      }),
      { numRuns: 2000 },
    );
    for (const bad of ["acme_eu", "Acme", "-acme", "", "x".repeat(49)]) {
      expect(() => tenantSchemaName(bad)).toThrow(InvalidTenantError);
    }
    // The longest tenant id fits the default prefix; a prefix that makes the name pass 63 characters does not.
    expect(tenantSchemaName("x".repeat(48))).toBe(`tenant_${"x".repeat(48)}`);
    expect(() => tenantSchemaName("x".repeat(48), { schemaPrefix: "a_sixteen_chars_" })).toThrow(
      "Invalid PostgreSQL names",
    );
    expect(tenantSchemaName("acme")).toBe("tenant_acme");
    expect(tenantSchemaName("acme-eu-1")).toBe("tenant_acme_eu_1");
    expect(tenantSchemaName("acme", { schemaPrefix: "t_" })).toBe("t_acme");
  });

  test("an empty or malformed schema prefix is a ValidationError for naming, listing and migrating, before any query", async () => {
    // A client that must not be used: listing with "" took every schema named like a tenant id for a tenant's.
    const unused = (() => {
      throw new Error("no query may be sent");
    }) as unknown as PostgresSql;
    for (const schemaPrefix of ["", "Bad", "tenant-", "pg_t_", "x".repeat(63), 7 as unknown as string]) {
      const refusals: unknown[] = [];
      for (const run of [
        async () => tenantSchemaName("acme", { schemaPrefix }),
        () => listTenantSchemas(unused, { schemaPrefix }),
        () => migrateTenantSchemas(unused, { schemaPrefix }),
        () => ensureTenantSchema(unused, "acme", { schemaPrefix }),
      ]) {
        refusals.push(
          await run().then(
            () => "accepted",
            (error: unknown) => error,
          ),
        );
      }
      for (const refused of refusals) {
        expect(refused).toBeInstanceOf(ValidationError);
        expect((refused as ValidationError).issues.map((i) => i.path)).toEqual([["schemaPrefix"]]);
      }
    }
    expect(tenantSchemaName("a", { schemaPrefix: "x".repeat(62) })).toBe(`${"x".repeat(62)}a`);
  });

  test("options of null are no options, and a client that is not one is a ValidationError, not a TypeError", async () => {
    expect(tenantSchemaName("acme", null as never)).toBe("tenant_acme");
    const listed = await listTenantSchemas(sql, null as never);
    expect(listed.every((entry) => entry.schema.startsWith("tenant_"))).toBe(true);
    for (const client of [undefined, null, {}, "postgres://u:secret@h/db"]) {
      const notClient = client as unknown as PostgresSql;
      for (const run of [
        () => listTenantSchemas(notClient),
        () => migrateTenantSchemas(notClient),
        () => ensureTenantSchema(notClient, "acme"),
        () => dropTenantSchema(notClient, "acme"),
      ]) {
        const refused = await run().then(
          () => "accepted",
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(ValidationError);
        expect((refused as ValidationError).issues.map((i) => i.path)).toEqual([["sql"]]);
        expect(String((refused as Error).message)).not.toContain("secret");
      }
    }
  });

  test("two tenants never share a schema: distinct ids, distinct names (property)", () => {
    const tenantIds = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/);
    fc.assert(
      fc.property(tenantIds, tenantIds, (x, y) => {
        if (x !== y) expect(tenantSchemaName(x)).not.toBe(tenantSchemaName(y));
      }),
      { numRuns: 2000 },
    );
  });

  test("listing skips a schema with the prefix that the role may not use, and holds no migrations table", async () => {
    const admin = await postgresTestClient({ max: 1 });
    const role = await restrictedTestRole(admin, "ef_list");
    const app = createPostgresClient(role.url, { max: 2 });
    const prefix = `tl${ulid().toLowerCase().slice(-8)}_`;
    try {
      // Another application's schema under the same prefix, which the role may not use.
      await admin.unsafe(`CREATE SCHEMA ${prefix}settings`);
      const schema = await ensureTenantSchema(app, "acme", { schemaPrefix: prefix });
      expect(await listTenantSchemas(app, { schemaPrefix: prefix })).toEqual([{ tenant: tenantId("acme"), schema }]);
      expect((await migrateTenantSchemas(app, { schemaPrefix: prefix })).map((r) => r.schema)).toEqual([schema]);
    } finally {
      await app.end();
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${prefix}settings CASCADE`);
      await role.drop();
      await admin.end();
    }
  });

  test("listing leaves out a schema with the prefix that no tenant id maps to, one with '-' in its name included", async () => {
    const tenant = tenantId(`eu-${ulid().toLowerCase().slice(-6)}`);
    const schema = await ensureTenantSchema(sql, tenant, { schemaPrefix });
    // Made by hand (a quoted name): it reads back as the same tenant id, but tenantSchemaName never names it.
    const lookalike = `${schemaPrefix}${tenant}`;
    await sql.unsafe(`CREATE SCHEMA "${lookalike}"; CREATE TABLE "${lookalike}".migrations (version integer)`);
    try {
      const listed = (await listTenantSchemas(sql, { schemaPrefix })).filter((t) => t.tenant === tenant);
      expect(listed).toEqual([{ tenant, schema }]);
      const migrated = await migrateTenantSchemas(sql, { schemaPrefix });
      expect(migrated.map((r) => r.schema)).not.toContain(lookalike);
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${lookalike}" CASCADE`);
      await dropTenantSchema(sql, tenant, { schemaPrefix });
    }
  });

  test("listing maps each schema back to its tenant id, '_' as '-'", async () => {
    const tenant = tenantId(`eu-west-${ulid().toLowerCase().slice(-6)}`);
    const schema = await ensureTenantSchema(sql, tenant, { schemaPrefix });
    expect(schema).toBe(`${schemaPrefix}${tenant.replaceAll("-", "_")}`);
    expect(await listTenantSchemas(sql, { schemaPrefix })).toContainEqual({ tenant, schema });
    await dropTenantSchema(sql, tenant, { schemaPrefix });
  });
});
