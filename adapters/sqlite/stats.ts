import type { SqliteDriver } from "./driver.js";
import { guard } from "./errors.js";
import { sqliteSchemaVersion } from "./migrate.js";
import { type SqliteNameOptions, tableNames } from "./names.js";

/** What `eventflows stats sqlite` prints: the size of an event store. */
export interface SqliteStoreStats {
  /** The schema version in the database: 0 before the first migration (then every count is 0). */
  readonly schemaVersion: number;
  readonly events: number;
  readonly streams: number;
  /** The global position of the newest event (what `getLastGlobalPosition` returns). */
  readonly headPosition: number;
}

/** Counts the events and streams of the store (a full scan: a maintenance command) and reads its head position. */
export async function sqliteStoreStats(
  driver: SqliteDriver,
  options?: SqliteNameOptions | null,
): Promise<SqliteStoreStats> {
  const version = await sqliteSchemaVersion(driver, options);
  if (version === 0) return { schemaVersion: 0, events: 0, streams: 0, headPosition: 0 };
  const names = tableNames(options);
  const [row] = await guard("stats", driver.name, () =>
    driver.all(
      `SELECT count(*) AS events, count(DISTINCT stream_id) AS streams, coalesce(max(position), 0) AS head FROM ${names.events}`,
    ),
  );
  return {
    schemaVersion: version,
    events: Number(row?.events ?? 0),
    streams: Number(row?.streams ?? 0),
    headPosition: Number(row?.head ?? 0),
  };
}
