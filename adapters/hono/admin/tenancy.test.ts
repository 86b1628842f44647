/**
 * The operations UI with tenancy: two operators of two tenants on one admin app. Every API reads and
 * acts on the operator's tenant only; a stream id, version or saga key of the other tenant answers
 * as a missing one does, whether the tenants have stores of their own or (misconfigured) share one.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Hono } from "hono";
import {
  InMemoryEventStore,
  InMemoryReadModelStore,
  InMemorySagaStore,
  LiveHub,
  ProjectionRunner,
  SagaRuntime,
  TenancyErrorCode,
  tenancy,
} from "../../../src/index.js";
import { testEnvelope } from "../../../src/testing/index.js";
import { cartItems } from "../../../test/admin/cart-projection.ts";
import { orderSaga, recordingBus } from "../../../test/sagas/order-saga.ts";
import { type Principal, UnauthorizedError } from "../../http/index.js";
import { adminRoutes } from "../index.js";

const operators: Record<string, Principal> = {
  "op-acme": { userId: "op", metadata: { tenant: "acme" } },
  "op-globex": { userId: "op", metadata: { tenant: "globex" } },
  "op-none": { userId: "nobody" },
};

async function setup(options: { shared?: InMemoryEventStore } = {}) {
  const errors: unknown[] = [];
  const tenants = tenancy({
    stores: () => ({ eventStore: options.shared ?? new InMemoryEventStore() }),
    services: ({ stores }) => {
      const readModels = new InMemoryReadModelStore();
      const runner = new ProjectionRunner({ projection: cartItems, eventStore: stores.eventStore, readModels });
      const { bus, failing } = recordingBus();
      const sagas = new SagaRuntime({
        store: new InMemorySagaStore(),
        commands: bus,
        sagas: [orderSaga],
        retryDelayMs: 0,
        maxAttempts: 2,
        onError: () => undefined,
      });
      const hub = new LiveHub({ store: stores.eventStore, pollIntervalMs: 50 });
      return { readModels, runner, sagas, failing, hub };
    },
  });
  const app = new Hono().route(
    "/admin",
    adminRoutes({
      projections: (_c, tenant) => [{ runner: tenant?.services.runner, readModels: tenant?.services.readModels }],
      sagas: (_c, tenant) => tenant?.services.sagas,
      live: (_c, tenant) => tenant?.services.hub,
      auth: ({ request }) => {
        const token = request.headers.get("authorization")?.replace(/^Bearer /, "");
        if (token === undefined) throw new UnauthorizedError();
        return operators[token] ?? false;
      },
      tenancy: { tenants, tenantOf: (principal) => principal?.metadata?.tenant as string | undefined },
      onError: (error) => errors.push(error),
    }),
  );
  const as = async (token: string, path: string, body?: unknown) => {
    const response = await app.request(`/admin${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "x-eventflows-admin": "1",
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const scope = (tenant: string) => tenants.forTenant(tenant);
  const close = async () => {
    for (const tenant of ["acme", "globex"]) await (await scope(tenant)).services.hub.close();
  };
  return { app, as, scope, errors, close };
}

/** Each tenant writes its own carts and one of its own orders, which parks its saga. */
async function seed(scope: Awaited<ReturnType<typeof setup>>["scope"]) {
  for (const tenant of ["acme", "globex"]) {
    const { stores, services } = await scope(tenant);
    await stores.eventStore.appendToStream(`Cart-${tenant}`, [{ type: "ItemAdded", data: { sku: `${tenant}-TEA` } }]);
    await services.runner.catchUp();
  }
  const acme = await scope("acme");
  acme.services.failing.set("ReserveStock", 2);
  await acme.services.sagas.handle(testEnvelope("OrderPlaced", "Order-o1", { orderId: "o1", sku: "TEA" }));
}

