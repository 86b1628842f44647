/**
 * Type-level test, checked by `tsc -p tsconfig.test.json`: the SQLite guide and getting-started tell Node 20
 * users to pass better-sqlite3's `Database` to `nodeSqliteDriver`. Its types (`@types/better-sqlite3`) are
 * installed, the native module is not, so nothing here opens a database.
 */
import { expect, test } from "bun:test";
import type BetterSqlite3 from "better-sqlite3";
import { nodeSqliteDriver } from "./node-driver.js";

test("a better-sqlite3 Database is taken by nodeSqliteDriver without a cast", () => {
  // Refused before under strict (TS2345): the statements' parameters were SqliteValue[], which
  // better-sqlite3's `unknown[]` bind parameters are not assignable from.
  const driverOf = (db: BetterSqlite3.Database) => nodeSqliteDriver(db);
  expect(typeof driverOf).toBe("function");
});
