import { isEventFlowsError, ServiceError, ValidationError } from "../../src/index.js";

/** The `service` of every {@link ServiceError} this adapter raises. */
export const SERVICE = "postgres";

/** What postgres.js puts on a server error; only these fields are ever copied (never query or parameters). */
interface ServerErrorFields {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly severity?: unknown;
  readonly constraint_name?: unknown;
  readonly table_name?: unknown;
  readonly schema_name?: unknown;
  readonly detail?: unknown;
}

// SQLSTATEs after which the same request may well succeed: a lost or refused connection, a
// serialization failure or deadlock, an overloaded or restarting server, a statement timeout.
const RETRYABLE_STATES = new Set(["40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "53400"]);
// postgres.js's own codes for a connection that broke or could not be made. CONNECTION_ENDED is
// absent on purpose: it means the application closed the client, and retrying will not reopen it.
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  // The host name did not resolve: for good (a typo) or for now (a DNS outage, a service not yet up).
  "ENOTFOUND",
  "EAI_AGAIN",
  // postgres.js 4: what came back is not PostgreSQL's protocol (a port that serves something else, a
  // proxy restarting); the connection is closed, as 3.x closed it with CONNECTION_CLOSED.
  "PROTOCOL_ERROR",
  // postgres.js 4: a cancelled statement's connection that the server left unanswered, destroyed.
  "CANCEL_UNANSWERED",
  // postgres.js 4's query_timeout: the statement was cancelled, as by a statement_timeout (57014).
  "QUERY_TIMEOUT",
  // postgres.js 4's queue_timeout (createPostgresClient sets it to connect_timeout): no connection was
  // free in time, and the statement was never sent.
  "QUEUE_TIMEOUT",
]);

/** The code of workerd's "Network connection lost." (see WORKERD_SOCKET_FAILURES). */
const WORKERD_LOST_CODE = "CONNECTION_LOST";
const LOST_MESSAGE =
  "the connection to PostgreSQL failed or was lost; nothing is known to be written unless the retry says so";

// The wait for a connection ended (connect_timeout; postgres.js 4's queue_timeout, which the client
// sets to connect_timeout). Either code can mean either cause: 3.4 (with the client's bound on the
// wait) says CONNECT_TIMEOUT for a full pool too, and 4.x says QUEUE_TIMEOUT for a host that never
// answers, whose wait ends just before its connection attempt does. Nothing in the error tells which.
const NO_CONNECTION_IN_TIME =
  "no connection to PostgreSQL was ready in time (connect_timeout, or postgres.js 4's queue_timeout): none could be opened (a host that does not answer), or every one was busy; the statement was not sent";

/** query_canceled: the server's for a cancelled statement or a statement_timeout, postgres.js's for its own cancel. */
const CANCELLED = "57014";

/** A server error (it carries a five-character SQLSTATE), as opposed to a client or connection error. */
export function isServerError(error: unknown): error is ServerErrorFields & { code: string } {
  const fields = error as ServerErrorFields | null;
  return (
    typeof fields === "object" &&
    fields !== null &&
    typeof fields.code === "string" &&
    /^[0-9A-Z]{5}$/.test(fields.code) &&
    typeof fields.severity === "string"
  );
}

export function sqlState(error: unknown): string | undefined {
  return isServerError(error) ? error.code : undefined;
}

export function constraintOf(error: unknown): string | undefined {
  if (!isServerError(error)) return undefined;
  return typeof error.constraint_name === "string" ? error.constraint_name : undefined;
}

/**
 * Turns what postgres.js threw into one of our typed errors. Our own errors and errors that are not
 * the database's (a projection handler's, say) pass through unchanged; what postgres.js tied to a
 * statement is the database client's. Messages and causes never carry the SQL text, its parameters,
 * the server's `detail` (which quotes values) or credentials.
 */
