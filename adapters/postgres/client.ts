import postgres from "postgres";
import type { EnvSource } from "../../src/index.js";
import { getLogger, readEnv, redactText, tenantId, ValidationError } from "../../src/index.js";
import { isDenoRefusal } from "./errors.js";
import { TENANT_SETTING } from "./migrations.js";
import { reconnectBackoff } from "./reconnect-backoff.js";
import {
  connectionSettingValues,
  hostPartIssue,
  poolOptionsFromUrl,
  schemeIssue,
  urlParameters,
  urlSettingValues,
  withoutSetting,
} from "./url-options.js";

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
/** `sql.reserve()`'s connection (a client in 3.4's types, not in 4.x's). */
// biome-ignore lint/suspicious/noExplicitAny: as above
export type PostgresReservedSql = postgres.ReservedSql<any>;

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
   * `tenantScopedSql`, adds both to every statement). It wins over the same setting in `connection`
   * (its name in any case); a URL whose query sets another (`?eventflows.tenant=…`, in any case, which
   * postgres.js would send instead) is refused.
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
  if (!opensTransactions(sql)) return 1;
  const max = (sql as { options?: { max?: unknown } }).options?.max;
  return (typeof max === "number" && Number.isSafeInteger(max) && max > 0 ? max : 10) + 2;
}

/**
 * Whether `sql` is a client that opens transactions of its own (`postgres(...)`), as opposed to a
 * transaction or a reserved connection. postgres.js 4's transactions have a `begin` too (a nested
 * transaction, in a savepoint): what only a transaction has is `savepoint`.
 */
export function opensTransactions(sql: unknown): boolean {
  const client = sql as { begin?: unknown; savepoint?: unknown } | null;
  return typeof client?.begin === "function" && typeof client.savepoint !== "function";
}

/**
 * Whether `sql` is a postgres.js 4 client, transaction or reserved connection (3.4 otherwise, or not
 * postgres.js at all). The stores run on both; what differs is how a statement waits for a connection
 * (4.x has `queue_timeout`, see createPostgresClient). 4.x tells itself apart by its pool's `scheduler`
 * option, by transactions that have both `begin` (nested) and `savepoint`, and by `typed`, an arrow
 * function (3.4's is a declared function, with a prototype).
 */
export function isPostgresJs4(sql: unknown): boolean {
  if (typeof sql !== "function") return false;
  const client = sql as { options?: unknown; begin?: unknown; savepoint?: unknown; typed?: unknown };
  const options = client.options;
  return (
    (typeof options === "object" && options !== null && Object.hasOwn(options, "scheduler")) ||
    (typeof client.begin === "function" && typeof client.savepoint === "function") ||
    (typeof client.typed === "function" && !Object.hasOwn(client.typed, "prototype"))
  );
}

/** The variable a store falls back to when given neither a client nor a URL. */
export const URL_VARIABLE = "DATABASE_URL";

