import { checkAppliedMigrations, ValidationError } from "../../src/index.js";
import type { PostgresSql } from "./client.js";
import { guard, SERVICE } from "./errors.js";
import { checksum, LATEST_SCHEMA_VERSION, type Migration, migrations } from "./migrations.js";
import { NAME_OPTIONS, type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
import { beginUnlessGone } from "./transaction-scope.js";

export interface MigrateOptions extends PostgresNameOptions {
  /**
   * Stop at this schema version (to test upgrades, or to roll out in steps). Defaults to the latest.
   * Migrations are never undone: a schema already past it is left as it is, and `version` says where it is.
   */
  readonly to?: number;
}

const MIGRATE_OPTIONS = Object.keys({ ...NAME_OPTIONS, to: true } satisfies Record<keyof MigrateOptions, true>);

export interface MigrateResult {
  /** The versions this call applied, in order; empty when the schema was up to date. */
  readonly applied: readonly number[];
  /** The schema version after the call. */
  readonly version: number;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: string;
}

/**
 * Brings the schema to the latest version (or `to`). Every pending migration runs in one
 * transaction under an advisory lock, so concurrent callers (several instances starting at once)
 * apply each migration once and the others wait, then find nothing to do. Each applied migration
 * is recorded with a checksum; a recorded one that no longer matches the shipped SQL stops the run.
 */
export async function migrate(sql: PostgresSql, options: MigrateOptions = {}): Promise<MigrateResult> {
  const names = tableNames(options, MIGRATE_OPTIONS);
  const target = options.to ?? LATEST_SCHEMA_VERSION;
  if (!Number.isSafeInteger(target) || target < 0 || target > LATEST_SCHEMA_VERSION) {
    throw new ValidationError("Invalid migration target", [
      { path: ["to"], message: `to must be an integer from 0 to ${LATEST_SCHEMA_VERSION}` },
    ]);
  }
  const rendered = await Promise.all(migrations.map(async (m) => render(m, names)));
  return guard("migrate", () =>
    beginUnlessGone(sql, undefined, async (tx) => {
      // "already exists, skipping" NOTICEs on every re-run are noise (postgres.js prints them by default).
      await tx`SET LOCAL client_min_messages = warning`;
      await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`eventflows:${names.schema}:migrations`}, 0))`;
      // Only when missing: CREATE ... IF NOT EXISTS needs the CREATE privilege even when there is
      // nothing to create, and an application's role (which may read and write, not change the
      // schema) runs migrate() at start-up to find the schema up to date; and a role given a schema
      // of its own (CREATE SCHEMA app AUTHORIZATION app) may not create schemas in the database.
      const [found] = await tx.unsafe(
        "SELECT to_regclass($1) IS NOT NULL AS present, to_regnamespace($2) IS NOT NULL AS schema",
        [names.migrations, names.schema],
      );
      if (found?.present !== true) {
        if (found?.schema !== true) await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema}`);
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${names.migrations} (
             version integer PRIMARY KEY,
             name text NOT NULL,
             checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())`,
        );
      }
      const recorded = await readApplied(tx, names);
      checkAppliedMigrations(SERVICE, recorded, rendered);
      const current = recorded.length === 0 ? 0 : Math.max(...recorded.map((m) => m.version));
      const applied: number[] = [];
      for (const migration of rendered) {
        if (migration.version <= current || migration.version > target) continue;
        await tx.unsafe(migration.text);
        await tx.unsafe(`INSERT INTO ${names.migrations} (version, name, checksum) VALUES ($1, $2, $3)`, [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        applied.push(migration.version);
      }
      return { applied, version: Math.max(current, ...applied) };
    }),
  );
}

/** The migrations recorded in the database, oldest first; empty when none ever ran. */
export async function appliedMigrations(
  sql: PostgresSql,
  options: PostgresNameOptions = {},
): Promise<AppliedMigration[]> {
  const names = tableNames(options);
  return guard("appliedMigrations", async () => {
    const [exists] = await sql.unsafe("SELECT to_regclass($1) IS NOT NULL AS present", [names.migrations]);
    return exists?.present === true ? readApplied(sql, names) : [];
  });
}

/** The schema version in the database: 0 before the first migration. */
export async function schemaVersion(sql: PostgresSql, options: PostgresNameOptions = {}): Promise<number> {
  const applied = await appliedMigrations(sql, options);
  return applied.reduce((max, m) => Math.max(max, m.version), 0);
}

interface Rendered {
  readonly version: number;
  readonly name: string;
  readonly text: string;
  readonly checksum: string;
}

async function render(migration: Migration, names: TableNames): Promise<Rendered> {
  const text = migration.sql(names);
  return { version: migration.version, name: migration.name, text, checksum: await checksum(text) };
}

async function readApplied(sql: Pick<PostgresSql, "unsafe">, names: TableNames): Promise<AppliedMigration[]> {
  const rows = await sql.unsafe(
    `SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS applied_at
       FROM ${names.migrations} ORDER BY version`,
  );
  return rows.map((row) => ({
    version: Number(row.version),
    name: String(row.name),
    checksum: String(row.checksum),
    appliedAt: String(row.applied_at),
  }));
}