export function toEventFlowsError(error: unknown, operation: string): unknown {
  if (isEventFlowsError(error)) return error;
  if (isServerError(error)) return fromServerError(error, operation);
  if (isDenoRefusal(error, "net")) {
    const message =
      "the runtime refused the connection to PostgreSQL: on Deno, grant --allow-net for the database's host and port";
    return new ServiceError(SERVICE, operation, "NET_ACCESS_REFUSED", false, message, {
      cause: sanitizedCause("NET_ACCESS_REFUSED", message),
    });
  }
  const workerd = workerdSocketFailure(error);
  if (workerd !== undefined) {
    return new ServiceError(SERVICE, operation, workerd.code, true, workerd.message, {
      cause: sanitizedCause(workerd.code, workerd.message),
    });
  }
  const code = (error as { code?: unknown } | null)?.code;
  // postgres.js's own cancellation (`cancel()`, an aborted ping, a withdrawn wait): the server's
  // SQLSTATE without a server's fields. 3.4 rejects a statement still waiting for a connection with it
  // bare, 4.x with the statement attached (which the generic path below called CLIENT_ERROR).
  if (code === CANCELLED) {
    const message = "the statement was cancelled (cancel() or an aborted signal) before it finished";
    return new ServiceError(SERVICE, operation, CANCELLED, true, message, {
      cause: sanitizedCause(CANCELLED, message),
    });
  }
  if (typeof code === "string" && (CONNECTION_CODES.has(code) || code === "CONNECTION_ENDED")) {
    const retryable = code !== "CONNECTION_ENDED";
    const message = !retryable
      ? "the client was closed (close() or sql.end() was called)"
      : code === "QUERY_TIMEOUT"
        ? "the statement did not finish within the client's query_timeout and was cancelled"
        : code === "QUEUE_TIMEOUT" || code === "CONNECT_TIMEOUT"
          ? NO_CONNECTION_IN_TIME
          : LOST_MESSAGE;
    return new ServiceError(SERVICE, operation, code, retryable, message, { cause: sanitizedCause(code, message) });
  }
  // postgres.js's own refusals (a server signature that does not match, too many parameters, a
  // protocol message it does not support) and the TLS layer's: the same request would fail again.
  if (typeof code === "string" && (CLIENT_CODES.has(code) || TLS_CODE.test(code))) {
    const message = TLS_CODE.test(code)
      ? "the TLS handshake with PostgreSQL failed: check the server's certificate and the ssl options"
      : code === "TRANSACTION_ROLLED_BACK"
        ? "PostgreSQL rolled the transaction back instead of committing it: a statement in it failed"
        : "the PostgreSQL client refused the exchange with the server";
    return new ServiceError(SERVICE, operation, code, false, message, { cause: sanitizedCause(code, message) });
  }
  // Anything else postgres.js tied to a statement (it defines `query` and `parameters` on what fails
  // one, enumerable with its `debug` option): a socket error of a code not listed above, its refusal of
  // a value, a type's serializer. The database client's failure, said in our words: its message may
  // name the address, and its fields hold the SQL and the values.
  if (
    typeof error === "object" &&
    error !== null &&
    Object.hasOwn(error, "query") &&
    Object.hasOwn(error, "parameters")
  ) {
    const clientCode = typeof code === "string" && /^[A-Z][A-Z0-9_]{1,39}$/.test(code) ? code : "CLIENT_ERROR";
    const message = "the PostgreSQL client failed the statement";
    return new ServiceError(SERVICE, operation, clientCode, false, message, {
      cause: sanitizedCause(clientCode, message),
    });
  }
  return error;
}

// workerd (Cloudflare Workers, miniflare) fails cloudflare:sockets with a plain Error (name "Error",
// no code) in its own words, and postgres.js passes it on as it is: on a statement with `query` and
// `parameters` defined on it, from `reserve()` (tenantScopedSql) bare. Typed as Node's codes for the
// same events are: retryable.
const WORKERD_SOCKET_FAILURES: readonly { readonly words: string; readonly code: string; readonly message: string }[] =
  [
    // connect() failed. Seen with postgres.js 3.4 and 4.2 against a closed local port. Cloudflare's docs
    // give the same words for an address Workers may not reach (localhost, private networks,
    // Cloudflare's own), which no retry fixes; nothing in the error tells the two apart, so it is typed
    // as Node's ECONNREFUSED is: a connection that could not be made.
    {
      words: "proxy request failed, cannot connect to the specified address",
      code: "CONNECT_FAILED",
      message:
        "the connection to PostgreSQL could not be made (on Cloudflare Workers: the port is closed or the host unreachable, or the address is one Workers may not connect to: localhost, a private network, Cloudflare's own); the statement was not sent",
    },
    // A write on a socket the other end dropped (seen in workerd on a connection reset by its peer,
    // with `retryable: true` on it): lost under the statement, as Node's EPIPE and ECONNRESET are.
    {
      words: "Network connection lost.",
      code: WORKERD_LOST_CODE,
      message: LOST_MESSAGE,
    },
  ];

/** workerd's failure of a socket (see WORKERD_SOCKET_FAILURES), or undefined for any other error. */
function workerdSocketFailure(error: unknown): { readonly code: string; readonly message: string } | undefined {
  const { name, message, code } = (typeof error === "object" && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
  };
  if (name !== "Error" || code !== undefined || typeof message !== "string") return undefined;
  return WORKERD_SOCKET_FAILURES.find((failure) => message.startsWith(failure.words));
}

