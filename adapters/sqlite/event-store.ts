import {
  assertKnownOptions,
  EVENT_STORE_OPTIONS,
  type EventEnvelope,
  type EventPages,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  type ExpectedVersion,
  type Issue,
  integerOptionIssues,
  type PendingEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  STREAM_LIFECYCLE_STREAM,
  type StreamChange,
  type StreamChangeCommit,
  StreamLifecycleEventType,
  ValidationError,
} from "../../src/index.js";
import { appendEvents, type Committed, type SqliteStoreContext, streamVersion } from "./append.js";
import { driverIssues, type SqliteDriver } from "./driver.js";
import { assertStorableStreamId, DEFAULT_MAX_EVENT_BYTES, SQLITE_MAX_VALUE_BYTES } from "./encode.js";
import { toEventFlowsError } from "./errors.js";
import { migrateSqlite, type SqliteMigrateOptions, type SqliteMigrateResult } from "./migrate.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, type SqliteTableNames, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";
import { lastPosition, readAllEvents, readAllPages, readStreamEvents, readStreamPages } from "./read.js";
import { eventStatements } from "./statements.js";
import { changeOperation, commitStreamChangeIn, commitStreamChangeInBatch } from "./stream-deletion.js";

export interface SqliteEventStoreOptions extends EventStoreOptions, SqliteNameOptions {
  /** The database, through a driver: `bunSqliteDriver(db)`, `nodeSqliteDriver(db)`, `d1Driver(env.DB)`, `durableObjectDriver(ctx.storage)`. */
  readonly driver: SqliteDriver;
  /** Largest event accepted (data and metadata as JSON, UTF-8 bytes). Defaults to 1 MiB. */
  readonly maxEventBytes?: number;
  /** Events fetched per statement when reading. Defaults to 1,000. */
  readonly readPageSize?: number;
  /**
   * Bytes of events (data and metadata, as stored) one read page holds at most: a page ends before
   * the event that would pass it, and an event larger than this comes in a page of its own. Bounds
   * what a read holds in memory whatever the events' sizes. Defaults to 4 MiB.
   */
  readonly readPageBytes?: number;
}

// A misspelt `readPageSise` or `tablePrefx` was dropped, its default taken without a word.
const OPTIONS = Object.keys({
  ...EVENT_STORE_OPTIONS,
  ...NAME_OPTIONS,
  driver: true,
  maxEventBytes: true,
  readPageSize: true,
  readPageBytes: true,
} satisfies Record<keyof SqliteEventStoreOptions, true>);

/**
 * The event store on SQLite, through a {@link SqliteDriver}: bun:sqlite, node:sqlite, Cloudflare D1
 * or a Durable Object's storage. One write transaction (on D1: one statement) per append;
 * optimistic concurrency; idempotent appends by event id; a global order readers never skip. Run {@link SqliteEventStore.migrate}
 * once before use.
 *
 * Why the global order holds: SQLite lets one writer at a time hold the write lock, from before an
 * append reads the stream's version until it commits. The position is assigned inside that lock
 * (AUTOINCREMENT: the largest ever handed out, plus one), so every position below it belongs to a
 * transaction that has already committed or rolled back. A reader's snapshot holds every commit made
 * before it started: once it sees a position, no lower one can appear later. (PostgreSQL needs
 * transaction-id filtering for this; SQLite's single writer gives it for free.) D1 and Durable
 * Objects are SQLite with the same single writer.
 */
export class SqliteEventStore extends EventStore {
  protected override readonly dbSystem: string = "sqlite";
  readonly capabilities: EventStoreCapabilities;
  readonly driver: SqliteDriver;
  readonly names: SqliteTableNames;
  readonly #context: SqliteStoreContext;

