import {
  type Issue,
  SNAPSHOT_STORE_OPTIONS,
  SnapshotCorruptError,
  SnapshotStore,
  type SnapshotStoreCapabilities,
  type SnapshotStoreOptions,
  type StoredSnapshot,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { assertStorableStreamId } from "./encode.js";
import { guard, guardReconnecting } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type PostgresNameOptions, tableNames } from "./names.js";
import { pingPostgres } from "./ping.js";

export interface PostgresSnapshotStoreOptions extends SnapshotStoreOptions, PostgresNameOptions {
  /**
   * What runs the statements: a client (the event store's `sql`, say), or a transaction to save a
   * snapshot atomically with other writes.
   */
  readonly sql: PostgresQueryable;
  /**
   * Largest payload stored, in bytes after compression. Defaults to 16 MiB; at most 256 MiB (the
   * payload travels hex-encoded, and PostgreSQL takes no parameter over 1 GB).
   */
  readonly maxPayloadBytes?: number;
}

export const DEFAULT_MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;
const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;
/** Versions are `integer` columns, as the events' are: no event has a higher version. */
const MAX_INTEGER = 2_147_483_647;

// createdAt was made by toISOString (milliseconds, UTC); this gives back the same text.
const CREATED = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

interface SnapshotStatements {
  /** Upsert and prune in one statement; returns how many snapshots it pruned. */
  readonly write: string;
  /** Upsert only, for keepLast: Infinity. */
  readonly writeKeepAll: string;
  readonly read: string;
  readonly remove: string;
}

function snapshotStatements(table: string): SnapshotStatements {
  const upsert = `INSERT INTO ${table} (stream_id, version, schema_version, encoding, payload, created_at)`;
  const onConflict = `ON CONFLICT (stream_id, version, tenant_id) DO UPDATE SET schema_version = excluded.schema_version,
    encoding = excluded.encoding, payload = excluded.payload, created_at = excluded.created_at`;
  return {
    /*
     * $1 stream, $2 version, $3 schema version, $4 encoding, $5 payload, $6 created at, $7 keepLast.
     * Every part sees the same snapshot, so the delete cannot see the row the insert writes: the
     * newest keepLast are worked out over the stored rows plus the new version. A new version that
     * would rank below them is not written at all (and counts as pruned, as if written and deleted).
     * Concurrent saves of one stream each see a subset of the rows, which only ranks a row higher:
     * none deletes a snapshot that belongs to the newest keepLast; the next save trims any excess.
     */
    write: `
WITH newer AS (
  SELECT count(*) AS n FROM ${table} WHERE stream_id = $1 AND version > $2::integer
), existing AS (
  SELECT count(*) AS n FROM ${table} WHERE stream_id = $1 AND version = $2::integer
), kept AS (
  ${upsert}
  SELECT $1, $2::integer, $3::integer, $4, $5::bytea, $6::text::timestamptz FROM newer WHERE newer.n < $7::bigint
  ${onConflict}
  RETURNING 1
), gone AS (
  DELETE FROM ${table} WHERE stream_id = $1 AND (
    version IN (
      SELECT version FROM ${table} WHERE stream_id = $1 AND version <> $2::integer ORDER BY version DESC
      OFFSET (SELECT CASE WHEN n < $7::bigint THEN $7::bigint - 1 ELSE $7::bigint END FROM newer)
    ) OR (version = $2::integer AND (SELECT n FROM newer) >= $7::bigint)
  )
  RETURNING 1
)
SELECT ((SELECT count(*) FROM gone)
  + CASE WHEN (SELECT n FROM newer) >= $7::bigint AND (SELECT n FROM existing) = 0 THEN 1 ELSE 0 END)::integer`,
    writeKeepAll: `${upsert}
VALUES ($1, $2::integer, $3::integer, $4, $5::bytea, $6::text::timestamptz)
${onConflict}`,
    read: `SELECT version, schema_version, encoding, payload, ${CREATED} FROM ${table}
  WHERE stream_id = $1 AND version <= $2::integer ORDER BY version DESC LIMIT 1`,
    remove: `WITH gone AS (DELETE FROM ${table} WHERE stream_id = $1 RETURNING 1) SELECT count(*)::integer FROM gone`,
  };
}

/**
 * Snapshots in the event store's database: the `snapshots` table of migration 3, keyed on
 * `(stream_id, version)`, payloads as `bytea`, gzip-compressed by default. A save (the upsert and
 * the pruning beyond `keepLast`) is one statement, so one round trip and atomic.
 */
export class PostgresSnapshotStore extends SnapshotStore {
  protected override readonly dbSystem: string = "postgresql";
  readonly capabilities: SnapshotStoreCapabilities;
  readonly #sql: PostgresQueryable;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #statements: SnapshotStatements;

