/**
 * Multi-tenancy over HTTP: two principals of two tenants on one Hono app. Every route runs against
 * the caller's tenant only, whatever cart ids, versions and metadata the caller crafts.
 */
import { describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import { Hono } from "hono";
import {
  configureMetrics,
  ErrorCode,
  InMemoryEventStore,
  MetricLabel,
  MetricName,
  TenancyErrorCode,
  tenancy,
  ValidationError,
} from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { type Principal, UnauthorizedError } from "../http/index.js";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes } from "./routes.js";

/** Bearer tokens and who they are. */
const principals: Record<string, Principal> = {
  alice: { userId: "alice", metadata: { tenant: "acme" } },
  bob: { userId: "bob", metadata: { tenant: "globex" } },
  // The same user id in two tenants: their idempotency keys must not meet.
  "admin-acme": { userId: "admin", metadata: { tenant: "acme" } },
  "admin-globex": { userId: "admin", metadata: { tenant: "globex" } },
  // A principal that claims another tenant in metadata it controls: the tenant still comes from tenantOf.
  mallory: { userId: "mallory", metadata: { tenant: "globex", tenantId: "acme" } },
  nobody: { userId: "nobody" },
  ghost: { userId: "ghost", metadata: { tenant: "gone" } },
  malformed: { userId: "m", metadata: { tenant: "Acme/../globex" } },
  small: { userId: "s", metadata: { tenant: "small" } },
};