describe("adminRoutes with tenancy: each operator sees and acts on its own tenant only", () => {
  test("feed, streams, stream, event, projections and sagas are the operator's tenant's", async () => {
    const { as, scope, errors } = await setup();
    await seed(scope);
    for (const [token, own, other] of [
      ["op-acme", "acme", "globex"],
      ["op-globex", "globex", "acme"],
    ] as const) {
      const feed = await as(token, "/api/feed");
      expect(feed.status).toBe(200);
      expect((feed.body.events as { streamId: string }[]).map((e) => e.streamId)).toEqual([`Cart-${own}`]);
      const streams = await as(token, "/api/streams");
      expect((streams.body.streams as { streamId: string }[]).map((s) => s.streamId)).toEqual([`Cart-${own}`]);
      expect((await as(token, `/api/stream?id=Cart-${own}`)).status).toBe(200);
      const crafted = await as(token, `/api/stream?id=Cart-${other}`);
      const missing = await as(token, "/api/stream?id=Cart-never");
      expect([crafted.status, crafted.body.code]).toEqual([404, missing.body.code]);
      expect((await as(token, `/api/event?stream=Cart-${other}&version=1`)).status).toBe(404);
      const projections = await as(token, "/api/projections");
      expect(projections.body.projections).toMatchObject([{ name: "cart-items", position: 1, head: 1, behind: 0 }]);
    }
    const acmeSagas = await as("op-acme", "/api/sagas");
    expect(acmeSagas.body.attention).toMatchObject([{ saga: "Order", key: "o1" }]);
    expect((await as("op-globex", "/api/sagas")).body.attention).toEqual([]);
    // The other tenant's stream is a 404 like any missing one: no server fault, nothing told to onError.
    expect(errors).toEqual([]);
  });

  test("actions: another tenant's saga cannot be resumed, a replay writes only the operator's read models", async () => {
    const { as, scope } = await setup();
    await seed(scope);
    const resumed = await as("op-globex", "/api/sagas/resume", { saga: "Order", key: "o1" });
    expect(resumed.status).toBeGreaterThanOrEqual(400);
    const acme = await scope("acme");
    expect((await acme.services.sagas.needsAttention()).map((r) => r.key)).toEqual(["o1"]);

    await acme.services.readModels.delete("carts", "Cart-acme");
    const replay = await as("op-globex", "/api/projections/replay", {
      projection: "cart-items",
      stream: "Cart-acme",
      dryRun: false,
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ read: 0, handled: 0 });
    expect(await acme.services.readModels.get("carts", "Cart-acme")).toBeUndefined();
    const globex = await scope("globex");
    expect(await globex.services.readModels.get("carts", "Cart-acme")).toBeUndefined();
  });

  test("the live feed follows the operator's tenant's hub only", async () => {
    const { app, scope, close } = await setup();
    try {
      await seed(scope);
      const response = await app.request("/admin/api/live?from=0", { headers: { authorization: "Bearer op-globex" } });
      expect(response.status).toBe(200);
      const acme = await scope("acme");
      const globex = await scope("globex");
      await acme.stores.eventStore.appendToStream("Cart-acme", [{ type: "ItemAdded", data: { sku: "ACME-LIVE" } }]);
      await globex.stores.eventStore.appendToStream("Cart-globex", [
        { type: "ItemAdded", data: { sku: "GLOBEX-LIVE" } },
      ]);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!text.includes("GLOBEX-LIVE")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      expect(text).toContain("globex-TEA");
      expect(text).toContain("GLOBEX-LIVE");
      expect(text).not.toContain("acme");
      expect(text).not.toContain("ACME");
    } finally {
      await close();
    }
  });

  test("an operator without a tenant gets nothing, the page included: 401 without a principal, 403 with one", async () => {
    const { app, as } = await setup();
    expect((await app.request("/admin/")).status).toBe(401);
    const refused = await as("op-none", "/api/feed");
    expect(refused.status).toBe(403);
    expect((await app.request("/admin/", { headers: { authorization: "Bearer op-none" } })).status).toBe(403);
  });

  test("a store shared by mistake: another tenant's stream or event answers 404 like a missing one, told to onError", async () => {
    const shared = new InMemoryEventStore();
    const { as, scope, errors } = await setup({ shared });
    const acme = await scope("acme");
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/), async (name) => {
        const streamId = `Secret-${name}`;
        if (!(await shared.streamExists(streamId))) {
          await acme.stores.eventStore.appendToStream(streamId, [{ type: "Noted", data: { secret: name } }]);
        }
        const crafted = await as("op-globex", `/api/stream?id=${encodeURIComponent(streamId)}`);
        expect(crafted.status).toBe(404);
        expect(crafted.body.code).toBe("STREAM_NOT_FOUND");
        expect(JSON.stringify(crafted.body)).not.toContain(`"secret"`);
        const event = await as("op-globex", `/api/event?stream=${encodeURIComponent(streamId)}&version=1`);
        expect([event.status, event.body.code]).toEqual([404, "NOT_FOUND"]);
        expect(JSON.stringify(event.body)).not.toContain(`"secret"`);
      }),
      { numRuns: 25 },
    );
    // The shared feed holds acme's events: globex's operator gets a 404, never a page of them.
    const feed = await as("op-globex", "/api/feed");
    expect(feed.status).toBe(404);
    expect(JSON.stringify(feed.body)).not.toContain("Secret-");
    // Each refusal was a misconfiguration worth knowing about: onError saw the isolation error itself (it
    // was told the 404 wrapping it, which the default hook logged as "failed with a server error").
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((error) => (error as { code?: string }).code !== TenancyErrorCode.Isolation)).toEqual([]);
  });
});

describe("adminRoutes with tenancy: options", () => {
  test("a store, projections, sagas or hub given as a value (one for every tenant) is refused", () => {
    const tenants = tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }) });
    const base = { auth: () => true, tenancy: { tenants, tenantOf: () => "acme" } };
    for (const extra of [
      { store: new InMemoryEventStore() },
      { projections: [] },
      { sagas: {} },
      { live: {} },
      { tenancy: { tenants } },
    ]) {
      expect(() => adminRoutes({ ...base, ...extra } as never)).toThrow(
        expect.objectContaining({ code: "VALIDATION_FAILED" }),
      );
    }
    expect(() => adminRoutes(base)).not.toThrow();
  });
});
