/**
 * A tenant's store over a SQLite store shared by mistake (one file for two tenants, where the
 * strategy is a file per tenant): the model-based property of src/tenancy, on bun:sqlite with its
 * transactions and on D1's form (no `transaction`, no `write`: single-statement appends and batched
 * stream changes), whose deletions read and decide outside a transaction.
 */
import { Database } from "bun:sqlite";
import { describe, test } from "bun:test";
import { assertSharedStoreMatchesModel } from "../../test/tenancy/shared-store-model.ts";
import { bunSqliteDriver, type SqliteDriver, SqliteEventStore } from "./index.js";

async function migrated(driver: SqliteDriver): Promise<SqliteEventStore> {
  const store = new SqliteEventStore({ driver });
  await store.migrate();
  return store;
}

describe("a tenant's store over a SQLite store shared by mistake", () => {
  test("bun:sqlite: every answer is the tenant's own store's, but for refusals (fast-check)", async () => {
    await assertSharedStoreMatchesModel(() => migrated(bunSqliteDriver(new Database(":memory:"))), 300);
  });

  test("D1's form (no transaction): every answer is the tenant's own store's, but for refusals (fast-check)", async () => {
    await assertSharedStoreMatchesModel(() => {
      const { name, all, batch } = bunSqliteDriver(new Database(":memory:"));
      return migrated({ name, all, batch });
    }, 300);
  });
});
