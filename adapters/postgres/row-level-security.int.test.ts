import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { InvalidTenantError, isEventFlowsError, isTenantId, tenantId, ulid } from "../../src/index.js";
import {
  checkpointStoreContract,
  collect,
  dedupStoreContract,
  eventStoreContract,
  holdCommitIn,
  idempotencyStoreContract,
  projectionContract,
  registerContract,
  sagaStoreContract,
  snapshotStoreContract,
  streamDeletionContract,
  subjectKeyStoreContract,
  untilReadable,
} from "../../src/testing/index.js";
import {
  postgresTestClient,
  type RestrictedTestRole,
  restrictedTestRole,
  uniqueSchema,
} from "../../test/services/postgres.ts";
import { assertSharedStoreMatchesModel } from "../../test/tenancy/shared-store-model.ts";
import {
  createPostgresClient,
  enableRowLevelSecurity,
  migrate,
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
  rowLevelSecurityEnabled,
  tenantOf,
  tenantScopedSql,
} from "./index.js";
import { tableNames } from "./names.js";
import { statements } from "./statements.js";

// The application connects as a role that is neither superuser nor BYPASSRLS, and owns the tables
// (it ran the migrations), as most deployments do: FORCE ROW LEVEL SECURITY is what binds it.
const schema = uniqueSchema("rls");
let role: RestrictedTestRole | undefined;
let admin: PostgresSql;
let app: PostgresSql;
let appUrl: string;

beforeAll(async () => {
  admin = await postgresTestClient();
  role = await restrictedTestRole(admin, "ef_rls");
  appUrl = role.url;
  app = createPostgresClient(appUrl, { max: 12 });
  await migrate(app, { schema });
  await enableRowLevelSecurity(app, { schema });
});
afterAll(async () => {
  await app?.end();
  await admin?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await role?.drop();
  await admin?.end();
});

const scoped = (tenant: string) => tenantScopedSql(app, tenant);

registerContract(
  eventStoreContract({
    name: "PostgresEventStore contract on row-level-security tables (tenant contract-a)",
    create: (options) => new PostgresEventStore({ ...options, sql: scoped("contract-a"), schema }),
    holdCommit: (store) => holdCommitIn((work) => (store as PostgresEventStore).withTransaction(work)),
  }),
  { describe, test },
);
registerContract(
  streamDeletionContract({
    name: "PostgresEventStore stream deletion contract on row-level-security tables (tenant contract-a)",
    create: (options) => new PostgresEventStore({ ...options, sql: scoped("contract-a"), schema }),
  }),
  { describe, test },
);

describe("stream deletion on row-level-security tables", () => {
  test("defence in depth, model-based: two tenants' stores over one row-level-security tenant (shared by mistake) answer as each over a tenant of its own, but for refusals (fast-check)", async () => {
    // Each store made is an empty one: a tenant of the tables no other store names.
    const fresh = async () => new PostgresEventStore({ sql: scoped(`m${ulid().toLowerCase()}`), schema });
    await assertSharedStoreMatchesModel(fresh, 100);
  }, 120_000);

  test("the same stream id deleted in two tenants: each tenant's deletion row names its own $stream-deleted event, also after a walk", async () => {
    const [a, b] = [
      new PostgresEventStore({ sql: scoped("del-a"), schema }),
      new PostgresEventStore({ sql: scoped("del-b"), schema }),
    ];
    const id = `Shared-${ulid()}`;
    await a.appendToStream(id, [{ type: "A", data: {} }]);
    await b.appendToStream(id, [
      { type: "B", data: {} },
      { type: "B", data: {} },
    ]);
    // B's $streams gets ahead of A's: the versions the rows record differ.
    for (let i = 0; i < 3; i++) {
      await b.appendToStream(`${id}-${i}`, [{ type: "B", data: {} }]);
      await b.deleteStream(`${id}-${i}`);
    }
    const deletedA = await a.deleteStream(id, { mode: "hard" });
    const deletedB = await b.deleteStream(id);
    expect((await a.streamDeletionEvent(id))?.id).toBe(deletedA.event?.id as string);
    expect((await b.streamDeletionEvent(id))?.id).toBe(deletedB.event?.id as string);
    expect((await b.streamDeletionEvent(id))?.data).toMatchObject({ mode: "soft", version: 2 });
    // Rows of a release before migration 12 (none recorded): each tenant's walk finds its own.
    await admin.unsafe(`UPDATE ${schema}.stream_deletions SET event_version = NULL WHERE stream_id = $1`, [id]);
    expect((await a.streamDeletionEvent(id))?.id).toBe(deletedA.event?.id as string);
    expect((await b.streamDeletionEvent(id))?.id).toBe(deletedB.event?.id as string);
    await b.restoreStream(id);
    expect(await b.streamDeletionEvent(id)).toBeUndefined();
    expect((await a.streamDeletionEvent(id))?.id).toBe(deletedA.event?.id as string);
  });
});

