import { describe, expect, test } from "bun:test";
import { isValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { TenancyErrorCode } from "./errors.js";
import { TenantEventStore } from "./tenant-event-store.js";
import { type TenantId, tenantId, tenantIdentifier } from "./tenant-id.js";

/** What `tenantId()` refuses: case, separators, the empty id, what is no string. */
const NOT_TENANTS: readonly unknown[] = ["Acme", "ACME!", "", "a_b", "x".repeat(49), 42, null, undefined];

const codeOf = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return "accepted";
};

describe("a tenant's store and SQL name take tenant ids only", () => {
  test("TenantEventStore refuses a tenant tenantId() refuses, before anything is stamped with it", async () => {
    const inner = new InMemoryEventStore();
    for (const tenant of NOT_TENANTS) {
      expect({ tenant, code: codeOf(() => new TenantEventStore(tenant as TenantId, inner)) }).toEqual({
        tenant,
        code: TenancyErrorCode.InvalidTenant,
      });
    }
    expect(await inner.getLastGlobalPosition()).toBe(0);
  });

  test("tenantIdentifier refuses what tenantId() refuses, as tenantSchemaName does", () => {
    for (const tenant of NOT_TENANTS) {
      expect({ tenant, code: codeOf(() => tenantIdentifier(tenant as TenantId)) }).toEqual({
        tenant,
        code: TenancyErrorCode.InvalidTenant,
      });
    }
    expect(tenantIdentifier(tenantId("acme-eu-1"))).toBe("acme_eu_1");
  });

  test("TenantEventStore refuses a wrapped store that is no event store with a ValidationError naming it", () => {
    for (const inner of [undefined, null, {}, "store", { appendToStream: () => undefined }]) {
      let thrown: unknown;
      try {
        new TenantEventStore(tenantId("acme"), inner as never);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as Error).message).toContain("inner");
    }
  });
});