/**
 * Deno's refusal of what its permissions do not grant (`NotCapable`; `PermissionDenied` before
 * Deno 2): `net`, a connection (the message names the host and port: a socket postgres.js opens,
 * never the server's), or `env`, a variable postgres.js reads for its defaults.
 */
export function isDenoRefusal(error: unknown, access: "net" | "env"): boolean {
  const { name, message } = (typeof error === "object" && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
  };
  return (
    (name === "NotCapable" || name === "PermissionDenied") &&
    typeof message === "string" &&
    message.startsWith(`Requires ${access} access`)
  );
}

const MIGRATE = "(store.migrate() or `eventflows-pg migrate`)";
const TABLES_MISSING = `the event store's tables do not exist here: run the migrations first ${MIGRATE}`;
/** The SQLSTATEs of a schema the library is ahead of, in our words (the server's name the table or column). */
const SCHEMA_BEHIND: Readonly<Record<string, string>> = {
  "42P01": TABLES_MISSING,
  "3F000": TABLES_MISSING,
  "42703": `a column the statement uses does not exist: if the schema is older than this release, run the migrations ${MIGRATE}`,
};

// postgres.js's generic errors (`code: message`) that a store's statements can meet.
const CLIENT_CODES = new Set([
  "SASL_SIGNATURE_MISMATCH",
  "MAX_PARAMETERS_EXCEEDED",
  "MESSAGE_NOT_SUPPORTED",
  "COPY_IN_PROGRESS",
  "UNSAFE_TRANSACTION",
  // postgres.js 4's: the authentication the options ask for, which the server does not offer (or
  // offers wrongly); a COMMIT the server answered by rolling back; a custom type not found.
  "AUTH_METHOD_REFUSED",
  "AUTH_TYPE_NOT_IMPLEMENTED",
  "AUTHENTICATION_INCOMPLETE",
  "CHANNEL_BINDING_REQUIRED",
  "SASL_MECHANISM_NOT_SUPPORTED",
  "SASL_NONCE_MISMATCH",
  "TRANSACTION_ROLLED_BACK",
  "NESTED_TRANSACTION_MODE",
  "TYPE_NOT_FOUND",
  "NUL_CHARACTER",
]);
// Node's and Bun's certificate and TLS errors ("DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_TLS_CERT_ALTNAME_INVALID",
// "CERT_HAS_EXPIRED", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", ...), whose messages name the host, and
// postgres.js 4's (SSL_NOT_SUPPORTED, SSL_NEGOTIATION_NOT_SUPPORTED, TLS_HANDSHAKE_FAILED).
const TLS_CODE = /^(?:ERR_TLS_|ERR_SSL_|UNABLE_TO_|TLS_|SSL_)|CERT/;

/**
 * Refusals at connection time, whose server text names the database, the role and the client's
 * address, or a setting and its value: said in our words, the server's kept out of message and cause alike.
 */
function connectionRefusal(state: string, severity: unknown): string | undefined {
  if (state === "3D000") return "the database named in the connection settings does not exist on this server";
  // A setting sent at startup (a URL's query or `options=-c …`, `connection`) the server would not take:
  // a value it cannot read (class 22) or a name it does not know (42704). FATAL, as only the startup
  // fails them (the same refusal of a statement's value is an ERROR, and bad input).
  if (severity === "FATAL" && (state.startsWith("22") || state === "42704")) {
    return "the server refused a setting of the connection (a parameter in the URL's query or its options, or in the client's connection option): check its name and value";
  }
  if (state === "28P01") return "password authentication failed: check the user and password of the connection";
  if (state.startsWith("28")) {
    return "the server refused the connection's role (it does not exist, may not log in, or may not connect from this host or to this database)";
  }
  return undefined;
}

