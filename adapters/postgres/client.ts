import postgres from "postgres";
import type { EnvSource } from "../../src/index.js";
import { readEnv, ValidationError } from "../../src/index.js";

/**
 * A postgres.js client with any custom type map: the store only uses plain SQL and casts what it
 * reads, so it works with whatever types or transforms the application configured.
 */
// biome-ignore lint/suspicious/noExplicitAny: clients with any type map are accepted
export type PostgresSql = postgres.Sql<any>;
/** What runs statements: a client, a transaction or a reserved connection. */
// biome-ignore lint/suspicious/noExplicitAny: as above
export type PostgresQueryable = postgres.ISql<any>;
// biome-ignore lint/suspicious/noExplicitAny: as above
export type PostgresTransactionSql = postgres.TransactionSql<any>;

export interface PostgresClientOptions extends postgres.Options<Record<string, postgres.PostgresType>> {
  /**
   * Longest a statement may run before the server cancels it (a retryable ServiceError), in ms.
   * Sent as the `statement_timeout` startup parameter. Defaults to 30,000; 0 disables it.
   */
  readonly statementTimeoutMs?: number;
}

/**
 * The defaults for a client the store creates. postgres.js's own are tuned for long-lived servers;
 * these also suit functions that freeze between requests: idle connections are closed after 20 s
 * (the server would otherwise keep them), connecting gives up after 10 s, and statements are
 * cancelled after 30 s. postgres.js's type discovery (`fetch_types`) stays on: without it, array
 * parameters fail and `sql.reserve()` can hang; the store itself needs neither.
 */
export const DEFAULT_CLIENT_OPTIONS = {
  max: 10,
  idle_timeout: 20,
  connect_timeout: 10,
  statementTimeoutMs: 30_000,
} as const;

/** The variable a store falls back to when given neither a client nor a URL. */
export const URL_VARIABLE = "DATABASE_URL";

/**
 * Creates a postgres.js client with {@link DEFAULT_CLIENT_OPTIONS}; every postgres.js option may be
 * passed and wins. The URL defaults to `DATABASE_URL` (from `env`, then the process environment).
 * Close it with `await sql.end()` (or the store's `close()` when the store created it).
 */
export function createPostgresClient(url?: string, options: PostgresClientOptions = {}, env?: EnvSource): PostgresSql {
  const { statementTimeoutMs = DEFAULT_CLIENT_OPTIONS.statementTimeoutMs, ...rest } = options;
  if (typeof statementTimeoutMs !== "number" || !Number.isSafeInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new ValidationError("Invalid PostgreSQL client options", [
      { path: ["statementTimeoutMs"], message: "statementTimeoutMs must be a non-negative integer (0 disables it)" },
    ]);
  }
  const connectionUrl = url ?? readEnv(URL_VARIABLE, env);
  const merged = {
    max: DEFAULT_CLIENT_OPTIONS.max,
    idle_timeout: DEFAULT_CLIENT_OPTIONS.idle_timeout,
    connect_timeout: DEFAULT_CLIENT_OPTIONS.connect_timeout,
    // postgres.js prints server notices ("schema exists, skipping") by default.
    onnotice: () => undefined,
    ...rest,
    connection: {
      application_name: "eventflows",
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
      ...rest.connection,
    },
  };
  return connectionUrl === undefined ? postgres(merged) : postgres(connectionUrl, merged);
}
