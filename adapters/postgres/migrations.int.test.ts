import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ulid } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { postgresTestClient, restrictedTestRole, uniqueSchema } from "../../test/services/postgres.ts";
import {
  appliedMigrations,
  LATEST_SCHEMA_VERSION,
  migrate,
  migrations,
  POSITION_BITS,
  PostgresCheckpointStore,
  PostgresEventStore,
  type PostgresSql,
  schemaVersion,
} from "./index.js";

let sql: PostgresSql;
const schemas: string[] = [];
const fresh = (label: string) => {
  const name = uniqueSchema(label);
  schemas.push(name);
  return name;
};

beforeAll(async () => {
  sql = await postgresTestClient({ max: 10 });
});
afterAll(async () => {
  for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

async function tablesIn(schema: string): Promise<string[]> {
  const rows = await sql`SELECT tablename FROM pg_tables WHERE schemaname = ${schema} ORDER BY tablename`;
  return rows.map((row) => String(row.tablename));
}

describe("migrations", () => {
  test("re-running prints nothing: no 'already exists, skipping' NOTICEs reach the client", async () => {
    const notices: unknown[] = [];
    const listening = await postgresTestClient({ max: 1, onnotice: (notice) => notices.push(notice) });
    try {
      const schema = fresh("notices");
      await migrate(listening, { schema });
      await migrate(listening, { schema });
      expect(notices).toEqual([]);
      // The setting is local to the migration's transaction: the client's own statements still get NOTICEs.
      await listening.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      expect(notices).toHaveLength(1);
    } finally {
      await listening.end();
    }
  });

  test("upgrade an older schema that holds data: the events survive and the store carries on", async () => {
    const schema = fresh("upgrade");
    expect(await migrate(sql, { schema, to: 1 })).toEqual({ applied: [1], version: 1 });
    expect(await tablesIn(schema)).toEqual(["events", "migrations"]);
    // Written as a schema-1 store wrote them: the store of today appends and reads only on the latest schema.
    const streams = [`Order-${ulid()}`, `Order-${ulid()}`];
    const written: { id: string; streamId: string; version: number; type: string; data: unknown }[] = [];
    for (const stream of streams) {
      const batch = [
        {
          type: "OrderPlaced",
          data: { total: 12.5, lines: [{ sku: "a", qty: 2 }] },
          metadata: { correlationId: "c1" },
        },
        { type: "OrderPaid", data: { method: "card" }, metadata: {} },
      ];
      await sql.begin(async (tx) => {
        for (const [i, event] of batch.entries()) {
          const id = ulid();
          await tx.unsafe(
            `INSERT INTO ${schema}.events (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
             VALUES ((pg_current_xact_id()::text::bigint << ${POSITION_BITS}) + $1, pg_current_xact_id(), $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb, now())`,
            [i + 1, stream, i + 1, id, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata)],
          );
          written.push({ id, streamId: stream, version: i + 1, type: event.type, data: event.data });
        }
      });
    }
    const store = new PostgresEventStore({ sql, schema });

    expect(await migrate(sql, { schema })).toEqual({
      applied: migrations.filter((m) => m.version > 1).map((m) => m.version),
      version: LATEST_SCHEMA_VERSION,
    });
    const checks = await sql`
      SELECT conname FROM pg_constraint WHERE conrelid = ${`${schema}.events`}::regclass AND contype = 'c' ORDER BY conname`;
    expect(checks.map((c) => c.conname)).toEqual(["events_position_not_below_transaction", "events_version_positive"]);
    expect(await tablesIn(schema)).toEqual([
      "checkpoints",
      "dedup",
      "events",
      "idempotency_keys",
      "migrations",
      "read_models",
      "saga_failures",
      "saga_handled",
      "saga_outbox",
      "saga_timeouts",
      "sagas",
      "snapshots",
      "stream_deletions",
      "subject_keys",
    ]);
    const afterUpgrade = await collect(store.readAll());
    expect(
      afterUpgrade.map(({ id, streamId, version, type, data }) => ({ id, streamId, version, type, data })),
    ).toEqual(written);
    const next = await store.appendToStream(streams[0] ?? "", [{ type: "OrderShipped", data: {} }], {
      expectedVersion: 2,
    });
    expect(next.nextExpectedVersion).toBe(3);
    const checkpoints = new PostgresCheckpointStore({ sql, schema });
    await checkpoints.store("after-upgrade", next.events[0]?.globalPosition ?? 0);
    expect(await checkpoints.load("after-upgrade")).toBe(next.events[0]?.globalPosition);
  });

  test("running them again does nothing; what ran is recorded with checksums", async () => {
    const schema = fresh("again");
    const first = await migrate(sql, { schema });
    expect(first.applied).toEqual(migrations.map((m) => m.version));
    expect(await migrate(sql, { schema })).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
    const applied = await appliedMigrations(sql, { schema });
    expect(applied.map((m) => [m.version, m.name])).toEqual([
      [1, "events"],
      [2, "checkpoints"],
      [3, "snapshots"],
      [4, "dedup-and-idempotency"],
      [5, "stream-order"],
      [6, "read-models"],
      [7, "sagas"],
      [8, "subject-keys"],
      [9, "tenant-column"],
      [10, "stream-deletions"],
      [11, "idempotency-claim-tokens"],
    ]);
    for (const m of applied) {
      expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(Number.isNaN(Date.parse(m.appliedAt))).toBe(false);
    }
    expect(await schemaVersion(sql, { schema })).toBe(LATEST_SCHEMA_VERSION);
    expect(await schemaVersion(sql, { schema: fresh("never") })).toBe(0);
  });

  test("instances migrating at once: the lock lets one apply each migration, the others find nothing to do", async () => {
    const schema = fresh("concurrent");
    const results = await Promise.all(Array.from({ length: 6 }, () => migrate(sql, { schema })));
    const applied = results.flatMap((r) => r.applied).sort();
    expect(applied).toEqual(migrations.map((m) => m.version).sort());
    expect(results.every((r) => r.version === LATEST_SCHEMA_VERSION)).toBe(true);
  });

  // The docs' advice: `await store.migrate()` at start-up, from every instance. An application role that
  // may read and write but not create (an administrator migrated) failed it even with nothing to do:
  // CREATE SCHEMA / TABLE IF NOT EXISTS need the privilege whether or not the object exists.
  test("a role that may not create anything: migrate() on an up-to-date schema does nothing and succeeds; with work to do, a typed refusal", async () => {
    const schema = fresh("nocreate");
    await migrate(sql, { schema, to: LATEST_SCHEMA_VERSION - 1 });
    const role = await restrictedTestRole(sql, "nocreate");
    await sql.unsafe(
      `REVOKE CREATE ON DATABASE "${(await sql`SELECT current_database() AS d`)[0]?.d}" FROM ${role.name}`,
    );
    await sql.unsafe(`GRANT USAGE ON SCHEMA ${schema} TO ${role.name}`);
    await sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role.name}`);
    const store = new PostgresEventStore({ url: role.url, schema });
    try {
      // One migration behind: the role cannot apply it. A typed, non-retryable refusal, nothing applied.
      const refused = await store.migrate().catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42501", retryable: false });
      expect(await schemaVersion(sql, { schema })).toBe(LATEST_SCHEMA_VERSION - 1);
      // An administrator migrates; the application's start-up migrate() then finds nothing to do.
      await migrate(sql, { schema });
      await sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role.name}`);
      expect(await store.migrate()).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
      const appended = await store.appendToStream(`NoCreate-${ulid()}`, [{ type: "Appended", data: {} }]);
      expect(appended.nextExpectedVersion).toBe(1);
      // A schema that does not exist yet cannot be made by it: the same typed refusal.
      const elsewhere = new PostgresEventStore({ url: role.url, schema: fresh("nocreate_new") });
      expect(await elsewhere.migrate().catch((error: unknown) => error)).toMatchObject({ serviceCode: "42501" });
      await elsewhere.close();
    } finally {
      await store.close();
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await role.drop();
    }
  });

  test("a recorded migration whose SQL changed stops the run, and nothing is applied", async () => {
    const schema = fresh("changed");
    await migrate(sql, { schema, to: 1 });
    await sql.unsafe(`UPDATE ${schema}.migrations SET checksum = 'edited' WHERE version = 1`);
    await expect(migrate(sql, { schema })).rejects.toMatchObject({
      code: "SERVICE_ERROR",
      serviceCode: "MIGRATION_CHANGED",
      retryable: false,
    });
    expect(await tablesIn(schema)).toEqual(["events", "migrations"]);
  });

  test("a database newer than the library is refused", async () => {
    const schema = fresh("newer");
    await migrate(sql, { schema });
    await sql.unsafe(`INSERT INTO ${schema}.migrations (version, name, checksum) VALUES (99, 'future', 'x')`);
    await expect(migrate(sql, { schema })).rejects.toMatchObject({ serviceCode: "SCHEMA_TOO_NEW" });
  });

  test("bad targets and names are refused before anything is created", async () => {
    for (const to of [-1, LATEST_SCHEMA_VERSION + 1, 1.5, Number.NaN]) {
      await expect(migrate(sql, { schema: fresh("bad_to"), to })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    for (const names of [
      { schema: "Upper" },
      { schema: "semi;colon" },
      { schema: 'quo"te' },
      { schema: "" },
      { schema: "pg_catalog" },
      { schema: "x".repeat(64) },
      { tablePrefix: "has space" },
      { tablePrefix: "9starts_with_digit" },
      { tablePrefix: "x".repeat(31) },
    ]) {
      await expect(migrate(sql, names)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      expect(() => new PostgresEventStore({ sql, ...names })).toThrow("Invalid PostgreSQL event store options");
    }
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('Upper', 'semi;colon')`;
    expect(row?.n).toBe(0);
  });

  test("a store on a database that was never migrated says what to do", async () => {
    const store = new PostgresEventStore({ sql, schema: fresh("unmigrated") });
    const error = await store.appendToStream(`S-${ulid()}`, [{ type: "A", data: {} }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42P01", retryable: false });
    expect(String((error as Error).message)).toContain("run the migrations");
  });

  test("table prefixes keep two stores in one schema apart", async () => {
    const schema = fresh("prefixes");
    const billing = new PostgresEventStore({ sql, schema, tablePrefix: "billing_" });
    const shipping = new PostgresEventStore({ sql, schema, tablePrefix: "shipping_" });
    await billing.migrate();
    await shipping.migrate();
    expect(await tablesIn(schema)).toEqual([
      "billing_checkpoints",
      "billing_dedup",
      "billing_events",
      "billing_idempotency_keys",
      "billing_migrations",
      "billing_read_models",
      "billing_saga_failures",
      "billing_saga_handled",
      "billing_saga_outbox",
      "billing_saga_timeouts",
      "billing_sagas",
      "billing_snapshots",
      "billing_stream_deletions",
      "billing_subject_keys",
      "shipping_checkpoints",
      "shipping_dedup",
      "shipping_events",
      "shipping_idempotency_keys",
      "shipping_migrations",
      "shipping_read_models",
      "shipping_saga_failures",
      "shipping_saga_handled",
      "shipping_saga_outbox",
      "shipping_saga_timeouts",
      "shipping_sagas",
      "shipping_snapshots",
      "shipping_stream_deletions",
      "shipping_subject_keys",
    ]);
    const stream = `Shared-${ulid()}`;
    await billing.appendToStream(stream, [{ type: "Billed", data: {} }]);
    expect(await shipping.getStreamVersion(stream)).toBe(0);
    expect(await billing.getStreamVersion(stream)).toBe(1);
  });

  test("the docs' migrations table lists every migration that ships, by version and name", () => {
    const page = readFileSync(join(import.meta.dirname, "..", "..", "docs", "adapters", "postgres.md"), "utf8");
    const listed = [...page.matchAll(/^\|\s+(\d+) \| `([a-z-]+)`\s+\|/gm)].map((m) => [Number(m[1]), m[2]]);
    expect(listed).toEqual(migrations.map((m) => [m.version, m.name]));
  });
});
