/**
 * Live event streams with tenancy: each tenant's subscribers follow a hub over that tenant's store,
 * so no filter or resume position a caller crafts reaches another tenant's events.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { ErrorCode, type EventEnvelope, InMemoryEventStore, LiveHub, tenancy } from "../../src/index.js";
import { UnauthorizedError } from "../http/index.js";
import { liveRoutes } from "./live-routes.js";
import { eventFlowsRoutes } from "./routes.js";

const tenants = tenancy({
  stores: () => ({ eventStore: new InMemoryEventStore() }),
  services: ({ stores }) => ({ hub: new LiveHub({ store: stores.eventStore, pollIntervalMs: 20 }) }),
});
afterAll(() => tenants.close());

const app = new Hono();
app.route(
  "/api",
  liveRoutes({
    hub: (_c, tenant) => {
      if (tenant === undefined) throw new Error("tenancy is configured: every request has a tenant");
      return tenant.services.hub;
    },
    heartbeatMs: 50,
    auth: ({ request }) => {
      const token = request.headers.get("authorization");
      if (token === null) throw new UnauthorizedError();
      // "nobody" belongs to no tenant; "stranger" to a value that is no tenant id.
      if (token === "nobody") return { userId: token, metadata: {} };
      const tenant = token === "alice" ? "acme" : token === "stranger" ? "No Such/Tenant" : "globex";
      return { userId: token, metadata: { tenant } };
    },
    tenancy: { tenants, tenantOf: (principal) => principal?.metadata?.tenant as string | undefined },
  }),
);

/**
 * Reads a subscription's events until at least `enough` arrived and a heartbeat came after them (the
 * hub had nothing more to send), or 5 s passed; then hangs up.
 */
async function subscribe(token: string, query: string, enough: number): Promise<EventEnvelope[]> {
  const controller = new AbortController();
  const response = await app.request(`/api/events/stream${query}`, {
    headers: { authorization: token },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: EventEnvelope[] = [];
  let text = "";
  let idle = false;
  const deadline = Date.now() + 5000;
  try {
    while (!(idle && events.length >= enough) && Date.now() < deadline) {
      const next = await reader.read();
      if (next.done) break;
      text += decoder.decode(next.value, { stream: true });
      let end = text.indexOf("\n\n");
      while (end !== -1) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        if (frame.startsWith("id: ")) {
          events.push(JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as EventEnvelope);
          idle = false;
        } else if (frame.startsWith(":")) {
          idle = true;
        }
        end = text.indexOf("\n\n");
      }
    }
  } finally {
    controller.abort();
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

describe("live routes with tenancy", () => {
  test("a subscriber follows its own tenant's feed only, from any position it crafts", async () => {
    const acme = (await tenants.forTenant("acme")).stores.eventStore;
    const globex = (await tenants.forTenant("globex")).stores.eventStore;
    const secret = await acme.appendToStream("Order-1", [
      { type: "Secret", data: { n: 1 } },
      { type: "Secret", data: { n: 2 } },
      { type: "Secret", data: { n: 3 } },
    ]);
    await globex.appendToStream("Order-1", [{ type: "Mine", data: {} }]);
    const positions = secret.events.map((e) => e.globalPosition ?? 0);
    for (const from of [0, ...positions, 1_000_000]) {
      for (const filter of ["", "&stream=Order-1", "&category=Order", "&type=Secret", "&type=Secret&stream=Order-1"]) {
        const seen = await subscribe("bob", `?from=${from}${filter}`, 0);
        expect(seen.every((e) => e.metadata.tenantId === "globex" && e.type !== "Secret")).toBe(true);
        // From the start Bob gets his own event (the reads above could see events), unless he asked for Secret only.
        if (from === 0) expect(seen.map((e) => e.type)).toEqual(filter.includes("Secret") ? [] : ["Mine"]);
      }
    }
    // Live: an event appended while Bob listens reaches him; Alice's never does.
    const live = subscribe("bob", "?from=1", 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await acme.appendToStream("Order-1", [{ type: "Secret", data: { n: 4 } }]);
    await globex.appendToStream("Order-2", [{ type: "MineToo", data: {} }]);
    expect((await live).map((e) => [e.type, e.metadata.tenantId])).toEqual([["MineToo", "globex"]]);
    const alice = await subscribe("alice", "?from=0", 4);
    expect(alice.map((e) => e.type)).toEqual(["Secret", "Secret", "Secret", "Secret"]);
  }, 60_000);

  test("a caller without a tenant is refused", async () => {
    const response = await app.request("/api/events/stream", { headers: { authorization: "nobody" } });
    expect(response.status).toBe(403);
    await response.body?.cancel();
  });

  test("a caller of no tenant (or of no tenant id) is refused as such before its filter or position is looked at", async () => {
    const bad = ["?category=Order-1", "?from=-1", "?stream=", `?type=${"x,".repeat(101)}`];
    for (const token of ["nobody", "stranger"]) {
      for (const query of bad) {
        for (const method of ["GET", "HEAD"]) {
          const response = await app.request(`/api/events/stream${query}`, {
            method,
            headers: { authorization: token },
          });
          expect(response.status).toBe(403);
          const body = method === "GET" ? await response.text() : "";
          expect(body).not.toMatch(/filter|from|category|VALIDATION/i);
        }
      }
    }
  });

  test("one hub shared by every tenant, or a tenancy option without tenants or tenantOf, is refused when built", async () => {
    // A hub follows one store's feed: served to every tenant's callers, it would hand acme globex's events.
    const globex = await tenants.forTenant("globex");
    const shared = new LiveHub({ store: globex.stores.eventStore });
    const tenantOf = (principal?: { metadata?: Record<string, unknown> }) => principal?.metadata?.tenant as string;
    const builds = [
      () => liveRoutes({ hub: shared, tenancy: { tenants, tenantOf } }),
      () => liveRoutes({ hub: () => shared, tenancy: { tenants } as never }),
      () => liveRoutes({ hub: () => shared, tenancy: { tenantOf } as never }),
      () => liveRoutes({ hub: () => shared, tenancy: null as never }),
      () => eventFlowsRoutes({ tenancy: { tenants } as never }),
      () => eventFlowsRoutes({ tenancy: { tenants: {}, tenantOf } as never }),
      () => liveRoutes(undefined as never),
    ];
    try {
      for (const build of builds) {
        expect(build).toThrow(expect.objectContaining({ code: ErrorCode.Validation }));
      }
      // A function of the tenant is the way: built, and each tenant gets its own hub.
      expect(() =>
        liveRoutes({ hub: (_c, tenant) => tenant?.services.hub, tenancy: { tenants, tenantOf } }),
      ).not.toThrow();
    } finally {
      await shared.close();
    }
  });
});
