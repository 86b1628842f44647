import { type Issue, unknownKeyIssues, ValidationError } from "../../src/index.js";
import type {
  SqliteDriver,
  SqliteRow,
  SqliteStatement,
  SqliteValue,
  SqliteWriteResult,
  SyncStatementRunner,
} from "./driver.js";
import { OPEN_DRIVER, toEventFlowsError } from "./errors.js";

/** What a synchronous SQLite connection offers (bun:sqlite, node:sqlite, better-sqlite3 all do). */
export interface SyncConnection {
  all(sql: string, params: readonly SqliteValue[]): SqliteRow[];
  exec(sql: string): void;
  /** A write statement's changes and last inserted rowid (the driver's `write`), where the connection reports them. */
  run?(sql: string, params: readonly SqliteValue[]): SqliteWriteResult;
}

/**
 * A driver over a synchronous connection. A batch or transaction runs between BEGIN IMMEDIATE and COMMIT:
 * IMMEDIATE takes the write lock up front, so a writer waiting for another one waits in
 * `busy_timeout` instead of failing when it upgrades a read lock (which SQLite refuses at once).
 * Inside a transaction the application opened on the connection, it runs in a savepoint
 * instead, and commits or rolls back with that transaction.
 */
export function syncDriver(name: string, connection: SyncConnection): SqliteDriver {
  const all: SyncStatementRunner = (sql, params = []) => connection.all(sql, params);
  const run = connection.run?.bind(connection);
  const transaction = <T>(work: (run: SyncStatementRunner) => T): T => {
    const [commit, rollback] = open(connection);
    let committed = false;
    try {
      const result = work(all);
      connection.all(commit, []);
      committed = true;
      return result;
    } finally {
      if (!committed) rollBack(connection, rollback);
    }
  };
  return {
    name,
    all: async (sql, params) => all(sql, params),
    batch: async (statements: readonly SqliteStatement[]) =>
      transaction((run) => statements.map((s) => run(s.sql, s.params))),
    transaction,
    ...(run === undefined ? {} : { write: (sql, params = []) => run(sql, params) }),
  };
}

/**
 * Rolls a failed batch back. After some failures (SQLITE_FULL, an I/O error) SQLite has rolled the
 * transaction back itself, and ROLLBACK then fails ("no transaction is active"): that failure must
 * not replace the one that caused it, which says what happened (FULL, or a retryable BUSY).
 */
function rollBack(connection: SyncConnection, rollback: string): void {
  try {
    connection.exec(rollback);
  } catch {
    // Already rolled back: the original error goes on.
  }
}

const SAVEPOINT = "eventflows_batch";

/** Opens the batch's transaction; returns the statements that commit and roll it back. */
function open(connection: SyncConnection): [commit: string, rollback: string] {
  try {
    // Through all(), which keeps prepared statements, rather than exec(), which compiles each time.
    connection.all("BEGIN IMMEDIATE", []);
    return ["COMMIT", "ROLLBACK"];
  } catch (error) {
    if (!/within a transaction/i.test(String((error as Error)?.message))) throw error;
    connection.all(`SAVEPOINT ${SAVEPOINT}`, []);
    // ROLLBACK TO leaves the savepoint open: RELEASE it too, so the outer transaction goes on.
    return [`RELEASE ${SAVEPOINT}`, `ROLLBACK TO ${SAVEPOINT}; RELEASE ${SAVEPOINT}`];
  }
}

export interface FileDefaultsOptions {
  /**
   * Sets `journal_mode = WAL` (readers never block the writer, nor the writer them) when the driver
   * is made. Defaults to true; an in-memory database stays in its "memory" mode either way.
   */
  readonly wal?: boolean;
  /**
   * Sets `busy_timeout`: how long a writer waits for another connection's write lock before failing
   * with a retryable ServiceError (BUSY). Defaults to 5,000 ms.
   */
  readonly busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

const FILE_DEFAULTS_OPTIONS = Object.keys({ wal: true, busyTimeoutMs: true } satisfies Record<
  keyof FileDefaultsOptions,
  true
>);

/**
 * The pragmas a file database gets (see {@link FileDefaultsOptions}). A connection that refuses them
 * (closed, or locked by another for longer than the timeout) fails with a ServiceError, as a statement would.
 */
export function applyFileDefaults(
  connection: SyncConnection,
  options: FileDefaultsOptions | null | undefined,
  driver: string,
): void {
  const timeout = options?.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const wal = options?.wal ?? true;
  // A misspelt `busyTimeout` kept the default wait without a word.
  const issues: Issue[] = unknownKeyIssues(options, FILE_DEFAULTS_OPTIONS);
  if (!Number.isSafeInteger(timeout) || timeout < 0) {
    issues.push({ path: ["busyTimeoutMs"], message: "busyTimeoutMs must be a non-negative integer (milliseconds)" });
  }
  // Checked, not taken for its truthiness: `wal: "false"` (from an environment variable, say) must not set WAL.
  if (typeof wal !== "boolean") issues.push({ path: ["wal"], message: "wal must be true or false" });
  if (issues.length > 0) throw new ValidationError("Invalid SQLite driver options", issues);
  try {
    connection.exec(`PRAGMA busy_timeout = ${timeout}`);
    if (wal) connection.all("PRAGMA journal_mode = WAL", []);
  } catch (error) {
    throw toEventFlowsError(error, OPEN_DRIVER, driver);
  }
}