/**
 * Creates a postgres.js client with {@link DEFAULT_CLIENT_OPTIONS}; the URL's `max`, `idle_timeout`
 * and `connect_timeout` (`?max=2&connect_timeout=3`) win over those, and every postgres.js option may
 * be passed and wins over both. The URL defaults to `DATABASE_URL` (from `env`, then the process environment).
 * Close it with `await sql.end()` (or the store's `close()` when the store created it).
 * @throws {ValidationError} bad options, an empty URL (""; leave it out for `DATABASE_URL`), a URL that does not parse or does not start with `postgres://` or
 * `postgresql://` (the issue names its scheme, never the rest), or a `max`, `idle_timeout`,
 * `connect_timeout` or `statement_timeout` in its query that is not one; never the URL or its password.
 * @throws {InvalidTenantError} a `tenant` that is not a tenant id.
 * @throws {ValidationError} with `tenant`, a URL whose query sets `eventflows.tenant` to another tenant.
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
  // postgres.js takes "" for no URL and connects wherever the PG* variables (or localhost) say: an unset
  // configuration value read as `?? ""` would reach another database than meant, or read as one.
  if (connectionUrl === "") {
    throw new ValidationError("Invalid PostgreSQL client options", [
      {
        path: ["url"],
        message: `url is empty: pass a postgres:// URL, or leave url out to read ${URL_VARIABLE} (or the PG* variables without it)`,
      },
    ]);
  }
  // Refused before postgres.js sees it: it would try any scheme as PostgreSQL (see schemeIssue).
  const notPostgres = connectionUrl === undefined ? undefined : schemeIssue(connectionUrl);
  if (notPostgres !== undefined) {
    throw new ValidationError("Invalid PostgreSQL connection options", [
      { path: ["url"], message: `the connection URL is ${notPostgres}` },
    ]);
  }
  // A statement_timeout in the URL's query or in `connection` is sent over statementTimeoutMs (postgres.js
  // sends the URL's parameters over `connection`, which wins over ours): held to the same minimum.
  // The server reads the name in any case: STATEMENT_TIMEOUT is held to the same rules.
  const given = [
    ...(connectionUrl === undefined ? [] : urlSettingValues(connectionUrl, "statement_timeout")),
    ...connectionSettingValues(rest.connection, "statement_timeout"),
  ].filter((value) => value !== undefined);
  for (const value of given) {
    const ms = timeoutMs(value);
    if (ms === undefined || (typesFetched && ms > 0 && ms < MIN_STATEMENT_TIMEOUT_MS)) {
      throw new ValidationError("Invalid PostgreSQL client options", [
        {
          path: ["statement_timeout"],
          message:
            ms === undefined
              ? "statement_timeout (in the URL or connection) must be a number of milliseconds, or a number with a unit (ms, s, min, h, d)"
              : `statement_timeout (in the URL or connection) must be 0 (none) or at least ${MIN_STATEMENT_TIMEOUT_MS} ms while fetch_types is on`,
        },
      ]);
    }
  }
  // postgres.js makes a URL's unknown query parameters startup parameters, over `connection`: a URL
  // naming another tenant (`?eventflows.tenant=…`) would have this tenant's pool serve that tenant.
  if (ownTenant !== undefined && connectionUrl !== undefined && urlSetsOtherTenant(connectionUrl, ownTenant)) {
    throw new ValidationError("Invalid PostgreSQL client options", [
      {
        path: ["url"],
        message: `the URL sets ${TENANT_SETTING} to another tenant than the tenant option: remove it from the URL`,
      },
    ]);
  }
  // A URL's max and timeouts win over our defaults, and options over both, as postgres.js ranks its own.
  const pool = {
    max: DEFAULT_CLIENT_OPTIONS.max,
    idle_timeout: DEFAULT_CLIENT_OPTIONS.idle_timeout,
    connect_timeout: DEFAULT_CLIENT_OPTIONS.connect_timeout,
    ...(connectionUrl === undefined ? {} : poolOptionsFromUrl(connectionUrl)),
  };
  const connectTimeoutOption = "connect_timeout" in rest ? rest.connect_timeout : pool.connect_timeout;
  // A `backoff` the caller passes, in the options or the URL's query, is theirs to keep.
  const ownBackoff =
    "backoff" in rest || (connectionUrl !== undefined && urlParameters(connectionUrl, "backoff").length > 0);
  const ownQueueTimeout =
    "queue_timeout" in rest ||
    (connectionUrl !== undefined && urlParameters(connectionUrl, "queue_timeout").length > 0);
  const merged = {
    ...pool,
    // postgres.js's own pause before reconnecting grows without bound on a client that uses
    // `reserve()` (see reconnectBackoff): the same growth, capped well below connect_timeout.
    ...(ownBackoff ? {} : { backoff: reconnectBackoff(Number(connectTimeoutOption)) }),
    // postgres.js 4's bound on the wait for a connection (3.4 ignores the option; the wrapper below
    // bounds it there): connect_timeout, as with 3.4, unless the caller set their own.
    ...(ownQueueTimeout ? {} : { queue_timeout: queueTimeout(connectTimeoutOption) }),
    // postgres.js prints server notices ("schema exists, skipping") by default.
    onnotice: () => undefined,
    ...rest,
    ...guardedPassword(rest),
    connection: {
      application_name: application_name ?? "eventflows",
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
      // The option wins over the setting under any case of its name, and is sent last.
      ...(ownTenant === undefined ? rest.connection : withoutSetting(rest.connection, TENANT_SETTING)),
      ...(ownTenant === undefined ? {} : { [TENANT_SETTING]: ownTenant }),
    },
  };
  let client: PostgresSql;
  try {
    client = connectionUrl === undefined ? postgres(merged) : postgres(connectionUrl, merged);
  } catch (error) {
    // postgres.js reads the PG* variables for its defaults whatever it is given: on Deno without
    // --allow-env for them, that is what failed, not the options.
    if (isDenoRefusal(error, "env")) {
      throw new ValidationError("The PostgreSQL client could not be made", [
        {
          path: ["env"],
          message:
            "the runtime refused postgres.js the PG* variables it reads for its defaults: on Deno, grant --allow-env=PG*",
        },
      ]);
    }
    // postgres.js throws what URL parsing threw, whose `input` (and, on some runtimes, message) is
    // the whole URL with its password: say what is wrong without it, and keep no cause.
    throw new ValidationError("Invalid PostgreSQL connection options", [
      { path: [connectionUrl === undefined ? "client" : "url"], message: refusal(error, connectionUrl) },
    ]);
  }
  const badAddress =
    addressIssue(client) ??
    (connectionUrl === undefined ? undefined : hostPartIssue(connectionUrl, !isPostgresJs4(client)));
  if (badAddress !== undefined) {
    void client.end({ timeout: 0 }).catch(() => undefined);
    throw new ValidationError("Invalid PostgreSQL connection options", [
      { path: [connectionUrl === undefined ? "port" : "url"], message: badAddress },
    ]);
  }
  // postgres.js 4 bounds the wait for a connection itself (queue_timeout, given above); 3.4 needs the wrapper.
  const connectTimeout = merged.connect_timeout;
  if (
    !isPostgresJs4(client) &&
    typeof connectTimeout === "number" &&
    Number.isFinite(connectTimeout) &&
    connectTimeout > 0
  ) {
    client = boundConnectionWait(client, connectTimeout * 1000);
  }
  if (ownTenant !== undefined) Object.defineProperty(client, TENANT, { value: ownTenant });
  return client;
}

/** postgres.js 4's `queue_timeout` (seconds, 0 for none) for a `connect_timeout` (seconds, or what the URL said). */
function queueTimeout(connectTimeout: unknown): number {
  const seconds = Number(connectTimeout);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

/**
 * What is wrong with the hosts and ports a client was made with, if anything. postgres.js 3.4 refuses
 * a URL whose port is out of range as it parses it; 4.x takes it (`:99999`, `:12x`) and every statement
 * then fails to connect, retryably, for ever. Said without the URL (it may hold the password).
 */
function addressIssue(sql: PostgresSql): string | undefined {
  const { port, host } = (sql as { options?: { port?: unknown; host?: unknown } }).options ?? {};
  const ports = Array.isArray(port) ? port : [port];
  const hosts = Array.isArray(host) ? host : [host];
  if (
    ports.some((value) => !Number.isInteger(value) || (value as number) < 1 || (value as number) > 65_535) ||
    // A host postgres.js 4 kept with what followed its colon: a port that is not a number.
    hosts.some((name) => typeof name === "string" && /^[^[:]*:[^:]*$/.test(name))
  ) {
    return "the port must be an integer from 1 to 65535";
  }
  // 3.4's URL parsing refuses a space in the host too; 4.x looked the name up, and failed for ever.
  if (hosts.some((name) => typeof name === "string" && /[\s\p{Cc}]/u.test(name))) {
    return "the host must be a host name, an IP address or a socket directory, without spaces";
  }
  return undefined;
}

/**
 * A password function (postgres.js's `password`, or its alias `pass`) that cannot fail: postgres.js
 * awaits it in its socket's data handler, so what it throws escaped as an unhandled rejection (ending a
 * Node process, printed with every field of the error: a vault client's may hold the secret) and the
 * connection was left unanswered until connect_timeout. A failure is logged instead (masked, as every
 * line of the library's logger) and the password sent is empty, which PostgreSQL refuses whatever the
 * role's (a 28P01, as a wrong password), so the call fails at once with a typed error.
 */
function guardedPassword(options: PostgresClientOptions): Pick<PostgresClientOptions, "password" | "pass"> {
  const given = options.pass ?? options.password;
  if (typeof given !== "function") return {};
  const password = async () => {
    try {
      return await given();
    } catch (error) {
      const message = "the PostgreSQL password function failed: an empty password is sent, which the server refuses";
      getLogger().error(message, { error });
      return "";
    }
  };
  return { password, pass: password };
}

/**
 * What a statement, transaction or `reserve()` that got no connection within `connect_timeout`
 * rejects with: postgres.js's own code for it, which the stores turn into a retryable ServiceError.
 */
function connectionWaitError(): Error {
  return Object.assign(
    new Error("write CONNECT_TIMEOUT: no connection to PostgreSQL was ready within connect_timeout"),
    { code: "CONNECT_TIMEOUT" },
  );
}

/** The parts of a postgres.js query this module uses (set by postgres.js on every tagged or unsafe query). */
interface PendingQuery extends Promise<unknown> {
  handler: ((query: PendingQuery) => unknown) & { debug?: unknown };
  /** The backend it was sent to: null until a ready connection takes it. */
  state: unknown;
  reject: (error: unknown) => void;
  cancel: () => unknown;
}

function isPendingQuery(value: unknown): value is PendingQuery {
  const query = value as Partial<PendingQuery> | null;
  return value instanceof Promise && typeof query?.handler === "function" && typeof query.cancel === "function";
}

/** Whether no connection has taken the statement yet (postgres.js sets its backend as it sends it). */
function waiting(query: PendingQuery): boolean {
  return query.state === null || query.state === undefined;
}

/**
 * Bounds how long a statement, a transaction or `reserve()` waits for a connection by `waitMs`
 * (`connect_timeout`). postgres.js's own connect timer is restarted on every attempt, and when a
 * server that is not PostgreSQL (an HTTP port, say) closes the connection during the startup,
 * postgres.js connects again at once, without end: the statement would wait forever. Here a
 * statement still not taken by a ready connection after `waitMs` is cancelled (taken out of the
 * queue, never sent, see cancelStatement) and rejected with CONNECT_TIMEOUT; a transaction whose callback has not started
 * is rejected the same way, and its callback, if a connection comes later, throws before running.
 * Statements already on a connection are bounded by `statement_timeout` instead.
 */
function boundConnectionWait(sql: PostgresSql, waitMs: number): PostgresSql {
  // One bounded handler per postgres.js handler (the pool's, a reserved connection's), made once and
  // reused: a statement costs a property write here, not a closure of its own.
  const bounded = new WeakMap<PendingQuery["handler"], PendingQuery["handler"]>();
  const boundedHandler = (handler: PendingQuery["handler"]): PendingQuery["handler"] => {
    let wrapped = bounded.get(handler);
    if (wrapped === undefined) {
      wrapped = Object.assign(
        (pending: PendingQuery) => {
          const handed = handler(pending);
          // An open connection takes the statement at once (postgres.js sets its backend as it hands
          // it over): no timer for the usual case. Only a statement left waiting, for a connection
          // being opened or a pool that is full, is bounded.
          if (waiting(pending)) {
            const timer = setTimeout(() => {
              if (!waiting(pending)) return;
              pending.reject(connectionWaitError());
              cancelStatement(pending);
            }, waitMs);
            unref(timer);
            const clear = () => clearTimeout(timer);
            pending.then(clear, clear);
          }
          return handed;
        },
        // What postgres.js keeps on its handler (3.x: debug; 4.x: options and cancel too).
        { ...handler },
      );
      bounded.set(handler, wrapped);
    }
    return wrapped;
  };
  const watch = (query: unknown): unknown => {
    if (!isPendingQuery(query)) return query; // a fragment (sql("name"), sql(rows)), not a statement
    // Armed when postgres.js hands the query to the pool, not when it is built: a query nested in
    // another as a fragment is never handed over, and must never be rejected.
    query.handler = boundedHandler(query.handler);
    return query;
  };
  // biome-ignore lint/suspicious/noExplicitAny: postgres.js's begin and reserve take any callbacks
  type Callback = (...args: any[]) => unknown;
  const begin = (...args: unknown[]): Promise<unknown> => {
    const work = args.at(-1);
    if (typeof work !== "function") return (sql.begin as Callback)(...args) as Promise<unknown>;
    let started = false;
    let late = false;
    const guarded = (tx: unknown) => {
      started = true;
      if (late) throw connectionWaitError(); // rolled back: the caller was told it failed
      return (work as Callback)(tx);
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (started) return;
        late = true;
        reject(connectionWaitError());
      }, waitMs);
      unref(timer);
      const settled = (sql.begin as Callback)(...args.slice(0, -1), guarded) as Promise<unknown>;
      settled.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  };
  const reserve = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(connectionWaitError());
      }, waitMs);
      unref(timer);
      sql.reserve().then(
        (reserved) => {
          clearTimeout(timer);
          if (late) reserved.release();
          else resolve(reserved);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  // Made once, not per property read: `sql.unsafe` is read for every statement.
  const unsafe = (...args: unknown[]) => watch((sql.unsafe as Callback)(...args));
  const file = (...args: unknown[]) => watch((sql.file as Callback)(...args));
  return new Proxy(sql, {
    apply(target, self, args: unknown[]) {
      return watch(Reflect.apply(target, self, args));
    },
    get(target, property, receiver) {
      if (property === "begin") return begin;
      if (property === "reserve") return reserve;
      if (property === "unsafe") return unsafe;
      if (property === "file") return file;
      return Reflect.get(target, property, receiver);
    },
  });
}

/**
 * Cancels a statement (postgres.js's `cancel()`), and makes sure one that was never sent never will
 * be, without losing the connection it may be waiting for. `cancel()` takes a waiting statement out
 * of the pool's queue; but a statement that asked for a closed connection is that connection's first
 * one (postgres.js keeps it while it connects), and a cancelled first statement left the connection,
 * once open, neither running anything nor ready for anything: a pool slot lost for good, and after
 * `max` of them a client that never recovered, even once the server was back. So a waiting statement
 * is also emptied (an empty simple query, which the server answers with nothing): a connection that
 * opens later runs that and serves the pool. A statement already sent is cancelled on the server.
 * postgres.js 4's pool never sends a cancelled statement, and is left to do so (see cancelOnPostgresJs4).
 */
export function cancelStatement(query: unknown): void {
  if (!isPendingQuery(query)) {
    // Not postgres.js's own query (a tenant-scoped client's, which cancels what it runs): its cancel().
    (query as { cancel?: () => unknown } | null)?.cancel?.();
    return;
  }
  if (isPostgresJs4(query.handler)) {
    cancelOnPostgresJs4(query);
    return;
  }
  const unsent = waiting(query);
  query.cancel();
  if (!unsent) return;
  Object.assign(query, {
    strings: [""],
    args: [],
    options: { simple: true, prepare: false },
    cursorFn: undefined,
    onlyDescribe: false,
    cancelled: null,
  });
}

/**
 * postgres.js 4 never sends a statement it was asked to cancel: its pool takes a waiting one out of
 * its queue, and one not yet handed to the pool (postgres.js hands it over a microtask after it is
 * awaited) is only marked `cancelled`, rejected when a connection would take it. A mark it leaves
 * there (a full pool) waited for queue_timeout; so once the statement is handed over, it is
 * cancelled again, which takes it out of the queue. (3.4's emptying, below, cleared that mark: the
 * ping ran and resolved after its abort.)
 */
function cancelOnPostgresJs4(query: PendingQuery): void {
  void Promise.resolve(query.cancel()).catch(() => undefined);
  const marked = query as { cancelled?: unknown; settled?: unknown };
  if (marked.cancelled !== true) return;
  queueMicrotask(() => {
    if (marked.settled !== true) void Promise.resolve(query.cancel()).catch(() => undefined);
  });
}

/** A pending timer must not keep a Node or Bun process alive (Workers' timers are numbers). */
function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
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
  // postgres.js quotes option values it refuses (a URL's query too: `target_session_attrs api_token=…`):
  // credentials inside them are masked, as the logs mask them.
  return secrets.some((secret) => message.includes(secret))
    ? "postgres.js refused the client options"
    : `postgres.js refused the client options: ${redactText(message).slice(0, 200)}`;
}

/**
 * Whether a URL's query sets the tenant setting to anything but `tenant`, under its name in any case
 * (`EVENTFLOWS.TENANT` is the same setting to the server).
 */
function urlSetsOtherTenant(url: string, tenant: string): boolean {
  return urlSettingValues(url, TENANT_SETTING).some((value) => value !== tenant);
}

const TIMEOUT_UNITS: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A `statement_timeout` setting in milliseconds as the server reads it (a number is ms), or undefined if it is not one. */
function timeoutMs(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match =
    typeof value === "string"
      ? /^\s*(\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value)
      : null;
  if (match === null) return undefined;
  return Number(match[1]) * (TIMEOUT_UNITS[match[2] ?? "ms"] ?? 1);
}

/** The user and password spelled in a URL, found without parsing it (it may not parse). */
function credentialsOf(url: string): string[] {
  const match = /^[^:]+:\/\/([^@/]*)@/.exec(url);
  if (match?.[1] === undefined) return [];
  const [user, ...password] = match[1].split(":");
  return [user ?? "", password.join(":"), match[1]];
}
