/**
 * The database the SQLite store tests share per file: a file in WAL mode, as an application opens it,
 * migrated once and removed after the file's tests; with its driver, and that driver cut down to
 * `all` and `batch` (no interactive transaction nor write), the form D1 has.
 */
import { Database } from "bun:sqlite";
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