function fromServerError(error: ServerErrorFields & { code: string }, operation: string): EventFlowsError {
  const state = error.code;
  // Syntax errors quote the statement ("at or near ..."); every other server message is safe to show.
  const serverMessage =
    state.startsWith("426") || typeof error.message !== "string"
      ? "the statement was rejected"
      : error.message.slice(0, 200);
  const refused = connectionRefusal(state, error.severity);
  if (refused !== undefined) {
    return new ServiceError(SERVICE, operation, state, false, refused, {
      cause: sanitizedCause(state, refused, error),
    });
  }
  const cause = sanitizedCause(state, serverMessage, error);
  // Tables missing, or a column a statement names missing (most often a schema older than the
  // library: a release that added a migration, deployed before it ran): said in our words.
  const unmigrated = SCHEMA_BEHIND[state];
  if (unmigrated !== undefined) return new ServiceError(SERVICE, operation, state, false, unmigrated, { cause });
  // A write the tenant policies refused (row-level security): the statement's transaction named no
  // tenant, or another tenant than the row's.
  if (state === "42501" && serverMessage.includes("row-level security")) {
    return new ServiceError(
      SERVICE,
      operation,
      state,
      false,
      "refused by the tables' tenant policies: run the store on tenantScopedSql(sql, tenant), and write only its own tenant's rows",
      { cause },
    );
  }
  // Class 22: the server refused a value, e.g. a JSON string jsonb cannot hold.
  if (state.startsWith("22")) {
    // The server's message stays in the cause: it names the database's types, which an HTTP client
    // has no business learning.
    return new ValidationError(
      "A value was refused by the store",
      [{ path: [], message: `invalid value (${state})` }],
      {
        cause,
      },
    );
  }
  // A value past one of the server's size limits: jsonb's 256 MB per value (its binary form, which
  // can be several times the JSON's size), an index entry, or the 1 GB the server allocates at most
  // at once while parsing it (an internal error, XX000, that says so). Bad input like class 22.
  if (
    state === "54000" ||
    state === "54001" ||
    (state === "XX000" && serverMessage.startsWith("invalid memory alloc request size"))
  ) {
    return new ValidationError(
      "A value was too large for the store",
      [{ path: [], message: `too large to store (${state}): store less in it, or split it` }],
      { cause },
    );
  }
  const retryable = RETRYABLE_STATES.has(state) || state.startsWith("08");
  return new ServiceError(SERVICE, operation, state, retryable, serverMessage, { cause });
}

type EventFlowsError = ServiceError | ValidationError;

/** A plain Error with the diagnostic fields only: safe to log. */
function sanitizedCause(code: string, message: string, fields?: ServerErrorFields): Error {
  const cause = new Error(message);
  cause.name = "PostgresError";
  const safe: Record<string, unknown> = { code };
  for (const key of ["severity", "constraint_name", "table_name", "schema_name"] as const) {
    if (typeof fields?.[key] === "string") safe[key] = fields[key];
  }
  return Object.assign(cause, safe);
}

// A connection that broke under the statement, or before it (postgres.js may replay the old
// backend's 57P01 on the first statement after reconnecting): the same statement on a fresh
// connection can succeed.
const LOST_CONNECTION = new Set(["CONNECTION_CLOSED", "ECONNRESET", "EPIPE", "57P01", "57P02", WORKERD_LOST_CODE]);

/** Whether the connection was lost under a statement (see LOST_CONNECTION; workerd's has no code of its own). */
export function isLostConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code ?? workerdSocketFailure(error)?.code;
  return typeof code === "string" && LOST_CONNECTION.has(code);
}

/**
 * Whether the connection a statement was sent on is gone, or going: lost under it (see
 * LOST_CONNECTION), broken by a socket error, destroyed or ended by the client, or ended by the
 * server with a FATAL or PANIC error (which it closes the connection after). Unlike a statement's
 * own error (severity ERROR), after which the connection answers the statements behind it.
 */
export function isConnectionGone(error: unknown): boolean {
  if (isLostConnection(error) || workerdSocketFailure(error) !== undefined) return true;
  if (isServerError(error)) return error.severity === "FATAL" || error.severity === "PANIC";
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  // postgres.js 4's timeouts leave the connection serving: a statement that waited for one and was
  // never sent, or one cancelled on it; unless the cancel went unanswered, and the connection with it.
  if (code === "QUEUE_TIMEOUT") return false;
  if (code === "QUERY_TIMEOUT") return cause?.code === "CANCEL_UNANSWERED";
  return typeof code === "string" && (CONNECTION_CODES.has(code) || code === "CONNECTION_ENDED");
}

/**
 * Runs a statement that is safe to repeat, again on another connection while the one it ran on
 * turns out lost, up to `attempts` runs in all (the pool's size: each dead connection fails once).
 * In a transaction, whose connection is gone with it, pass 1.
 */
export async function guardReconnecting<T>(operation: string, attempts: number, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !isLostConnection(error)) throw toEventFlowsError(error, operation);
    }
  }
}

/** Wraps a database call so whatever it throws comes out typed. */
export async function guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toEventFlowsError(error, operation);
  }
}