registerContract(
  snapshotStoreContract({
    name: "PostgresSnapshotStore contract on row-level-security tables",
    create: (options) => new PostgresSnapshotStore({ ...options, sql: scoped("contract-a"), schema }),
  }),
  { describe, test },
);
registerContract(
  checkpointStoreContract({
    name: "PostgresCheckpointStore contract on row-level-security tables",
    create: () => new PostgresCheckpointStore({ sql: scoped("contract-a"), schema }),
  }),
  { describe, test },
);
registerContract(
  projectionContract({
    name: "projection contract on row-level-security tables (read models, checkpoints, leases of one tenant)",
    create: () => {
      const sql = scoped("contract-a");
      return {
        eventStore: new PostgresEventStore({ sql, schema }),
        readModels: new PostgresReadModelStore({ sql, schema }),
        lock: new PostgresProjectionLock({ sql, schema }),
      };
    },
  }),
  { describe, test },
);

// The other stores of tenant data, on the same tables: each contract as one tenant.
registerContract(
  sagaStoreContract({
    name: "PostgresSagaStore contract on row-level-security tables",
    create: (settings) => new PostgresSagaStore({ sql: scoped("contract-a"), schema, ...settings }),
  }),
  { describe, test },
);
registerContract(
  dedupStoreContract({
    name: "PostgresDedupStore contract on row-level-security tables",
    create: (settings) => new PostgresDedupStore({ sql: scoped("contract-a"), schema, ...settings }),
  }),
  { describe, test },
);
registerContract(
  idempotencyStoreContract({
    name: "PostgresIdempotencyStore contract on row-level-security tables",
    create: (settings) => new PostgresIdempotencyStore({ sql: scoped("contract-a"), schema, ...settings }),
  }),
  { describe, test },
);
let masterKey: CryptoKey;
beforeAll(async () => {
  masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ])) as CryptoKey;
});
registerContract(
  subjectKeyStoreContract({
    name: "PostgresSubjectKeyStore contract on row-level-security tables",
    create: (settings) => new PostgresSubjectKeyStore({ sql: scoped("contract-a"), schema, masterKey, ...settings }),
  }),
  { describe, test },
);

/** Runs a psql script as the application role; psql's exit status, output and errors. */
function psql(script: string) {
  const run = spawnSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", appUrl], {
    input: script,
    encoding: "utf8",
  });
  if (run.error) throw run.error;
  return { status: run.status, out: run.stdout.trim().split("\n"), err: run.stderr };
}

const asTenant = (tenant: string, body: string) =>
  `BEGIN;\nSELECT set_config('eventflows.tenant', '${tenant}', true) \\g /dev/null\n${body}\nCOMMIT;\n`;

