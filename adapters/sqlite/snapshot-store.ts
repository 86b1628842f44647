import {
  type Issue,
  SNAPSHOT_STORE_OPTIONS,
  SnapshotCorruptError,
  SnapshotStore,
  type SnapshotStoreCapabilities,
  type SnapshotStoreOptions,
  type StoredSnapshot,
  ValidationError,
} from "../../src/index.js";
import { driverIssues, type SqliteDriver, type SqliteStatement } from "./driver.js";
import { assertStorableStreamId, storedBytes, storedInteger } from "./encode.js";
import { guard } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";

export interface SqliteSnapshotStoreOptions extends SnapshotStoreOptions, SqliteNameOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
  /**
   * Largest payload stored, in bytes after compression. Defaults to 16 MiB; never above the
   * driver's `maxValueBytes` (2 MB on D1 and Durable Objects), which caps a larger value given here.
   */
  readonly maxPayloadBytes?: number;
}

export const DEFAULT_MAX_SQLITE_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/**
 * Snapshots in the event store's database (the `snapshots` table of migration 3), keyed on
 * `(stream_id, version)`, payloads as BLOBs, gzip-compressed by default. A save (the upsert, then
 * the pruning beyond `keepLast`) is one batch, so atomic.
 */
export class SqliteSnapshotStore extends SnapshotStore {
  protected override readonly dbSystem: string = "sqlite";
  readonly capabilities: SnapshotStoreCapabilities;
  readonly #driver: SqliteDriver;
  readonly #table: string;

  constructor(options: SqliteSnapshotStoreOptions) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid SQLite snapshot store options", issues);
    super({ ...options, compression: options.compression ?? { format: "gzip" } });
    this.#driver = options.driver;
    this.#table = tableNames(options, OPTIONS).snapshots;
    // Never above the driver's cap on one value: a larger payload is refused here, before it is sent.
    const wanted = options.maxPayloadBytes ?? DEFAULT_MAX_SQLITE_SNAPSHOT_BYTES;
    this.capabilities = {
      maxPayloadBytes: Math.min(wanted, options.driver.maxValueBytes ?? Number.POSITIVE_INFINITY),
    };
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  override ping(): Promise<void> {
    return pingSqlite(this.#driver, this.#table);
  }

  protected writeSnapshot(record: StoredSnapshot, keepLast: number): Promise<{ readonly pruned: number }> {
    assertStorableStreamId(record.streamId);
    const { streamId, version, schemaVersion, encoding, payload, createdAt } = record;
    const table = this.#table;
    const statements: SqliteStatement[] = [
      {
        sql: `INSERT INTO ${table} (stream_id, version, schema_version, encoding, payload, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (stream_id, version) DO UPDATE SET schema_version = excluded.schema_version,
  encoding = excluded.encoding, payload = excluded.payload, created_at = excluded.created_at`,
        params: [streamId, version, schemaVersion, encoding, payload, createdAt],
      },
    ];
    if (keepLast !== Number.POSITIVE_INFINITY) {
      // A version written below the newest keepLast is deleted at once: it counts as pruned.
      statements.push({
        sql: `DELETE FROM ${table} WHERE stream_id = ? AND version NOT IN (
  SELECT version FROM ${table} WHERE stream_id = ? ORDER BY version DESC LIMIT ?) RETURNING 1 AS gone`,
        params: [streamId, streamId, keepLast],
      });
    }
    return guard("saveSnapshot", this.#driver.name, async () => {
      const results = await this.#driver.batch(statements);
      return { pruned: results[1]?.length ?? 0 };
    });
  }

  protected async readSnapshot(streamId: string, maxVersion: number | undefined): Promise<StoredSnapshot | undefined> {
    assertStorableStreamId(streamId);
    const [row] = await guard("loadSnapshot", this.#driver.name, () =>
      this.#driver.all(
        `SELECT version, schema_version, encoding, payload, created_at FROM ${this.#table}
  WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT 1`,
        [streamId, maxVersion ?? Number.MAX_SAFE_INTEGER],
      ),
    );
    if (row === undefined) return undefined;
    const version = Number(row.version);
    const schemaVersion = storedInteger(row.schema_version);
    // The column keeps text, a fraction or a BLOB another tool wrote; compared as neither older nor
    // current, it would pass for a newer deployment's snapshot, which a repository never replaces.
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 0) {
      throw new SnapshotCorruptError(streamId, version, "its schema version is not an integer from 0");
    }
    const createdAt = row.created_at;
    if (typeof createdAt !== "string" || createdAt === "") {
      throw new SnapshotCorruptError(streamId, version, "it has no time");
    }
    return {
      streamId,
      version,
      schemaVersion,
      encoding: String(row.encoding),
      payload: bytesOf(row.payload, streamId, version),
      createdAt,
    };
  }

  protected deleteSnapshots(streamId: string): Promise<number> {
    assertStorableStreamId(streamId);
    return guard("deleteSnapshots", this.#driver.name, async () => {
      const rows = await this.#driver.all(`DELETE FROM ${this.#table} WHERE stream_id = ? RETURNING 1 AS gone`, [
        streamId,
      ]);
      return rows.length;
    });
  }
}

function bytesOf(value: unknown, streamId: string, version: number): Uint8Array {
  const bytes = storedBytes(value);
  if (bytes !== undefined) return bytes;
  throw new SnapshotCorruptError(streamId, version, "the payload column did not come back as bytes");
}

const OPTIONS = Object.keys({
  ...SNAPSHOT_STORE_OPTIONS,
  ...NAME_OPTIONS,
  driver: true,
  maxPayloadBytes: true,
} satisfies Record<keyof SqliteSnapshotStoreOptions, true>);

function optionIssues(options: SqliteSnapshotStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  const issues = [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)];
  const max = options.maxPayloadBytes;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1 && max <= 1_000_000_000)) {
    issues.push({ path: ["maxPayloadBytes"], message: "maxPayloadBytes must be an integer from 1 to 1000000000" });
  }
  return issues;
}
