import type { SqliteDriver } from "./driver.js";
import { guard } from "./errors.js";

/** The stores' `ping()`: one `SELECT 1` through the driver (a D1 binding makes it a round trip). */
export function pingSqlite(driver: SqliteDriver): Promise<void> {
  return guard("ping", driver.name, async () => {
    await driver.all("SELECT 1");
  });
}
