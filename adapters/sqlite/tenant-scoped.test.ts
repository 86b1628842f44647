/**
 * A tenant's store over a SQLite store shared by mistake (one file for two tenants, where the
 * strategy is a file per tenant): the model-based property of src/tenancy, on bun:sqlite with its
 * transactions and on D1's form (no `transaction`, no `write`: single-statement appends and batched
 * stream changes), whose deletions read and decide outside a transaction.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isPayloadTooLargeError, tenancy } from "../../src/index.js";
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

test("a tenant's append refused as too large (the store's maxEventBytes, 413) costs no quota: nothing was written", async () => {
  // A PayloadTooLargeError kept what the append took, and the tenant's next valid append was refused as
  // over its quota (outside audit); a ValidationError always gave it back.
  const store = new SqliteEventStore({ driver: bunSqliteDriver(new Database(":memory:")), maxEventBytes: 1024 });
  await store.migrate();
  const tenants = tenancy({ stores: () => ({ eventStore: store }), quotas: { appendsPerWindow: 2 } });
  const acme = (await tenants.forTenant("acme")).stores.eventStore;
  for (let i = 0; i < 3; i++) {
    const error = await acme
      .appendToStream("Big-1", [{ type: "Big", data: { text: "x".repeat(2048) } }])
      .catch((e: unknown) => e);
    expect(isPayloadTooLargeError(error)).toBe(true);
  }
  expect(await store.getStreamVersion("Big-1")).toBe(0);
  await acme.appendToStream("Small-1", [{ type: "Small", data: {} }]);
  await acme.appendToStream("Small-1", [{ type: "Small", data: {} }]);
  const over = await acme.appendToStream("Small-1", [{ type: "Small", data: {} }]).catch((e: unknown) => e);
  expect((over as { code?: unknown }).code).toBe("TENANT_QUOTA_EXCEEDED");
});