  /** @throws {ValidationError} no client, a bad schema or table prefix, or a bad base option. */
  constructor(options: PostgresSnapshotStoreOptions) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL snapshot store options", issues);
    super({ ...options, compression: options.compression ?? { format: "gzip" } });
    this.#sql = options.sql;
    this.#table = tableNames(options, OPTIONS).snapshots;
    this.#statements = snapshotStatements(this.#table);
    this.capabilities = { maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES };
  }

  /** A select of no row from the snapshots table (see pingPostgres): for health checks. */
  override ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.#sql, this.#table, signal);
  }

  protected async writeSnapshot(record: StoredSnapshot, keepLast: number): Promise<{ readonly pruned: number }> {
    assertStorableStreamId(record.streamId);
    assertInteger(record.version, "snapshot version");
    assertInteger(record.schemaVersion, "snapshot schemaVersion");
    const { streamId, version, schemaVersion, encoding, payload, createdAt } = record;
    const base = [streamId, version, schemaVersion, encoding, payload, createdAt];
    return guard("saveSnapshot", async () => {
      if (keepLast === Number.POSITIVE_INFINITY) {
        await this.#sql.unsafe(this.#statements.writeKeepAll, base, { prepare: true });
        return { pruned: 0 };
      }
      const [row] = (await this.#sql
        .unsafe(this.#statements.write, [...base, String(keepLast)], { prepare: true })
        .values()) as unknown as [number][];
      return { pruned: Number(row?.[0] ?? 0) };
    });
  }

  protected async readSnapshot(streamId: string, maxVersion: number | undefined): Promise<StoredSnapshot | undefined> {
    assertStorableStreamId(streamId);
    const bound = maxVersion === undefined ? MAX_INTEGER : Math.min(maxVersion, MAX_INTEGER);
    const [row] = await guardReconnecting(
      "loadSnapshot",
      attemptsOn(this.#sql),
      async () =>
        (await this.#sql.unsafe(this.#statements.read, [streamId, bound], { prepare: true }).values()) as unknown as [
          unknown,
          unknown,
          unknown,
          unknown,
          unknown,
        ][],
    );
    if (row === undefined) return undefined;
    const [version, schemaVersion, encoding, payload, createdAt] = row;
    // to_char reads a time of infinity (another tool wrote it) as NULL: no time to hand on.
    if (createdAt === null) throw new SnapshotCorruptError(streamId, Number(version), "it has no time");
    return {
      streamId,
      version: Number(version),
      schemaVersion: Number(schemaVersion),
      encoding: String(encoding),
      payload: bytesOf(payload, streamId, Number(version)),
      createdAt: String(createdAt),
    };
  }

  protected async deleteSnapshots(streamId: string): Promise<number> {
    assertStorableStreamId(streamId);
    return guard("deleteSnapshots", async () => {
      const [row] = (await this.#sql
        .unsafe(this.#statements.remove, [streamId], { prepare: true })
        .values()) as unknown as [number][];
      return Number(row?.[0] ?? 0);
    });
  }
}

/**
 * postgres.js parses bytea into its Buffer (a Uint8Array); a client configured without that parser
 * hands over PostgreSQL's hex text. Either way the caller gets a plain Uint8Array of its own.
 */
function bytesOf(value: unknown, streamId: string, version: number): Uint8Array {
  if (value instanceof Uint8Array) {
    const copy = new Uint8Array(value.byteLength);
    copy.set(value);
    return copy;
  }
  if (typeof value === "string" && /^\\x(?:[0-9a-fA-F]{2})*$/.test(value)) {
    const bytes = new Uint8Array((value.length - 2) / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(value.slice(2 + i * 2, 4 + i * 2), 16);
    return bytes;
  }
  throw new SnapshotCorruptError(streamId, version, "the payload column did not come back as bytes");
}

function assertInteger(value: number, what: string): void {
  if (value > MAX_INTEGER) {
    throw new ValidationError(`Invalid ${what}`, [
      { path: [], message: `${what} is ${value}, over ${MAX_INTEGER}, the largest PostgreSQL integer` },
    ]);
  }
}

const OPTIONS = Object.keys({
  ...SNAPSHOT_STORE_OPTIONS,
  ...NAME_OPTIONS,
  sql: true,
  maxPayloadBytes: true,
} satisfies Record<keyof PostgresSnapshotStoreOptions, true>);

function optionIssues(options: PostgresSnapshotStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  // A misspelt `maxPayloadByte` kept the default limit without a word.
  const issues: Issue[] = unknownKeyIssues(options, OPTIONS);
  if (typeof options.sql !== "function") {
    issues.push({ path: ["sql"], message: "sql must be a postgres.js client or transaction" });
  }
  issues.push(...nameIssues(options));
  const max = options.maxPayloadBytes;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1 && max <= MAX_SNAPSHOT_BYTES)) {
    issues.push({
      path: ["maxPayloadBytes"],
      message: `maxPayloadBytes must be an integer from 1 to ${MAX_SNAPSHOT_BYTES}`,
    });
  }
  return issues;
}
