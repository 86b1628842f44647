import type { SqliteDriver } from "./driver.js";
import { guard } from "./errors.js";

/**
 * The stores' `ping()`: a select of no row from the store's own table (`LIMIT 0`) through the driver
 * (a D1 binding makes it a round trip). It proves the database answers and is migrated: a `SELECT 1`
 * passed on a database without the table, and readiness said ready while every call failed.
 */
export function pingSqlite(driver: SqliteDriver, table: string): Promise<void> {
  return guard("ping", driver.name, async () => {
    await driver.all(`SELECT 1 FROM ${table} LIMIT 0`);
  });
}
