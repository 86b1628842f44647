import { afterEach, describe, expect, test } from "bun:test";
import {
  InMemoryEventBus,
  InMemoryEventStore,
  InMemorySnapshotStore,
  isServiceError,
  jsonLogger,
  MAX_DELAY_MS,
  ServiceError,
  setLogger,
  ValidationError,
} from "../../src/index.js";
import { eventFlowsRoutes } from "./routes.js";

/** A store whose ping fails or hangs as told: the faults no in-memory store produces by itself. */
class FaultyStore extends InMemoryEventStore {
  constructor(private readonly fault: "fail" | "hang") {
    super();
  }
  override async ping(): Promise<void> {
    if (this.fault === "hang") return new Promise(() => undefined);
    throw new ServiceError("postgres", "ping", "ECONNREFUSED", true, "connect to postgres://admin:hunter2@db");
  }
}

afterEach(() => setLogger(undefined));

describe("health routes", () => {
  test("liveness is 200 without probing anything", async () => {
    const app = eventFlowsRoutes({ health: { store: new FaultyStore("fail") } });
    const response = await app.request("/health/live");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(response.headers.get("cache-control")).toBe("no-store");
  });

  test("readiness probes the store and the bus and reports each", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Cart-1", [{ type: "Opened", data: {} }]);
    const app = eventFlowsRoutes({ health: { store, bus: new InMemoryEventBus() } });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.status).toBe("ok");
    expect(Object.keys(body.checks).sort()).toEqual(["bus", "store"]);
    expect(body.checks.store.status).toBe("ok");
    expect(body.checks.bus.status).toBe("ok");
  });

  test("a failing store makes readiness 503 problem+json, with the error's code and no message", async () => {
    const reported: unknown[] = [];
    const app = eventFlowsRoutes({
      health: { store: new FaultyStore("fail"), bus: new InMemoryEventBus() },
      onError: (error) => reported.push(error),
    });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    // A probe may recover: a balancer or client is told when to ask again (docs/adapters/hono.md).
    expect(response.headers.get("retry-after")).toBe("1");
    const text = await response.text();
    expect(text).not.toContain("hunter2");
    const problem = JSON.parse(text);
    expect(problem).toMatchObject({ status: 503, code: "NOT_READY", detail: "Not ready: store failed" });
    expect(problem.checks.store).toMatchObject({ status: "failed", code: "SERVICE_ERROR" });
    expect(problem.checks.bus.status).toBe("ok");
    expect(reported).toHaveLength(1);
  });

  test("a probe that hangs times out: 503 within the timeout, its signal is aborted, onError hears of it", async () => {
    let aborted = false;
    const reported: unknown[] = [];
    const app = eventFlowsRoutes({
      onError: (error) => reported.push(error),
      health: {
        store: new FaultyStore("hang"),
        probes: {
          cache: (signal) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => {
                aborted = true;
                reject(new Error("aborted"));
              }),
            ),
        },
        timeoutMs: 30,
      },
    });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    const problem = await response.json();
    expect(problem.detail).toBe("Not ready: store timed out, cache timed out");
    expect(problem.checks.store.status).toBe("timed-out");
    expect(aborted).toBe(true);
    expect(reported).toHaveLength(2);
    for (const error of reported) {
      expect(isServiceError(error)).toBe(true);
      expect((error as ServiceError).serviceCode).toBe("TimeoutError");
    }
  });

  test("a failed probe's report names the probe: onError's info.check, the default log line's check", async () => {
    // Two probes failing alike (a timeout, a bare Error) gave two lines "request failed with a server error"
    // with nothing to tell which dependency was down.
    const told: (string | undefined)[] = [];
    const probes = {
      cache: () => Promise.reject(new Error("down")),
      search: () => Promise.reject(new Error("down")),
    };
    const reporting = eventFlowsRoutes({
      health: { store: new FaultyStore("fail"), probes },
      onError: (_error, info) => void told.push(info.check),
    });
    expect((await reporting.request("/health/ready")).status).toBe(503);
    expect(told.sort()).toEqual(["cache", "search", "store"]);

    const lines: string[] = [];
    setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
    const logged = eventFlowsRoutes({ health: { probes } });
    expect((await logged.request("/health/ready")).status).toBe(503);
    const parsed = lines.map((line) => JSON.parse(line) as { msg: string; check?: string });
    expect(parsed.map((line) => line.check).sort()).toEqual(["cache", "search"]);
    expect(parsed.map((line) => line.msg).sort()).toEqual([
      "readiness probe cache failed with a server error",
      "readiness probe search failed with a server error",
    ]);
  });

  test("a bus with ping() is probed with it", async () => {
    const bus = Object.assign(new InMemoryEventBus(), {
      pings: 0,
      async ping() {
        this.pings++;
        throw new ServiceError("eventbridge", "DescribeEventBus", "AccessDenied", false, "no");
      },
    });
    const app = eventFlowsRoutes({ health: { bus }, onError: () => undefined });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    expect(bus.pings).toBe(1);
  });

  test("probes may be stores with ping(): a snapshot store that cannot answer makes readiness 503", async () => {
    class DownSnapshots extends InMemorySnapshotStore {
      override async ping(): Promise<void> {
        throw new ServiceError("dynamodb", "ping", "ResourceNotFoundException", false, "table snapshots");
      }
    }
    const healthy = eventFlowsRoutes({ health: { probes: { snapshots: new InMemorySnapshotStore() } } });
    expect((await healthy.request("/health/ready")).status).toBe(200);
    const app = eventFlowsRoutes({ health: { probes: { snapshots: new DownSnapshots() } }, onError: () => undefined });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    expect((await response.json()).checks.snapshots).toMatchObject({ status: "failed", code: "SERVICE_ERROR" });
  });

  test("a store built from the request context that fails to build is 503, not a crash, and is named", async () => {
    const reported: unknown[] = [];
    let probed = 0;
    const app = eventFlowsRoutes({
      health: {
        store: () => {
          throw new Error("missing binding DATABASE_URL");
        },
        bus: () => {
          throw new ServiceError("eventbridge", "client", "ConfigError", false, "no region");
        },
        probes: { cache: async () => void probed++ },
      },
      onError: (error) => reported.push(error),
    });
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain("DATABASE_URL");
    expect(text).not.toContain("no region");
    const body = JSON.parse(text);
    // The detail names the checks that failed, as for a probe that ran and failed.
    expect(body.detail).toBe("Not ready: store failed, bus failed");
    expect(body.checks).toMatchObject({
      store: { status: "failed" },
      bus: { status: "failed", code: "SERVICE_ERROR" },
      cache: { status: "ok" },
    });
    expect(body.checks.store.code).toBeUndefined();
    expect(probed).toBe(1);
    expect(reported).toHaveLength(2);
  });

  test("a timeoutMs past the longest timer (2^31-1 ms) is refused when the routes are built", async () => {
    // Taken as it was, the timer fired at once: every probe slower than a millisecond "timed out".
    expect(() => eventFlowsRoutes({ health: { timeoutMs: MAX_DELAY_MS + 1 } })).toThrow(ValidationError);
    expect(() => eventFlowsRoutes({ health: { timeoutMs: MAX_DELAY_MS + 1 } })).toThrow("timeoutMs");
    const slow = () => new Promise((resolve) => setTimeout(resolve, 20));
    const app = eventFlowsRoutes({ health: { probes: { slow }, timeoutMs: MAX_DELAY_MS } });
    expect((await app.request("/health/ready")).status).toBe(200);
  });

  test("probes that can never run are refused when the routes are built, not answered 400 on every readiness request", async () => {
    // Before: built without complaint, then every /health/ready was a 400 naming the probes and their fault.
    for (const health of [
      { probes: { cache: "http://cache.internal/ping" } },
      { probes: { db: {} } },
      { probes: "store" },
      { store: 42 },
      { bus: {} },
    ]) {
      expect(() => eventFlowsRoutes({ health: health as never })).toThrow(ValidationError);
    }
    const app = eventFlowsRoutes({
      health: {
        store: () => new InMemoryEventStore(),
        bus: new InMemoryEventBus(),
        probes: { ok: () => Promise.resolve() },
      },
    });
    expect((await app.request("/health/ready")).status).toBe(200);
  });

  test("health: false leaves the routes out", async () => {
    const app = eventFlowsRoutes({ health: false });
    expect((await app.request("/health/live")).status).toBe(404);
  });

  test("readiness with no probes configured is ready", async () => {
    const response = await eventFlowsRoutes({}).request("/health/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", checks: {} });
  });
});
