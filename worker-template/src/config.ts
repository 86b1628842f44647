/**
 * The Worker's configuration (wrangler.toml vars, secrets and bindings) and the event store it
 * selects: Cloudflare D1 (the default, and what `wrangler dev` runs offline), DynamoDB over fetch,
 * or PostgreSQL through postgres.js (Hyperdrive in production).
 */
import type { EventStore, ExpectedVersion, PendingEvent, ReadAllOptions, ReadStreamOptions } from "@eventflows/core";
import { DynamoDbEventStore } from "@eventflows/core/dynamodb";
import { PostgresEventStore } from "@eventflows/core/postgres";
import { type D1DatabaseLike, d1Driver, SqliteEventStore } from "@eventflows/core/sqlite";

/** What wrangler.toml and `wrangler secret put` give the Worker. */
export interface Env {
  /** `"d1"` (the default), `"dynamodb"` or `"postgres"`. */
  readonly EVENT_STORE?: string;
  /** Secret: the bearer token every command and query must carry. */
  readonly API_TOKEN?: string;

  /** The D1 binding (wrangler.toml `[[d1_databases]]`); `wrangler dev` keeps it in a local SQLite file. */
  readonly DB?: D1DatabaseLike;

  readonly DYNAMODB_TABLE?: string;
  readonly AWS_REGION?: string;
  /** Secrets: an IAM user's key pair. */
  readonly AWS_ACCESS_KEY_ID?: string;
  readonly AWS_SECRET_ACCESS_KEY?: string;
  /** Only to point at DynamoDB Local during development. */
  readonly AWS_ENDPOINT_URL_DYNAMODB?: string;

  /** The Hyperdrive binding: production's way to PostgreSQL. */
  readonly HYPERDRIVE?: { readonly connectionString: string };
  /** A plain connection string, for development without Hyperdrive. */
  readonly DATABASE_URL?: string;
  /** The schema holding the event tables. Defaults to `eventflows`. */
  readonly PG_SCHEMA?: string;
}

/**
 * The deployment is wrong, not the request: the message is for the operator (logged through the
 * routes' `onError`), and clients get a bare 500.
 */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

export interface OpenedStore {
  readonly store: EventStore;
  /** Releases what the store holds (PostgreSQL connections); run it after the response. */
  readonly close: () => Promise<void>;
}

/**
 * The store for one request. PostgreSQL connections belong to the request that opened them on
 * Workers (Hyperdrive does the pooling), so a store is made per request and closed after it; the
 * DynamoDB store holds nothing but configuration and costs nothing to make.
 */
export function openStore(env: Env): OpenedStore {
  try {
    return storeFor(env);
  } catch (error) {
    // A store refusing its options (no region, no credentials) is a deployment error too: left as
    // the adapter's ValidationError it would answer the client 400, blaming the request.
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`the ${env.EVENT_STORE ?? DEFAULT_STORE} event store is misconfigured`, {
      cause: error,
    });
  }
}

const DEFAULT_STORE = "d1";

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

  protected override async *readStreamEvents(streamId: string, options: ReadStreamOptions) {
    await this.#ready;
    yield* super.readStreamEvents(streamId, options);
  }

  protected override async *readAllEvents(options: ReadAllOptions) {
    await this.#ready;
    yield* super.readAllEvents(options);
  }

  protected override async streamVersion(streamId: string) {
    await this.#ready;
    return super.streamVersion(streamId);
  }

  override async getLastGlobalPosition() {
    await this.#ready;
    return super.getLastGlobalPosition();
  }
}

function storeFor(env: Env): OpenedStore {
  const kind = env.EVENT_STORE ?? DEFAULT_STORE;
  if (kind === "d1") {
    if (env.DB === undefined) throw new ConfigurationError("no D1 database: bind one as DB (wrangler.toml)");
    return { store: new D1EventStore(env.DB), close: async () => {} };
  }
  if (kind === "dynamodb") {
    const tableName = env.DYNAMODB_TABLE;
    if (tableName === undefined || tableName === "") throw new ConfigurationError("DYNAMODB_TABLE is not set");
    // Only string variables: the AWS client reads region, credentials and endpoint from them.
    const awsEnv = {
      AWS_REGION: env.AWS_REGION,
      AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB,
    };
    return { store: new DynamoDbEventStore({ tableName, env: awsEnv }), close: async () => {} };
  }
  if (kind === "postgres") {
    const url = env.HYPERDRIVE?.connectionString ?? env.DATABASE_URL;
    if (url === undefined || url === "") {
      throw new ConfigurationError("no database: bind HYPERDRIVE (wrangler.toml) or set DATABASE_URL");
    }
    // Workers allow six simultaneous connections per request; one request here runs one query at a time.
    const store = new PostgresEventStore({ url, schema: env.PG_SCHEMA || "eventflows", client: { max: 2 } });
    return { store, close: () => store.close() };
  }
  throw new ConfigurationError(`EVENT_STORE is "${kind.slice(0, 32)}": use "d1", "dynamodb" or "postgres"`);
}
