import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ulid } from "../../src/index.js";
import { collect, untilHeadReadable } from "../../src/testing/index.js";
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
    // The rows committed before the upgrade; another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
    await untilHeadReadable(store);
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

  test("migration 12 on deletions made by schema 11: each row learns where its $stream-deleted event is; rows it cannot fill are still found", async () => {
    const schema = fresh("deletions12");
    await migrate(sql, { schema, to: 11 });
    // As a schema-11 store wrote them (this release's store writes event_version, which 11 lacks):
    // each lifecycle event in $streams in a transaction of its own, then the deletion row.
    const run = ulid().slice(-8);
    const [hard, again, soft] = [`Hard-${run}`, `Again-${run}`, `Soft-${run}`];
    const lifecycle: Record<string, { id: string; version: number }[]> = {};
    const record = async (tenant: string, type: string, data: Record<string, unknown>) => {
      const id = ulid();
      const [row] = await sql.begin((tx) =>
        tx.unsafe(
          `INSERT INTO ${schema}.events (global_position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at, tenant_id)
           SELECT (pg_current_xact_id()::text::bigint << ${POSITION_BITS}) + 1, pg_current_xact_id(), '$streams',
             coalesce((SELECT max(version) FROM ${schema}.events WHERE stream_id = '$streams' AND tenant_id = $4), 0) + 1,
             $1, $2, $3::text::jsonb, '{}'::jsonb, now(), $4
           RETURNING version`,
          [id, type, JSON.stringify(data), tenant],
        ),
      );
      const key = `${tenant}/${data.streamId}`;
      if (type === "$stream-deleted")
        lifecycle[key] = [...(lifecycle[key] ?? []), { id, version: Number(row?.version) }];
    };
    const deleted = async (tenant: string, streamId: string, mode: "soft" | "hard") => {
      await record(tenant, "$stream-deleted", { streamId, mode, version: 1, removed: mode === "hard" ? 1 : 0 });
      await sql.unsafe(
        `INSERT INTO ${schema}.stream_deletions (stream_id, tenant_id, mode, version) VALUES ($1, $2, $3, 1)
         ON CONFLICT (stream_id, tenant_id) DO UPDATE SET mode = excluded.mode`,
        [streamId, tenant, mode],
      );
    };
    await deleted("", hard, "hard");
    await deleted("", again, "soft");
    await record("", "$stream-restored", { streamId: again, version: 1, removed: 0 });
    await sql.unsafe(`DELETE FROM ${schema}.stream_deletions WHERE stream_id = $1`, [again]);
    await deleted("", soft, "soft");
    await deleted("", again, "soft"); // deleted a second time: its row is the second deletion's
    await deleted("", soft, "hard"); // soft, then hard: a second $stream-deleted
    // Another tenant's $streams (row-level-security tenancy) numbers its own versions: the same stream id there.
    await deleted("acme", `Other-${run}`, "soft");
    await deleted("acme", hard, "hard");
    for (let i = 0; i < 5; i++) await deleted("", `Later-${run}-${i}`, "hard");

    expect(await migrate(sql, { schema, to: 12 })).toEqual({ applied: [12], version: 12 });
    const rows = await sql.unsafe(
      `SELECT tenant_id, stream_id, event_version FROM ${schema}.stream_deletions ORDER BY tenant_id, stream_id`,
    );
    expect(rows.map((r) => [r.tenant_id, r.stream_id, r.event_version])).toEqual(
      Object.entries(lifecycle)
        .map(([key, events]) => [...key.split("/"), events.at(-1)?.version])
        .sort((a, b) => `${a[0]}/${a[1]}`.localeCompare(`${b[0]}/${b[1]}`)),
    );
    // A store without row-level security is the empty tenant's alone: the other tenant's rows go.
    await sql.unsafe(`DELETE FROM ${schema}.stream_deletions WHERE tenant_id = 'acme'`);
    const store = new PostgresEventStore({ sql, schema });
    for (const id of [hard, again, soft]) {
      expect((await store.streamDeletionEvent(id))?.id).toBe(lifecycle[`/${id}`]?.at(-1)?.id as string);
    }
    // A row with no version (an earlier release deleting after the migration) is found by the walk.
    await sql.unsafe(`UPDATE ${schema}.stream_deletions SET event_version = NULL WHERE stream_id = $1`, [again]);
    expect((await store.streamDeletionEvent(again))?.id).toBe(lifecycle[`/${again}`]?.at(-1)?.id as string);
    // This release's deletions record it, a soft deletion turned hard included.
    const fresh12 = `Fresh-${run}`;
    await store.appendToStream(fresh12, [{ type: "A", data: {} }]);
    const softly = await store.deleteStream(fresh12);
    const hardly = await store.deleteStream(fresh12, { mode: "hard" });
    const [mine] = await sql.unsafe(`SELECT event_version FROM ${schema}.stream_deletions WHERE stream_id = $1`, [
      fresh12,
    ]);
    expect(mine?.event_version).toBe(hardly.event?.version as number);
    expect(softly.event?.version).toBeLessThan(hardly.event?.version as number);
    expect((await store.streamDeletionEvent(fresh12))?.id).toBe(hardly.event?.id as string);
    await store.restoreStream(soft).catch(() => undefined); // hard: refused, the row stays
    expect((await store.streamDeletionEvent(soft))?.data).toMatchObject({ streamId: soft, mode: "hard" });
  });

  test("this release's store on schema 11 (not migrated yet): deleting or probing a deletion is a typed 'run the migrations', nothing half-written", async () => {
    const schema = fresh("behind12");
    await migrate(sql, { schema, to: 11 });
    const store = new PostgresEventStore({ sql, schema });
    const id = `Behind-${ulid()}`;
    await store.appendToStream(id, [{ type: "A", data: {} }]);
    for (const call of [() => store.deleteStream(id), () => store.streamDeletionEvent(id)]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42703", retryable: false });
      expect(String((error as Error).message)).toContain("run the migrations");
    }
    expect(await store.getStreamVersion(id)).toBe(1);
    expect(await store.getStreamVersion("$streams")).toBe(0);
    const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.stream_deletions`);
    expect(row?.n).toBe(0);
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
      [12, "stream-deletion-events"],
      [13, "soft-deletions-index"],
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

  // The usual least-privilege setup: an administrator makes the schema for the application's role
  // (CREATE SCHEMA app AUTHORIZATION app), and that role, which may create tables in its own schema
  // but not schemas in the database, migrates it. CREATE SCHEMA IF NOT EXISTS needs the database's
  // CREATE privilege even when the schema is there, and failed the first migrate() with 42501.
  test("a role that owns an empty schema but may not create schemas migrates it", async () => {
    const schema = fresh("owned");
    const role = await restrictedTestRole(sql, "owner");
    const [db] = await sql`SELECT current_database() AS d`;
    await sql.unsafe(`REVOKE CREATE ON DATABASE "${db?.d}" FROM ${role.name}`);
    await sql.unsafe(`CREATE SCHEMA ${schema} AUTHORIZATION ${role.name}`);
    const store = new PostgresEventStore({ url: role.url, schema });
    try {
      expect(await store.migrate()).toEqual({
        applied: migrations.map((m) => m.version),
        version: LATEST_SCHEMA_VERSION,
      });
      expect(await store.migrate()).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
      const appended = await store.appendToStream(`Owned-${ulid()}`, [{ type: "Appended", data: {} }]);
      expect(appended.nextExpectedVersion).toBe(1);
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
