import { ServiceError } from "../errors.js";

/** A migration as recorded in a database's migrations table, or as a store ships it. */
export interface MigrationRecord {
  readonly version: number;
  readonly name: string;
  /** SHA-256 (hex) of the migration's SQL as the store renders it. */
  readonly checksum: string;
}

/**
 * Checks what a database recorded against what the library ships, before migrating: a version the
 * library does not know means the database is newer (upgrade the library); a recorded checksum that
 * differs means the shipped SQL of an applied migration changed, and running on could corrupt data.
 * SQL stores (PostgreSQL, SQLite) call it inside their migration transaction.
 * @throws {ServiceError} `SCHEMA_TOO_NEW` or `MIGRATION_CHANGED`, never retryable.
 */
export function checkAppliedMigrations(
  service: string,
  recorded: readonly MigrationRecord[],
  shipped: readonly MigrationRecord[],
): void {
  const latest = Math.max(0, ...shipped.map((m) => m.version));
  for (const applied of recorded) {
    const known = shipped.find((m) => m.version === applied.version);
    if (known === undefined) {
      throw new ServiceError(
        service,
        "migrate",
        "SCHEMA_TOO_NEW",
        false,
        `the database has schema version ${applied.version}, newer than this library knows (${latest}); upgrade @eventflows/core`,
      );
    }
    if (known.checksum !== applied.checksum) {
      throw new ServiceError(
        service,
        "migrate",
        "MIGRATION_CHANGED",
        false,
        `migration ${applied.version} (${applied.name}) was applied with different SQL than this library ships; refusing to continue`,
      );
    }
  }
}
