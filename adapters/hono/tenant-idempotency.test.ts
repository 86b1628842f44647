/**
 * Idempotency keys in each tenant's own store: `idempotency.store` as a function of the tenant scope,
 * so that a tenant's keys sit where its isolation says (its key prefix on a shared DynamoDB table, its
 * schema), not in one store for every tenant.
 */
import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { InMemoryEventStore, InMemoryIdempotencyStore, tenancy, ValidationError } from "../../src/index.js";
import { type IdempotencyStore, type Principal, UnauthorizedError } from "../http/index.js";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes } from "./routes.js";

const principals: Record<string, Principal> = {
  "admin-acme": { userId: "admin", metadata: { tenant: "acme" } },
  "admin-globex": { userId: "admin", metadata: { tenant: "globex" } },
};

/** An in-memory store that records every key it is asked to claim. */
class RecordingStore extends InMemoryIdempotencyStore {
  readonly claimed: string[] = [];
  override claim(key: string, fingerprint: string) {
    this.claimed.push(key);
    return super.claim(key, fingerprint);
  }
}

function setup(store: (tenant: { stores: { idempotencyStore: RecordingStore } }) => unknown) {
  const errors: unknown[] = [];
  const tenants = tenancy({
    stores: () => ({ eventStore: new InMemoryEventStore(), idempotencyStore: new RecordingStore() }),
    services: ({ stores }) => cartDomain(stores.eventStore),
  });
  const domain = cartDomain();
  const app = new Hono();
  app.route(
    "/api",
    eventFlowsRoutes({
      commands: { bus: (_c, tenant) => (tenant?.services ?? domain).commands, schemas: domain.routes.commands.schemas },
      auth: ({ request }) => {
        const token = request.headers.get("authorization")?.replace(/^Bearer /, "");
        if (token === undefined) throw new UnauthorizedError();
        return principals[token] ?? false;
      },
      tenancy: { tenants, tenantOf: (principal) => principal?.metadata?.tenant as string | undefined },
      idempotency: { store: store as (tenant: unknown) => IdempotencyStore },
      onError: (error) => errors.push(error),
    }),
  );
  const as = (token: string, body: unknown, key?: string) =>
    app.request("/api/commands/OpenCart", {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(key === undefined ? {} : { "idempotency-key": key }),
      },
      body: JSON.stringify(body),
    });
  const storeOf = async (tenant: string) => (await tenants.forTenant(tenant)).stores.idempotencyStore;
  return { as, storeOf, errors };
}

describe("idempotency.store as a function of the tenant", () => {
  test("each tenant's keys go to its own store only: same key, same user id, no replay across tenants", async () => {
    const { as, storeOf } = setup((tenant) => tenant.stores.idempotencyStore);
    const [acme, globex] = await Promise.all([
      as("admin-acme", { cartId: "c1" }, "k-1"),
      as("admin-globex", { cartId: "c2" }, "k-1"),
    ]);
    expect([acme.status, globex.status]).toEqual([200, 200]);
    expect(globex.headers.get("idempotent-replayed")).toBeNull();
    const again = await as("admin-acme", { cartId: "c1" }, "k-1");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const [acmeKeys, globexKeys] = [(await storeOf("acme")).claimed, (await storeOf("globex")).claimed];
    expect(acmeKeys).toHaveLength(2);
    expect(globexKeys).toHaveLength(1);
    expect(acmeKeys).not.toContain(globexKeys[0]);
  });

  test("a function that gives no store answers 500, told to onError, and the command does not run", async () => {
    const { as, errors } = setup(() => ({ claim: "nope" }));
    const response = await as("admin-acme", { cartId: "c1" }, "k-1");
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("nope");
    expect(errors).toHaveLength(1);
    // The cart was not opened: the same command without a key opens it now (a second open would be 409).
    expect((await as("admin-acme", { cartId: "c1" })).status).toBe(200);
  });

  test("a function that throws a ValidationError (a store's options) answers 500 SERVICE_ERROR told to onError, not the caller's 400, and the command does not run", async () => {
    // Before, the caller got 400 VALIDATION_FAILED quoting the store's configuration, and onError heard nothing.
    const { as, errors } = setup(() => {
      throw new ValidationError("Invalid DynamoDB idempotency store options", [{ path: ["tableName"], message: "t!" }]);
    });
    const response = await as("admin-acme", { cartId: "c1" }, "k-1");
    const text = await response.text();
    expect([response.status, JSON.parse(text).code]).toEqual([500, "SERVICE_ERROR"]);
    expect(text).not.toContain("tableName");
    expect(errors.map((e) => (e as { cause?: { code?: string } }).cause?.code)).toEqual(["VALIDATION_FAILED"]);
    expect((await as("admin-acme", { cartId: "c1" })).status).toBe(200);
  });

  test("a function without tenancy is refused when the routes are built: there is no tenant to call it with", () => {
    const build = () =>
      eventFlowsRoutes({
        commands: { bus: cartDomain().commands, schemas: cartDomain().routes.commands.schemas },
        auth: () => ({ userId: "u" }),
        idempotency: { store: () => new InMemoryIdempotencyStore() },
      });
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(/tenancy/);
  });
});
