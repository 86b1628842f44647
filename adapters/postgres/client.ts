import postgres from "postgres";
import type { EnvSource } from "../../src/index.js";
import { readEnv, tenantId, ValidationError } from "../../src/index.js";
import { TENANT_SETTING } from "./migrations.js";

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
   * Sent as the `statement_timeout` startup parameter. Defaults to 30,000; 0 disables it. With
   * postgres.js's type discovery on (`fetch_types`, its default), at least
   * {@link MIN_STATEMENT_TIMEOUT_MS}: see there.
   */
  readonly statementTimeoutMs?: number;
  /** Shown in `pg_stat_activity`; defaults to `"eventflows"`. The same as `connection: { application_name }`. */
  readonly application_name?: string;
  /**
   * Row-level-security tenancy with a pool per tenant: every connection of this client belongs to
   * this tenant (a core tenant id, see `tenantId`) for its whole life. The id is sent as the
   * `eventflows.tenant` startup parameter, the setting the tenant policies read, so each statement
   * runs as it is, with no transaction or setting around it (the shared-pool way,
   * `tenantScopedSql`, adds both to every statement). It wins over the same key in `connection`.
   * `tenantOf(client)` returns it.
   */
  readonly tenant?: string;
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

/**
 * The shortest `statementTimeoutMs` while `fetch_types` is on. postgres.js runs its type discovery
 * as the first statement of every connection, under the same timeout, and when the server cancels
 * it the rejection escapes where no caller can catch it (an unhandled rejection, which ends a Node
 * process). One second keeps that catalog query clear of the timeout; with `fetch_types: false`
 * there is no such query and any timeout from 1 ms is accepted.
 */
export const MIN_STATEMENT_TIMEOUT_MS = 1000;

/**
 * How many times a statement safe to repeat may run when connections turn out lost: each connection
 * the client may hold can be found dead once, and the first statement on a new connection may get
 * the dead one's error replayed (postgres.js), plus the run that succeeds. A transaction or a
 * reserved connection (no pool of its own) runs a statement once.
 */
export function attemptsOn(sql: PostgresQueryable): number {
  if (typeof (sql as { begin?: unknown }).begin !== "function") return 1;
  const max = (sql as { options?: { max?: unknown } }).options?.max;
  return (typeof max === "number" && Number.isSafeInteger(max) && max > 0 ? max : 10) + 2;
}

/** The variable a store falls back to when given neither a client nor a URL. */
export const URL_VARIABLE = "DATABASE_URL";

/**
 * Creates a postgres.js client with {@link DEFAULT_CLIENT_OPTIONS}; every postgres.js option may be
 * passed and wins. The URL defaults to `DATABASE_URL` (from `env`, then the process environment).
 * Close it with `await sql.end()` (or the store's `close()` when the store created it).
 * @throws {ValidationError} bad options or a URL that does not parse; never the URL or its password.
 * @throws {InvalidTenantError} a `tenant` that is not a tenant id.
 */
export function createPostgresClient(url?: string, options: PostgresClientOptions = {}, env?: EnvSource): PostgresSql {
  const { statementTimeoutMs = DEFAULT_CLIENT_OPTIONS.statementTimeoutMs, application_name, tenant, ...rest } = options;
  // Validated first, and never echoed (see tenantId).
  const ownTenant = tenant === undefined ? undefined : tenantId(tenant);
  const typesFetched = rest.fetch_types !== false;
  const minimum = typesFetched ? MIN_STATEMENT_TIMEOUT_MS : 1;
  if (
    typeof statementTimeoutMs !== "number" ||
    !Number.isSafeInteger(statementTimeoutMs) ||
    (statementTimeoutMs !== 0 && statementTimeoutMs < minimum)
  ) {
    throw new ValidationError("Invalid PostgreSQL client options", [
      {
        path: ["statementTimeoutMs"],
        message: typesFetched
          ? `statementTimeoutMs must be 0 (none) or an integer of at least ${MIN_STATEMENT_TIMEOUT_MS} while fetch_types is on`
          : "statementTimeoutMs must be a non-negative integer (0 disables it)",
      },
    ]);
  }
  const connectionUrl = url ?? readEnv(URL_VARIABLE, env);
  if (connectionUrl !== undefined && typeof connectionUrl !== "string") {
    throw new ValidationError("Invalid PostgreSQL client options", [
      { path: ["url"], message: "url must be a string" },
    ]);
  }
  const merged = {
    max: DEFAULT_CLIENT_OPTIONS.max,
    idle_timeout: DEFAULT_CLIENT_OPTIONS.idle_timeout,
    connect_timeout: DEFAULT_CLIENT_OPTIONS.connect_timeout,
    // postgres.js prints server notices ("schema exists, skipping") by default.
    onnotice: () => undefined,
    ...rest,
    connection: {
      application_name: application_name ?? "eventflows",
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
      ...rest.connection,
      ...(ownTenant === undefined ? {} : { [TENANT_SETTING]: ownTenant }),
    },
  };
  let client: PostgresSql;
  try {
    client = connectionUrl === undefined ? postgres(merged) : postgres(connectionUrl, merged);
  } catch (error) {
    // postgres.js throws what URL parsing threw, whose `input` (and, on some runtimes, message) is
    // the whole URL with its password: say what is wrong without it, and keep no cause.
    throw new ValidationError("Invalid PostgreSQL connection options", [
      { path: [connectionUrl === undefined ? "client" : "url"], message: refusal(error, connectionUrl) },
    ]);
  }
  if (ownTenant !== undefined) Object.defineProperty(client, TENANT, { value: ownTenant });
  return client;
}

/** Where a client bound to one tenant (the `tenant` option, or `tenantScopedSql`) says which; see `tenantOf`. */
export const TENANT = Symbol("eventflows.tenant");

function refusal(error: unknown, url: string | undefined): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_INVALID_URL" || error instanceof TypeError) {
    return "the connection URL does not parse: check the host, the port (1-65535) and that special characters in the user or password are percent-encoded";
  }
  const message = String((error as Error | null)?.message ?? error);
  const secrets = [url, ...(url === undefined ? [] : credentialsOf(url))].filter(
    (s): s is string => !!s && s.length > 0,
  );
  return secrets.some((secret) => message.includes(secret))
    ? "postgres.js refused the client options"
    : `postgres.js refused the client options: ${message.slice(0, 200)}`;
}

/** The user and password spelled in a URL, found without parsing it (it may not parse). */
function credentialsOf(url: string): string[] {
  const match = /^[^:]+:\/\/([^@/]*)@/.exec(url);
  if (match?.[1] === undefined) return [];
  const [user, ...password] = match[1].split(":");
  return [user ?? "", password.join(":"), match[1]];
}