describe("row-level security, checked with psql as the application role", () => {
  test("tenant A reads, updates and deletes none of B's rows, and cannot insert or move rows into B", async () => {
    const [a, b] = [`psql-a-${ulid().toLowerCase()}`, `psql-b-${ulid().toLowerCase()}`];
    const stream = `Order-${ulid()}`;
    // B's rows in every kind of table the stores write.
    await new PostgresEventStore({ sql: scoped(b), schema }).appendToStream(stream, [
      { type: "Placed", data: { n: 1 } },
    ]);
    await new PostgresSnapshotStore({ sql: scoped(b), schema }).save({ streamId: stream, version: 1, state: { n: 1 } });
    await new PostgresCheckpointStore({ sql: scoped(b), schema }).store("orders", 7);
    await new PostgresEventStore({ sql: scoped(a), schema }).appendToStream(stream, [
      { type: "Placed", data: { n: 2 } },
    ]);

    const tables = ["events", "snapshots", "checkpoints"];
    const reads = psql(
      asTenant(
        a,
        tables
          .flatMap((t) => [
            `SELECT count(*) FROM ${schema}.${t} WHERE tenant_id = '${b}';`,
            `WITH u AS (UPDATE ${schema}.${t} SET tenant_id = tenant_id WHERE tenant_id = '${b}' RETURNING 1) SELECT count(*) FROM u;`,
            `WITH d AS (DELETE FROM ${schema}.${t} WHERE tenant_id = '${b}' RETURNING 1) SELECT count(*) FROM d;`,
          ])
          .concat(`SELECT count(*) FROM ${schema}.events WHERE stream_id = '${stream}';`)
          .join("\n"),
      ),
    );
    expect(reads.err).toBe("");
    expect(reads.status).toBe(0);
    // Nine zeros (B's rows are invisible to every statement), then A's own one event of the stream.
    expect(reads.out).toEqual([...Array(9).fill("0"), "1"]);

    const insert = psql(
      asTenant(a, `INSERT INTO ${schema}.checkpoints (id, position, tenant_id) VALUES ('forged', 1, '${b}');`),
    );
    expect(insert.status).toBe(3);
    expect(insert.err).toContain("row-level security");
    const move = psql(asTenant(a, `UPDATE ${schema}.events SET tenant_id = '${b}' WHERE stream_id = '${stream}';`));
    expect(move.status).toBe(3);
    expect(move.err).toContain("row-level security");

    // Without a tenant: nothing visible, nothing writable.
    const none = psql(`SELECT count(*) FROM ${schema}.events;\n`);
    expect(none.out).toEqual(["0"]);
    const blind = psql(`INSERT INTO ${schema}.checkpoints (id, position) VALUES ('no-tenant', 1);\n`);
    expect(blind.status).toBe(3);
    expect(blind.err).toContain("row-level security");

    // The rows are there: the superuser (which bypasses row-level security) sees both tenants'.
    const [count] = await admin.unsafe(`SELECT count(*)::int AS n FROM ${schema}.events WHERE stream_id = $1`, [
      stream,
    ]);
    expect(count?.n).toBe(2);
  });

  test("every tenant table enforces its policies on the owner too", async () => {
    expect(await rowLevelSecurityEnabled(app, { schema })).toBe(true);
    const rows = await admin.unsafe(
      `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT (relrowsecurity AND relforcerowsecurity) ORDER BY relname`,
      [schema],
    );
    expect(rows.map((r) => r.relname)).toEqual(["migrations"]);
  });
});

