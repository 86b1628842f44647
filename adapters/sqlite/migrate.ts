import { checkAppliedMigrations, ValidationError } from "../../src/index.js";
import { assertDriver, type SqliteDriver, type SqliteStatement } from "./driver.js";
import { guard, SERVICE } from "./errors.js";
import { checksum, LATEST_SQLITE_SCHEMA_VERSION, sqliteMigrations } from "./migrations.js";
import { NAME_OPTIONS, type SqliteNameOptions, type SqliteTableNames, tableNames } from "./names.js";

export interface SqliteMigrateOptions extends SqliteNameOptions {
  /**
   * Stop at this schema version (to test upgrades, or to roll out in steps). Defaults to the latest.
   * Migrations are never undone: a schema already past it is left as it is, and `version` says where it is.
   */
  readonly to?: number;
}

export interface SqliteMigrateResult {
  /** The versions this call applied, in order; empty when the schema was up to date. */
  readonly applied: readonly number[];
  /** The schema version after the call. */
  readonly version: number;
}

interface Recorded {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

const MIGRATE_OPTIONS = Object.keys({ ...NAME_OPTIONS, to: true } satisfies Record<keyof SqliteMigrateOptions, true>);

/**
 * Brings the schema to the latest version (or `to`). The pending migrations and their records run
 * as one batch (one transaction): a crash leaves the schema as it was. Two callers at once (two
 * processes starting) both plan the same batch; SQLite runs one after the other, the second fails
 * on the tables the first created and rolls back, and reading the records again shows it done (or,
 * if the winner stopped at a lower `to`, plans the rest again).
 * A recorded migration whose SQL no longer matches the shipped one stops the run.
 */
export async function migrateSqlite(
  driver: SqliteDriver,
  options?: SqliteMigrateOptions | null,
): Promise<SqliteMigrateResult> {
  assertDriver(driver);
  const names = tableNames(options, MIGRATE_OPTIONS);
  const target = options?.to ?? LATEST_SQLITE_SCHEMA_VERSION;
  if (!Number.isSafeInteger(target) || target < 0 || target > LATEST_SQLITE_SCHEMA_VERSION) {
    throw new ValidationError("Invalid migration target", [
      { path: ["to"], message: `to must be an integer from 0 to ${LATEST_SQLITE_SCHEMA_VERSION}` },
    ]);
  }
  const rendered = await Promise.all(
    sqliteMigrations.map(async (m) => {
      const statements = m.statements(names);
      return { version: m.version, name: m.name, statements, checksum: await checksum(statements) };
    }),
  );
  return guard("migrate", driver.name, async () => {
    await driver.all(
      `CREATE TABLE IF NOT EXISTS ${names.migrations} (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`,
    );
    /** The version found before the last failed batch: a failure with no progress since is not a race. */
    let failedAt: number | undefined;
    for (;;) {
      const recorded = await readRecorded(driver, names);
      checkAppliedMigrations(SERVICE, recorded, rendered);
      const current = recorded.reduce((max, m) => Math.max(max, m.version), 0);
      const pending = rendered.filter((m) => m.version > current && m.version <= target);
      if (pending.length === 0) return { applied: [], version: current };
      const now = new Date().toISOString();
      const batch: SqliteStatement[] = pending.flatMap((m) => [
        ...m.statements.map((sql) => ({ sql })),
        {
          sql: `INSERT INTO ${names.migrations} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
          params: [m.version, m.name, m.checksum, now],
        },
      ]);
      try {
        await driver.batch(batch);
        return { applied: pending.map((m) => m.version), version: pending[pending.length - 1]?.version ?? current };
      } catch (error) {
        // Another migrator won the race: the next read shows its records. Migrators with other targets
        // (`to`) can win one after another, so this goes on while the schema moves on between
        // failures (at most once per migration); a failure with nothing recorded since stands.
        if (failedAt === current) throw error;
        failedAt = current;
      }
    }
  });
}

/** The schema version in the database: 0 before the first migration. */
export async function sqliteSchemaVersion(driver: SqliteDriver, options?: SqliteNameOptions | null): Promise<number> {
  assertDriver(driver);
  const names = tableNames(options);
  return guard("schemaVersion", driver.name, async () => {
    const [exists] = await driver.all("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?", [
      names.migrations.slice(1, -1),
    ]);
    if (Number(exists?.n ?? 0) === 0) return 0;
    return (await readRecorded(driver, names)).reduce((max, m) => Math.max(max, m.version), 0);
  });
}

/** A migration recorded in `<prefix>migrations`, as {@link sqliteAppliedMigrations} lists it. */
export interface SqliteAppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  /** When it was applied: an ISO 8601 time. */
  readonly appliedAt: string;
}

/**
 * The migrations recorded in the database, by version; empty before the first. A schema newer than this
 * release lists the versions it does not know too, with the names they were recorded under.
 */
export async function sqliteAppliedMigrations(
  driver: SqliteDriver,
  options?: SqliteNameOptions | null,
): Promise<SqliteAppliedMigration[]> {
  assertDriver(driver);
  const names = tableNames(options);
  return guard("appliedMigrations", driver.name, async () => {
    const [exists] = await driver.all("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?", [
      names.migrations.slice(1, -1),
    ]);
    if (Number(exists?.n ?? 0) === 0) return [];
    const rows = await driver.all(
      `SELECT version, name, checksum, applied_at FROM ${names.migrations} ORDER BY version`,
    );
    return rows.map((row) => ({
      version: Number(row.version),
      name: String(row.name),
      checksum: String(row.checksum),
      appliedAt: String(row.applied_at),
    }));
  });
}

async function readRecorded(driver: SqliteDriver, names: SqliteTableNames): Promise<Recorded[]> {
  const rows = await driver.all(`SELECT version, name, checksum FROM ${names.migrations} ORDER BY version`);
  return rows.map((row) => ({ version: Number(row.version), name: String(row.name), checksum: String(row.checksum) }));
}
