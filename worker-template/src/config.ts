/**
 * The Worker's configuration (wrangler.toml vars, secrets and bindings) and how an entry opens its
 * one event store: Cloudflare D1 (src/index.ts, the default, and what `wrangler dev` runs offline),
 * DynamoDB over fetch (src/dynamodb.ts) or PostgreSQL through postgres.js, Hyperdrive in production
 * (src/postgres.ts). Each wrangler environment deploys one entry, so each bundle holds one store.
 */
import type { EventStore } from "@eventflows/core";
import type { D1DatabaseLike } from "@eventflows/core/sqlite";

/** What wrangler.toml and `wrangler secret put` give the Worker. */
export interface Env {
  /**
   * `"d1"`, `"dynamodb"` or `"postgres"`: the store of the entry this environment deploys (unset
   * means that one). Any other value fails every request that needs the store, with the reason logged.
   */
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

/** Opens the store one request uses; throws ConfigurationError when the deployment is wrong. */
export type StoreOpener = (env: Env) => OpenedStore;

/** The stores the template has an entry for, as `EVENT_STORE` names them. */
export type StoreKind = "d1" | "dynamodb" | "postgres";

/** Each store's wrangler.toml environment, as `wrangler deploy` names it: D1 is the top level. */
const DEPLOY_TARGETS: Readonly<Record<StoreKind, string>> = {
  d1: '--env=""',
  dynamodb: "--env dynamodb",
  postgres: "--env postgres",
};

/**
 * The opener of one entry's store. `EVENT_STORE` (wrangler.toml, per environment) must name that
 * store or be unset: a deployment naming another store runs the wrong entry for its bindings, and
 * says so rather than serve from a store it did not mean. A store refusing its options (no region,
 * no credentials) is a deployment error too: left as the adapter's ValidationError it would answer
 * the client 400, blaming the request.
 */
export function storeOpener(kind: StoreKind, open: StoreOpener): StoreOpener {
  return (env) => {
    const named = env.EVENT_STORE ?? kind;
    if (named !== kind) {
      const target = Object.hasOwn(DEPLOY_TARGETS, named) ? DEPLOY_TARGETS[named as StoreKind] : undefined;
      throw new ConfigurationError(
        `EVENT_STORE is "${named.slice(0, 32)}", but this entry bundles only the ${kind} store: ` +
          (target === undefined
            ? 'EVENT_STORE must be "d1", "dynamodb" or "postgres", the store of the environment deployed'
            : `deploy that store's wrangler.toml environment (\`wrangler deploy ${target}\`)`),
      );
    }
    try {
      return open(env);
    } catch (error) {
      if (error instanceof ConfigurationError) throw error;
      throw new ConfigurationError(`the ${kind} event store is misconfigured`, { cause: error });
    }
  };
}
