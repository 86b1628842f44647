/**
 * The database the SQLite store tests share per file: a file in WAL mode, as an application opens it,
 * migrated once and removed after the file's tests; with its driver, and that driver cut down to
 * `all` and `batch` (no interactive transaction nor write), the form D1 has. And two checks every
 * store's test file makes alike: calls on a database never migrated, and bad options.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "../../src/index.js";
import { bunSqliteDriver, migrateSqlite, type SqliteDriver } from "./index.js";

export interface FileDatabase {
  readonly db: Database;
  readonly driver: SqliteDriver;
  /** The same connection with only `all` and `batch`, as D1 has it. */
  readonly batchOnly: SqliteDriver;
}

/** Opens and migrates `<tmp>/eventflows-sqlite-<name>-*`; closes and removes it once the file's tests end. */
export async function fileDatabase(name: string): Promise<FileDatabase> {
  const dir = mkdtempSync(join(tmpdir(), `eventflows-sqlite-${name}-`));
  const db = new Database(join(dir, `${name}.db`));
  const driver = bunSqliteDriver(db);
  await migrateSqlite(driver);
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, driver, batchOnly: { name: driver.name, all: driver.all, batch: driver.batch } };
}

/**
 * Runs each store call against a database never migrated (a fresh `:memory:` one, closed after): each
 * must fail with the typed NOT_MIGRATED, its message free of the SQL words in `sql`.
 */
export async function expectNotMigrated<S>(
  make: (driver: SqliteDriver) => S,
  calls: (store: S) => readonly (() => Promise<unknown>)[],
  sql: RegExp,
): Promise<void> {
  const empty = new Database(":memory:");
  try {
    for (const call of calls(make(bunSqliteDriver(empty)))) {
      const error = await call().then(
        () => undefined,
        (thrown: unknown) => thrown as Error & Record<string, unknown>,
      );
      expect(error).toMatchObject({ code: ErrorCode.Service, service: "SQLite", serviceCode: "NOT_MIGRATED" });
      expect(error?.message).not.toMatch(sql);
    }
  } finally {
    empty.close();
  }
}

/** The issue paths (dotted) of the ValidationError `make(options)` throws; none when it throws nothing. */
export function optionIssuePaths(make: (options: never) => unknown): (options: unknown) => string[] {
  return (options) => {
    try {
      make(options as never);
    } catch (error) {
      return (error as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path.join("."));
    }
    return [];
  };
}
