import { isServiceError } from "../../src/index.js";
import type { PostgresSql, PostgresTransactionSql } from "./client.js";
import { SERVICE } from "./errors.js";

// postgres.js 3.4 (3.4.9, 3.4.10) writes ROLLBACK (or ROLLBACK TO, or COMMIT) once the work of a
// begin or a savepoint settles, also when the transaction's connection has closed meanwhile: the
// write goes to a connection whose socket is gone, and postgres.js's next write, in a timer of its
// own, throws (`socket.write` of null), an uncaught TypeError that ends the process, on Node and on
// Bun. Nothing we catch. So work whose connection is gone never settles inside postgres.js: its begin
// rejects on its own then (it races the work against the connection's close), and nothing more is
// written. postgres.js 4.2 does not crash so: with this withholding off, the killed-transaction tests
// in reliability.int.test.ts end Node with that TypeError on 3.4.10 and pass on 4.2.0. It stays for
// 3.4; on 4.x the caller gets begin's own error for the lost connection instead of the work's.

// postgres.js's codes for a statement failed because its socket closed or broke (a socket error is
// always followed by the close): the close that rejects begin comes with them.
const SOCKET_GONE = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/**
 * If work failed for a reason that is not a closed socket after all (begin has not rejected
 * within this), it is handed back to postgres.js, whose ROLLBACK then goes to a live connection.
 */
const CLOSE_EXPECTED_WITHIN_MS = 5_000;

function isSocketGone(error: unknown): boolean {
  const code = isServiceError(error)
    ? error.service === SERVICE
      ? error.serviceCode
      : undefined
    : (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && SOCKET_GONE.has(code);
}

/** One begin's state, shared with the savepoints inside it: whether begin has settled (its connection closed under the work). */
interface Scope {
  over: boolean;
  readonly closed: Promise<void>;
}

const scopes = new WeakMap<object, Scope>();

type Work<T> = (tx: PostgresTransactionSql) => T | Promise<T>;

/**
 * postgres.js's `begin`, except that its work's outcome is withheld from postgres.js once the
 * connection is gone (see above): the caller gets begin's own CONNECTION_CLOSED instead.
 */
export function beginUnlessGone<T>(sql: PostgresSql, options: string | undefined, work: Work<T>): Promise<T> {
  let closedNow: () => void = () => undefined;
  const scope: Scope = {
    over: false,
    closed: new Promise<void>((resolve) => {
      closedNow = resolve;
    }),
  };
  const scoped = (tx: PostgresTransactionSql) => {
    scopes.set(tx, scope);
    return withheldWhenGone(scope, () => work(tx));
  };
  const begun = (options === undefined ? sql.begin(scoped) : sql.begin(options, scoped)) as Promise<T>;
  const over = () => {
    scope.over = true;
    closedNow();
  };
  begun.then(over, over);
  return begun;
}

/** The transaction's `savepoint`, with its work's outcome withheld the same way once the connection is gone. */
export function savepointUnlessGone<T>(tx: PostgresTransactionSql, work: Work<T>): Promise<T> {
  const scope = scopes.get(tx);
  return tx.savepoint((inner) => {
    if (scope !== undefined) scopes.set(inner, scope);
    return withheldWhenGone(scope, () => work(inner));
  }) as Promise<T>;
}

async function withheldWhenGone<T>(scope: Scope | undefined, work: () => T | Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    if (scope?.over) return never();
    if (!isSocketGone(error)) throw error;
    // The close that fails a statement with these codes rejects begin too, a few turns later. (In
    // a transaction not begun here, the caller's begin does.)
    if (scope === undefined || (await closedWithin(scope))) return never();
    throw error;
  }
  // Work that ended after its connection closed (it waited on something else): begin has rejected.
  return scope?.over ? never() : result;
}

/** Whether begin settled (its connection closed) within CLOSE_EXPECTED_WITHIN_MS. */
async function closedWithin(scope: Scope): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CLOSE_EXPECTED_WITHIN_MS);
  });
  const closed = await Promise.race([scope.closed.then(() => true as const), late]);
  clearTimeout(timer);
  return closed;
}

/** A promise that never settles: nothing references it once its caller is gone, so it is collected. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}
