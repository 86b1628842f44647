import type { PostgresSql } from "./client.js";
import { guard } from "./errors.js";
import { PostgresEventStore } from "./event-store.js";
import { schemaVersion } from "./migrate.js";
import { type PostgresNameOptions, tableNames } from "./names.js";

/** What `eventflows stats postgres` prints: the size of an event store. */
export interface PostgresStoreStats {
  /** The schema version in the database: 0 before the first migration (then every count is 0). */
  readonly schemaVersion: number;
  readonly events: number;
  readonly streams: number;
  /** The global position of the newest event a reader may see (what `getLastGlobalPosition` returns). */
  readonly headPosition: number;
}

/**
 * Counts the events and streams of the store in `schema` (a full scan of the events table: a
 * maintenance command, not something to call per request) and reads its head position.
 */
export async function postgresStoreStats(
  sql: PostgresSql,
  options: PostgresNameOptions = {},
): Promise<PostgresStoreStats> {
  const version = await schemaVersion(sql, options);
  if (version === 0) return { schemaVersion: 0, events: 0, streams: 0, headPosition: 0 };
  const names = tableNames(options);
  const [row] = await guard("stats", () =>
    sql.unsafe<{ events: string; streams: string }[]>(
      `SELECT count(*)::text AS events, count(DISTINCT stream_id)::text AS streams FROM ${names.events}`,
    ),
  );
  const headPosition = await new PostgresEventStore({ sql, ...options }).getLastGlobalPosition();
  return { schemaVersion: version, events: Number(row?.events ?? 0), streams: Number(row?.streams ?? 0), headPosition };
}
