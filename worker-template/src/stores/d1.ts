/**
 * The D1 store (the template's default), and its Idempotency-Keys in the same database: the tables are
 * made by the Worker itself, on first use.
 */
import type {
  EventPages,
  ExpectedVersion,
  IdempotencyClaim,
  PendingEvent,
  ReadAllOptions,
  ReadStreamOptions,
} from "@eventflows/core";
import {
  type D1DatabaseLike,
  d1Driver,
  migrateSqlite,
  SqliteEventStore,
  SqliteIdempotencyStore,
} from "@eventflows/core/sqlite";
import { ConfigurationError, storeOpener } from "../config.js";

/**
 * Migrations run on the first request that needs the store, until one run has succeeded in this
 * isolate: afterwards no query at all. The check is one query, and the first deployment needs no
 * separate step. A run is never shared between requests: workerd cancels a request's I/O when its
 * response is sent, so a migration started by a request that ended first (a health probe, say)
 * would never settle for the requests waiting on it. Concurrent first runs are safe: the SQLite
 * store's `migrate()` lets the loser of the race re-read the records.
 */
const migrated = new WeakSet<D1DatabaseLike>();

/** The D1 store, whose every operation first makes sure the schema is in place. */
class D1EventStore extends SqliteEventStore {
  readonly #db: D1DatabaseLike;
  #migration: Promise<void> | undefined;

  constructor(db: D1DatabaseLike) {
    super({ driver: d1Driver(db) });
    this.#db = db;
  }

  /** Resolves once the schema is in place; a failed run is retried by the next call. */
  get #ready(): Promise<void> {
    if (migrated.has(this.#db)) return Promise.resolve();
    this.#migration ??= this.migrate().then(
      () => {
        migrated.add(this.#db);
      },
      (error: unknown) => {
        this.#migration = undefined;
        throw error;
      },
    );
    return this.#migration;
  }

  protected override async commit(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion) {
    await this.#ready;
    return super.commit(streamId, events, expected);
  }

  // The pages, not the event-by-event reads: readStream and readAll (and subscriptions) read pages,
  // which the SQLite store serves straight from its statements, never through readStreamEvents.
  protected override async *readStreamPages(streamId: string, options: ReadStreamOptions): EventPages {
    await this.#ready;
    yield* super.readStreamPages(streamId, options);
  }

  protected override async *readAllPages(options: ReadAllOptions): EventPages {
    await this.#ready;
    yield* super.readAllPages(options);
  }

  protected override async streamVersion(streamId: string) {
    await this.#ready;
    return super.streamVersion(streamId);
  }

  override async getLastGlobalPosition() {
    await this.#ready;
    return super.getLastGlobalPosition();
  }

  // Readiness too: the store's ping fails on a database without its tables, which this store makes itself.
  override async ping() {
    await this.#ready;
    return super.ping();
  }
}

/**
 * Idempotency-Keys in the D1 database, which every isolate shares: a retried command that lands on
 * another isolate (or after a deployment) replays the first one's response instead of running again.
 * Made once per isolate (see src/index.ts), so a migration is never shared between requests: a claim
 * that finds the schema unmigrated in this isolate runs its own (concurrent runs are safe). Only a
 * claim needs it: completing and releasing come after the claim of the same request.
 */
export class D1IdempotencyStore extends SqliteIdempotencyStore {
  readonly #db: D1DatabaseLike;

  constructor(db: D1DatabaseLike) {
    super({ driver: d1Driver(db) });
    this.#db = db;
  }

  override async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    if (!migrated.has(this.#db)) {
      await migrateSqlite(d1Driver(this.#db));
      migrated.add(this.#db);
    }
    return super.claim(key, fingerprint);
  }
}

/** D1 holds nothing per request: the binding is the connection. */
export const openD1Store = storeOpener("d1", (env) => {
  if (env.DB === undefined) throw new ConfigurationError("no D1 database: bind one as DB (wrangler.toml)");
  return { store: new D1EventStore(env.DB), close: async () => {} };
});