function setup(options: { shared?: InMemoryEventStore } = {}) {
  const errors: unknown[] = [];
  const tenants = tenancy({
    stores: () => ({ eventStore: options.shared ?? new InMemoryEventStore() }),
    services: ({ stores }) => cartDomain(stores.eventStore),
    knows: (tenant) => tenant !== "gone",
    quotas: (tenant) => (tenant === "small" ? { appendsPerWindow: 1, windowMs: 30_000 } : undefined),
  });
  const domain = cartDomain();
  const app = new Hono();
  app.route(
    "/api",
    eventFlowsRoutes({
      commands: { bus: (_c, tenant) => (tenant?.services ?? domain).commands, schemas: domain.routes.commands.schemas },
      queries: { bus: (_c, tenant) => (tenant?.services ?? domain).queries, schemas: domain.routes.queries.schemas },
      auth: ({ request }) => {
        const token = request.headers.get("authorization")?.replace(/^Bearer /, "");
        if (token === undefined) throw new UnauthorizedError();
        return principals[token] ?? false;
      },
      tenancy: { tenants, tenantOf: (principal) => principal?.metadata?.tenant as string | undefined },
      onError: (error) => errors.push(error),
    }),
  );
  const as = (token: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(`/api${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const storeOf = async (tenant: string) => (await tenants.forTenant(tenant)).stores.eventStore;
  return { as, tenants, storeOf, errors, app };
}

describe("tenancy over HTTP", () => {
  test("each tenant's commands and queries see its own carts only, the same cart ids included", async () => {
    const { as, storeOf } = setup();
    expect((await as("alice", "/commands/OpenCart", { cartId: "c1" })).status).toBe(200);
    expect(await (await as("alice", "/commands/AddItem", { cartId: "c1", sku: "A", quantity: 2 })).json()).toEqual({
      version: 2,
    });
    // Bob's query for Alice's cart finds nothing; his own cart c1 is a new stream at version 1.
    expect((await as("bob", "/queries/GetCart?cartId=c1")).status).toBe(204);
    expect(await (await as("bob", "/commands/OpenCart", { cartId: "c1" })).json()).toEqual({
      cartId: "c1",
      version: 1,
    });
    // Alice's version, crafted by Bob, is a conflict in his tenant, not a write to hers.
    const crafted = await as("bob", "/commands/AddItem", { cartId: "c1", sku: "X", quantity: 1, expectedVersion: 2 });
    expect(crafted.status).toBe(409);
    expect(await (await as("alice", "/queries/GetCart?cartId=c1")).json()).toEqual({
      cartId: "c1",
      items: { A: 2 },
      version: 2,
    });
    const acme = await collect((await storeOf("acme")).readAll());
    expect(acme.map((e) => [e.type, e.metadata.tenantId])).toEqual([
      ["CartOpened", "acme"],
      ["ItemAdded", "acme"],
    ]);
  });

  test("property: no cart id Bob crafts reads or writes Alice's carts", async () => {
    const { as, storeOf } = setup();
    await as("alice", "/commands/OpenCart", { cartId: "secret" });
    await as("alice", "/commands/AddItem", { cartId: "secret", sku: "alice-only", quantity: 1 });
    const before = await collect((await storeOf("acme")).readAll());
    const cartId = fc.oneof(
      fc.constantFrom("secret", "acme-secret", "Cart-secret", "acme", "SECRET", "secret-"),
      fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/),
    );
    await fc.assert(
      fc.asyncProperty(cartId, async (id) => {
        const read = await as("bob", `/queries/GetCart?cartId=${encodeURIComponent(id)}`);
        expect([204, 200]).toContain(read.status);
        if (read.status === 200) expect(JSON.stringify(await read.json())).not.toContain("alice-only");
        await as("bob", "/commands/OpenCart", { cartId: id });
        await as("bob", "/commands/AddItem", { cartId: id, sku: "x", quantity: 1 });
      }),
      { numRuns: 60 },
    );
    expect(await collect((await storeOf("acme")).readAll())).toEqual(before);
  });

  test("with the tenant metrics label on, dispatches and appends count under the caller's tenant, not a claimed one", async () => {
    const reader = new (class extends MetricReader {
      protected async onForceFlush() {}
      protected async onShutdown() {}
    })();
    configureMetrics({ meterProvider: new MeterProvider({ readers: [reader] }), tenantLabel: true });
    try {
      const { as } = setup();
      await as("alice", "/commands/OpenCart", { cartId: "c1" });
      await as("mallory", "/commands/OpenCart", { cartId: "m1" });
      const { resourceMetrics } = await reader.collect();
      const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
      for (const name of [MetricName.commandDuration, MetricName.eventsAppended]) {
        const tenants = metrics
          .filter((metric) => metric.descriptor.name === name)
          .flatMap((metric) =>
            (metric.dataPoints as { attributes: Record<string, unknown> }[]).map((p) => p.attributes),
          )
          .map((attributes) => attributes[MetricLabel.tenant]);
        expect(tenants.sort()).toEqual(["acme", "globex"]);
      }
    } finally {
      configureMetrics({ meterProvider: undefined, tenantLabel: false });
    }
  });

  test("the tenant goes into every command's metadata over anything the principal claims", async () => {
    const { as, storeOf, tenants } = setup();
    await as("mallory", "/commands/OpenCart", { cartId: "m1" });
    const [command] = (await tenants.forTenant("globex")).services.seen;
    expect(command?.metadata.tenantId).toBe("globex");
    const [stored] = await collect((await storeOf("globex")).readStream("Cart-m1"));
    expect(stored?.metadata.tenantId).toBe("globex");
    expect(await collect((await storeOf("acme")).readAll())).toEqual([]);
  });

  test("no tenant, an unknown or malformed tenant: refused before the route is looked up", async () => {
    const { as, app, tenants } = setup();
    for (const [token, status, code] of [
      ["nobody", 403, "FORBIDDEN"],
      ["ghost", 403, TenancyErrorCode.UnknownTenant],
      ["malformed", 403, TenancyErrorCode.InvalidTenant],
    ] as const) {
      for (const path of ["/commands/OpenCart", "/commands/NoSuchCommand", "/queries/GetCart?cartId=c1"]) {
        const response = await as(token, path, path.startsWith("/commands") ? { cartId: "c1" } : undefined);
        expect(response.status).toBe(status);
        expect(await response.json()).toMatchObject({ code });
      }
    }
    expect((await app.request("/api/queries/GetCart?cartId=c1")).status).toBe(401);
    expect(tenants.size).toBe(0);
  });

  test("idempotency keys are scoped by tenant: one user id in two tenants never replays the other's response", async () => {
    const { as } = setup();
    const key = { "idempotency-key": "k-1" };
    const first = await as("admin-acme", "/commands/OpenCart", { cartId: "c9" }, key);
    const second = await as("admin-globex", "/commands/OpenCart", { cartId: "c9" }, key);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    const again = await as("admin-acme", "/commands/OpenCart", { cartId: "c9" }, key);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  test("a tenant over its append quota gets 429 with Retry-After, and nothing is written", async () => {
    const { as, storeOf } = setup();
    expect((await as("small", "/commands/OpenCart", { cartId: "q1" })).status).toBe(200);
    const over = await as("small", "/commands/OpenCart", { cartId: "q2" });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(over.headers.get("retry-after"))).toBeLessThanOrEqual(30);
    expect(await over.json()).toMatchObject({
      code: TenancyErrorCode.QuotaExceeded,
      limit: "appendsPerWindow",
      max: 1,
    });
    expect(await (await storeOf("small")).getStreamVersion("Cart-q2")).toBe(0);
  });

  test("the OpenAPI document lists what tenancy answers: 429 on commands, 401 and 403 even without an auth hook", async () => {
    const { as, app } = setup();
    await as("small", "/commands/OpenCart", { cartId: "d1" });
    expect((await as("small", "/commands/OpenCart", { cartId: "d2" })).status).toBe(429);
    const doc = await (await app.request("/api/openapi.json")).json();
    const statuses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(statuses("/commands/OpenCart", "post")).toContain("429");
    expect(statuses("/queries/GetCart", "get")).not.toContain("429");
    expect(doc.components.responses.TooManyRequests.description).toContain("TENANT_QUOTA_EXCEEDED");

    // The tenant from a header, no auth hook: a request without one is 401, an unknown tenant 403.
    const tenants = tenancy({
      stores: () => ({ eventStore: new InMemoryEventStore() }),
      services: ({ stores }) => cartDomain(stores.eventStore),
      knows: (tenant) => tenant !== "gone",
    });
    const domain = cartDomain();
    const open = eventFlowsRoutes({
      commands: { bus: (_c, tenant) => (tenant?.services ?? domain).commands, schemas: domain.routes.commands.schemas },
      queries: { bus: (_c, tenant) => (tenant?.services ?? domain).queries, schemas: domain.routes.queries.schemas },
      tenancy: { tenants, tenantOf: (_principal, { request }) => request.headers.get("x-tenant") ?? undefined },
    });
    expect((await open.request("/queries/GetCart?cartId=c1")).status).toBe(401);
    expect((await open.request("/queries/GetCart?cartId=c1", { headers: { "x-tenant": "gone" } })).status).toBe(403);
    const openDoc = await (await open.request("/openapi.json")).json();
    for (const [path, method] of [
      ["/commands/OpenCart", "post"],
      ["/queries/GetCart", "get"],
      ["/queries/GetCart", "post"],
    ] as const) {
      expect(Object.keys(openDoc.paths[path][method].responses)).toEqual(expect.arrayContaining(["401", "403"]));
    }
  });

  test("a tenantOf that gives null (a token's null claim) is no tenant: 401 without credentials, 403 FORBIDDEN with", async () => {
    // Before, null went on to the tenant check: 403 TENANT_INVALID, without credentials too.
    const domain = cartDomain();
    const tenants = tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }) });
    const routes = (auth?: () => Principal) =>
      eventFlowsRoutes({
        ...(auth === undefined ? {} : { auth }),
        queries: { bus: () => domain.queries, schemas: domain.routes.queries.schemas },
        tenancy: { tenants, tenantOf: () => null as unknown as undefined },
      });
    const anonymous = await routes().request("/queries/GetCart?cartId=c1");
    expect([anonymous.status, (await anonymous.json()).code]).toEqual([401, "UNAUTHORIZED"]);
    const signedIn = await routes(() => ({ userId: "u1" })).request("/queries/GetCart?cartId=c1");
    expect([signedIn.status, (await signedIn.json()).code]).toEqual([403, "FORBIDDEN"]);
  });

  test("a scope the factory or tenancy() refuses (a store's options, no eventStore) is the server's fault: 500 SERVICE_ERROR told to onError, not a 400 quoting it", async () => {
    // Before, the ValidationError went out as the caller's 400 VALIDATION_FAILED, with the factory's message
    // (a table name, say), and onError never heard of it.
    const domain = cartDomain();
    for (const stores of [
      () => {
        throw new ValidationError("Invalid DynamoDB options", [{ path: ["tableName"], message: "secret-table" }]);
      },
      () => ({}) as { eventStore: InMemoryEventStore },
    ]) {
      const errors: unknown[] = [];
      const app = eventFlowsRoutes({
        commands: { bus: (_c, tenant) => tenant?.services ?? domain.commands, schemas: domain.routes.commands.schemas },
        queries: { bus: () => domain.queries, schemas: domain.routes.queries.schemas },
        auth: () => ({ userId: "alice", metadata: { tenant: "acme" } }),
        tenancy: { tenants: tenancy({ stores }), tenantOf: (principal) => principal?.metadata?.tenant as string },
        onError: (error) => errors.push(error),
      });
      for (const response of [
        await app.request("/queries/GetCart?cartId=c1"),
        await app.request("/commands/OpenCart", { method: "POST", body: '{"cartId":"c1"}' }),
      ]) {
        const text = await response.text();
        expect([response.status, JSON.parse(text).code]).toEqual([500, ErrorCode.Service]);
        expect(text).not.toMatch(/secret-table|eventStore|factory/);
      }
      expect(errors.map((e) => (e as { cause?: { code?: string } }).cause?.code)).toEqual([
        ErrorCode.Validation,
        ErrorCode.Validation,
      ]);
    }
  });

  test("a store shared by mistake fails closed: 500 without the other tenant's data, the error told to onError", async () => {
    const shared = new InMemoryEventStore();
    const { as, errors } = setup({ shared });
    await as("alice", "/commands/OpenCart", { cartId: "c1" });
    await as("alice", "/commands/AddItem", { cartId: "c1", sku: "card-4111", quantity: 1 });
    const leaked = await as("bob", "/queries/GetCart?cartId=c1");
    expect(leaked.status).toBe(500);
    expect(await leaked.text()).not.toContain("4111");
    expect(errors.map((e) => (e as { code?: string }).code)).toContain(TenancyErrorCode.Isolation);
  });

  test("on a store shared by mistake, a command whose append conflicts on the other tenant's stream answers 500, not a 409 with that stream's version", async () => {
    const shared = new InMemoryEventStore();
    const { as, errors } = setup({ shared });
    await as("alice", "/commands/OpenCart", { cartId: "c1" });
    await as("alice", "/commands/AddItem", { cartId: "c1", sku: "card-4111", quantity: 1 });
    for (const [path, body] of [
      // OpenCart appends at no-stream: Alice's cart is there, at version 2.
      ["/commands/OpenCart", { cartId: "c1" }],
      ["/commands/AddItem", { cartId: "c1", sku: "x", quantity: 1, expectedVersion: 7 }],
    ] as const) {
      const response = await as("bob", path, body);
      const text = await response.text();
      expect([path, response.status]).toEqual([path, 500]);
      expect(text).not.toMatch(/actualVersion|Cart-c1|4111/);
    }
    expect(errors.filter((e) => (e as { code?: string }).code === TenancyErrorCode.Isolation)).toHaveLength(2);
    // Bob's own new cart is answered as before, and a conflict on his own cart is still a 409.
    expect((await as("bob", "/commands/OpenCart", { cartId: "b1" })).status).toBe(200);
    const own = await as("bob", "/commands/OpenCart", { cartId: "b1" });
    expect([own.status, ((await own.json()) as { actualVersion?: number }).actualVersion]).toEqual([409, 1]);
  });
});