  constructor(options: SqliteEventStoreOptions) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid SQLite event store options", issues);
    super(options);
    this.driver = options.driver;
    // Deletions decide and write in one transaction: an interactive one, or on D1 one guarded batch.
    this.capabilities = { globalOrder: true, idempotentAppends: true, streamDeletion: true };
    this.names = tableNames(options, OPTIONS);
    this.#context = {
      driver: options.driver,
      statements: eventStatements(this.names),
      maxEventBytes: options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
      maxValueBytes: options.driver.maxValueBytes ?? SQLITE_MAX_VALUE_BYTES,
      readPageSize: options.readPageSize ?? 1000,
      readPageBytes: options.readPageBytes ?? DEFAULT_READ_PAGE_BYTES,
    };
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  override ping(): Promise<void> {
    return pingSqlite(this.driver, this.names.events);
  }

  /** Creates or upgrades this store's tables (idempotent; one transaction per run). */
  async migrate(options: Pick<SqliteMigrateOptions, "to"> = {}): Promise<SqliteMigrateResult> {
    // `to` only: a table prefix (an untyped call) would migrate tables this store does not use.
    assertKnownOptions(options, ["to"], "migrate options");
    return migrateSqlite(this.driver, { tablePrefix: this.names.prefix, ...options });
  }

  protected commit(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<Committed> {
    return appendEvents(this.#context, streamId, events, expected);
  }

  protected readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    assertStorableStreamId(streamId);
    return readStreamEvents(this.#context, streamId, options);
  }

  protected readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    return readAllEvents(this.#context, options);
  }

  /** Pages as fetched: the core's read layers pass them on whole (see `EventStore.readStreamPages`). */
  protected override readStreamPages(streamId: string, options: ReadStreamOptions): EventPages {
    assertStorableStreamId(streamId);
    return readStreamPages(this.#context, streamId, options);
  }

  protected override readAllPages(options: ReadAllOptions): EventPages {
    return readAllPages(this.#context, options);
  }

  protected streamVersion(streamId: string): Promise<number> {
    assertStorableStreamId(streamId);
    return streamVersion(this.#context, streamId);
  }

  /**
   * The deletion row first: a stream with none reads nothing of `$streams`; one that has one, the one
   * event its row names (two primary-key reads).
   */
  protected override async deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    assertStorableStreamId(streamId);
    let version: number;
    try {
      const [row] = await this.driver.all(this.#context.statements.deletion.eventVersion, [
        STREAM_LIFECYCLE_STREAM,
        StreamLifecycleEventType.Deleted,
        streamId,
        streamId,
      ]);
      version = Number(row?.version ?? 0);
    } catch (error) {
      throw toEventFlowsError(error, "streamDeletionEvent", this.driver.name);
    }
    if (version === 0) return undefined;
    for await (const event of this.readStream(STREAM_LIFECYCLE_STREAM, {
      fromVersion: version,
      maxCount: 1,
      raw: true,
    }))
      return event;
    return undefined;
  }

  protected override async commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    assertStorableStreamId(change.streamId);
    const transaction = this.driver.transaction;
    try {
      return transaction === undefined
        ? await commitStreamChangeInBatch(this.#context, change)
        : commitStreamChangeIn(transaction, this.#context, change);
    } catch (error) {
      throw toEventFlowsError(error, changeOperation(change), this.driver.name);
    }
  }

  /** One statement: the newest position stored. */
  override getLastGlobalPosition(): Promise<number> {
    return lastPosition(this.#context);
  }
}

/** The default of {@link SqliteEventStoreOptions.readPageBytes}: 4 MiB. */
export const DEFAULT_READ_PAGE_BYTES = 4 * 1024 * 1024;

/** Creates a {@link SqliteEventStore}. */
export function createSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(options);
}

function optionIssues(options: SqliteEventStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options must be an object" }];
  const issues = [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)];
  issues.push(
    ...integerOptionIssues(options.maxEventBytes, "maxEventBytes", 256 * 1024 * 1024),
    ...integerOptionIssues(options.readPageSize, "readPageSize", 100_000),
    ...integerOptionIssues(options.readPageBytes, "readPageBytes", 1024 * 1024 * 1024),
  );
  return issues;
}