describe("row-level security through the library API", () => {
  test("the same stream id, checkpoint id and snapshot are one per tenant; crafted ids and positions reach nothing of another tenant", async () => {
    const [a, b] = [`api-a-${ulid().toLowerCase()}`, `api-b-${ulid().toLowerCase()}`];
    const storeA = new PostgresEventStore({ sql: scoped(a), schema });
    const storeB = new PostgresEventStore({ sql: scoped(b), schema });
    const stream = `Account-${ulid()}`;
    const written = await storeA.appendToStream(stream, [
      { type: "Opened", data: { secret: "a" } },
      { type: "Deposited", data: { secret: "a" } },
    ]);
    // A's events readable before the feed reads below, so that B's empty read is B's scope, not a
    // lagging feed: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
    await untilReadable(storeA, written);
    // B sees no stream there, and its own append to that id starts at version 1.
    expect(await storeB.getStreamVersion(stream)).toBe(0);
    expect(await storeB.streamExists(stream)).toBe(false);
    expect(await collect(storeB.readStream(stream))).toEqual([]);
    const own = await storeB.appendToStream(stream, [{ type: "Opened", data: { secret: "b" } }], {
      expectedVersion: "no-stream",
    });
    expect(own.nextExpectedVersion).toBe(1);
    expect((await collect(storeB.readStream(stream))).map((e) => e.data)).toEqual([{ secret: "b" }]);
    expect((await collect(storeA.readStream(stream))).map((e) => e.data)).toEqual([{ secret: "a" }, { secret: "a" }]);

    // The global feed from just before A's events, and from 0: none of A's.
    const position = written.events[0]?.globalPosition ?? 0;
    for (const from of [0, position - 1, position]) {
      const seen = await collect(storeB.readAll({ after: from }));
      expect(seen.some((e) => e.streamId === stream && (e.data as { secret?: string }).secret === "a")).toBe(false);
    }
    const feedA = await collect(storeA.readAll({ after: position - 1 }));
    expect(feedA.map((e) => e.globalPosition)).toEqual(written.events.map((e) => e.globalPosition));

    // Stream ids that try to break out of the parameter change nothing.
    for (const crafted of [`${stream}' OR tenant_id <> '`, `${stream}%`, `${stream}\u0000`.slice(0, -1)]) {
      expect(await storeB.getStreamVersion(crafted)).toBe(crafted === stream ? 1 : 0);
    }

    const [checkpointsA, checkpointsB] = [a, b].map((t) => new PostgresCheckpointStore({ sql: scoped(t), schema }));
    await checkpointsA?.store("billing", 42);
    expect(await checkpointsB?.load("billing")).toBeUndefined();
    await checkpointsB?.store("billing", 5);
    expect(await checkpointsA?.load("billing")).toBe(42);

    const [snapshotsA, snapshotsB] = [a, b].map((t) => new PostgresSnapshotStore({ sql: scoped(t), schema }));
    await snapshotsA?.save({ streamId: stream, version: 2, state: { balance: 100 } });
    expect(await snapshotsB?.load(stream)).toBeUndefined();
  });

  test("any stream id one tenant writes is invisible to another (property)", async () => {
    const [a, b] = [`prop-a-${ulid().toLowerCase()}`, `prop-b-${ulid().toLowerCase()}`];
    const storeA = new PostgresEventStore({ sql: scoped(a), schema });
    const storeB = new PostgresEventStore({ sql: scoped(b), schema });
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }).filter((s) => !s.includes("\u0000")),
        async (suffix) => {
          const stream = `P-${ulid()}-${suffix}`;
          await storeA.appendToStream(stream, [{ type: "Happened", data: null }]);
          expect(await storeB.getStreamVersion(stream)).toBe(0);
          expect(await storeB.streamExists(stream)).toBe(false);
        },
      ),
      { numRuns: 25 },
    );
  });

  test("a store without a tenant on these tables fails closed: it reads nothing and writes nothing", async () => {
    const tenant = `closed-${ulid().toLowerCase()}`;
    const stream = `Closed-${ulid()}`;
    const tenantStore = new PostgresEventStore({ sql: scoped(tenant), schema });
    // Readable to its tenant first, so that the unscoped empty read below is the policy, not a lagging feed.
    await untilReadable(tenantStore, await tenantStore.appendToStream(stream, [{ type: "A", data: null }]));
    const unscoped = new PostgresEventStore({ sql: app, schema });
    expect(await unscoped.getStreamVersion(stream)).toBe(0);
    expect(await collect(unscoped.readAll({ after: 0 }))).toEqual([]);
    const refused = await unscoped.appendToStream(`Other-${ulid()}`, [{ type: "A", data: null }]).catch((e) => e);
    expect(isEventFlowsError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42501", retryable: false });
    expect(String((refused as Error).message)).toContain("tenantScopedSql(sql, tenant)");
    expect(String((refused as Error).message)).not.toContain("INSERT");
    const checkpoint = await new PostgresCheckpointStore({ sql: app, schema }).store("x", 1).catch((e) => e);
    expect(isEventFlowsError(checkpoint)).toBe(true);
    const [rows] = await admin.unsafe(`SELECT count(*)::int AS n FROM ${schema}.events WHERE tenant_id = ''`);
    expect(rows?.n).toBe(0);
  });

  test("the append is planned once per connection, not on every call", async () => {
    // A custom plan per call (what the append got on these tables while its cur subquery was
    // pulled up, see appendAlone) costs a planning run each time; a cached generic plan does not.
    const one = createPostgresClient(appUrl, { max: 1 });
    try {
      const store = new PostgresEventStore({ sql: tenantScopedSql(one, "plan"), schema });
      for (let i = 0; i < 12; i++) {
        // One event takes appendOne, two appendAlone: each is planned generically after five custom runs.
        await store.appendToStream(`Plan-${i % 3}`, [{ type: "A", data: { i } }]);
        await store.appendToStream(`Plan-${i % 3}`, [
          { type: "A", data: { i } },
          { type: "B", data: { i } },
        ]);
      }
      // The reserved connections and this statement are one and the same connection (max: 1).
      const { appendAlone, appendOne } = statements(tableNames({ schema }));
      for (const statement of [appendAlone, appendOne]) {
        const [plans] = await one.unsafe(
          "SELECT generic_plans::integer AS generic, custom_plans::integer AS custom FROM pg_prepared_statements WHERE statement = $1",
          [statement],
        );
        expect(plans?.generic).toBeGreaterThan(0);
        expect(plans?.custom).toBeLessThanOrEqual(5);
      }
    } finally {
      await one.end();
    }
  });

  test("each tenant's run of a projection holds a lease of its own", async () => {
    const name = `lease-${ulid()}`;
    const [a, b] = [`lease-a-${ulid().toLowerCase()}`, `lease-b-${ulid().toLowerCase()}`];
    const lockA = new PostgresProjectionLock({ sql: scoped(a), schema });
    const lockB = new PostgresProjectionLock({ sql: scoped(b), schema });
    const lockA2 = new PostgresProjectionLock({ sql: scoped(a), schema });
    try {
      expect(await lockA.acquire(name, "a", 10_000)).toBe(true);
      expect(await lockB.acquire(name, "b", 10_000)).toBe(true);
      // The same tenant competing for it is refused while A holds it.
      expect(await lockA2.acquire(name, "a2", 10_000)).toBe(false);
    } finally {
      await lockA.release(name, "a");
      await lockB.release(name, "b");
    }
  });

  test("only the core's tenant ids are accepted, refused as by tenantId(); bad clients and reserve() are refused", () => {
    for (const bad of ["", "Acme", "acme_eu", "-acme", "a:b", "x".repeat(49), 7 as unknown as string]) {
      let refused: unknown;
      try {
        tenantScopedSql(app, bad);
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(InvalidTenantError);
      expect(refused).toMatchObject({ code: "TENANT_INVALID" });
    }
    expect(tenantOf(scoped("acme-eu-1"))).toBe(tenantId("acme-eu-1"));
    expect(() => tenantScopedSql({} as PostgresSql, "a")).toThrow("Invalid tenant-scoped client");
    expect(() => scoped("a").reserve()).toThrow("reserved connection");
    expect(tenantOf(scoped("acme"))).toBe(tenantId("acme"));
    expect(tenantOf(app)).toBeUndefined();
  });

  test("property: a value is accepted exactly when tenantId() accepts it, and sets itself as the tenant", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,50}$/)), (value) => {
        let client: PostgresSql | undefined;
        try {
          client = tenantScopedSql(app, value);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidTenantError);
        }
        expect(client !== undefined).toBe(isTenantId(value));
        if (client !== undefined) expect(tenantOf(client)).toBe(tenantId(value));
      }),
      { numRuns: 2000 },
    );
  });
});
