import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import {
  CommandBus,
  InMemoryEventStore,
  isValidationError,
  LiveHub,
  QueryBus,
  type ValidationError,
} from "../../src/index.js";
import { adminRoutes, eventFlowsRoutes, liveRoutes, openApiDocument, prometheusFormat } from "./index.js";

// Every option object of the routes refuses a key it does not take, naming its path, when built:
// before, a misspelt key was dropped and its default served (`health: { stroe }` reported ready
// with no probe at all, `auht` left the routes open).

/** The paths of the ValidationError `build` throws; fails the test on any other outcome. */
function refusedPaths(build: () => unknown): string[] {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(isValidationError(caught)).toBe(true);
  return (caught as ValidationError).issues.map((issue) => issue.path.join("."));
}

const store = new InMemoryEventStore();
const hook = () => true as const;
const tenants = { forTenant: () => undefined };
const collector = { collect: async () => ({ resourceMetrics: { scopeMetrics: [] } }) };
const commands = { bus: new CommandBus(), schemas: { Open: v.object({}) } };
const queries = { bus: new QueryBus(), schemas: { Get: v.object({}) } };

describe("eventFlowsRoutes refuses keys its option objects do not take", () => {
  test("a misspelt health store is refused: readiness no longer reports ok with no probe", async () => {
    // The mistake the audit found: taken silently, /health/ready answered 200 with `checks: {}`.
    expect(refusedPaths(() => eventFlowsRoutes({ health: { stroe: store } as never }))).toEqual(["health.stroe"]);
    const ready = await eventFlowsRoutes({ health: { store } }).request("/health/ready");
    expect(await ready.json()).toEqual({ status: "ok", checks: { store: expect.objectContaining({ status: "ok" }) } });
  });

  test("each option object names the unknown key's path", () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ auht: hook }, ["auht"]],
      [{ health: { store, timeoutMS: 10 } }, ["health.timeoutMS"]],
      [{ openapi: { evnts: {} } }, ["openapi.evnts"]],
      [{ openapi: { info: { title: "t", version: "1" }, Auth: true } }, ["openapi.Auth"]],
      [{ metrics: { collector, format: prometheusFormat, pth: "/m" } }, ["metrics.pth"]],
      [{ commands: { ...commands, schema: {} } }, ["commands.schema"]],
      [{ queries: { ...queries, busses: [] } }, ["queries.busses"]],
      [
        { commands: { ...commands, schemas: { Open: { input: v.object({}), summay: "Opens" } } } },
        ["commands.schemas.Open.summay"],
      ],
      [{ tenancy: { tenants, tenantOf: () => "t", tenantFrom: () => "t" } }, ["tenancy.tenantFrom"]],
      // The dispatcher's `document` is what these routes build from `openapi`: not theirs to take.
      [{ openapi: false, document: { path: "/doc", document: () => "{}" } }, ["document"]],
    ];
    for (const [options, paths] of cases) {
      expect(refusedPaths(() => eventFlowsRoutes(options as never))).toEqual(paths);
    }
  });

  // The dispatcher's option is `document`; the routes' is `openapi`. Before, a Hono user's errors named
  // the dispatcher's: "document.path: path must start with /" beside the openapi.path issue, and an
  // unknown key was told the options include `document` (which the routes then refuse).
  test("errors name the routes' openapi option, never the dispatcher's document, in issues and message", () => {
    const caught = (options: Record<string, unknown>) => {
      try {
        eventFlowsRoutes(options as never);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error("not refused");
    };
    const path = caught({ openapi: { path: "openapi.json" } });
    expect(path.issues).toEqual([{ path: ["openapi", "path"], message: "path must start with /" }]);
    expect(path.message).toBe("Invalid routes options: openapi.path: path must start with /");
    const unknown = caught({ auht: hook });
    expect(unknown.issues.map((issue) => issue.path)).toEqual([["auht"]]);
    expect(unknown.message).toContain(", health, openapi, metrics,");
    expect(unknown.message).not.toContain("document");
  });

  // Before, `info` and each server went into the document as given: a misspelt `titel` left the
  // document without a title (invalid OpenAPI), a server's `descripton` published a field no tool reads.
  test("openapi's info and servers refuse keys OpenAPI does not define, naming the path; x- extensions pass", async () => {
    const info = { title: "t", version: "1" };
    const cases: [Record<string, unknown>, string[]][] = [
      [{ info: { titel: "t", version: "1" } }, ["openapi.info.titel", "openapi.info.title"]],
      [{ info: { title: "t" } }, ["openapi.info.version"]],
      [{ info: { title: 1, version: "1" } }, ["openapi.info.title"]],
      [{ info: { ...info, licence: { name: "MIT" } } }, ["openapi.info.licence"]],
      [{ servers: [{ url: "/" }, { url: "/b", descripton: "b" }] }, ["openapi.servers.1.descripton"]],
      [{ servers: [{ uri: "/" }] }, ["openapi.servers.0.uri", "openapi.servers.0.url"]],
      [{ info: "Carts" }, ["openapi.info"]],
      [{ servers: { url: "/" } }, ["openapi.servers"]],
      [{ servers: ["/"] }, ["openapi.servers.0"]],
    ];
    for (const [openapi, paths] of cases) {
      expect(refusedPaths(() => eventFlowsRoutes({ openapi } as never))).toEqual(paths);
    }
    const [issue] = (() => {
      try {
        eventFlowsRoutes({ openapi: { info: { ...info, "X-logo": 1 } } as never });
      } catch (error) {
        return (error as ValidationError).issues;
      }
      return [];
    })();
    expect(issue?.message).toBe(
      "is not an option (the options are title, version, description, summary, termsOfService, contact, license, or an extension named x-…)",
    );
    const full = {
      info: {
        ...info,
        description: "d",
        summary: "s",
        termsOfService: "https://example.com/terms",
        contact: { name: "c" },
        license: { name: "MIT", identifier: "MIT" },
        "x-logo": { url: "https://example.com/logo.png" },
      },
      servers: [{ url: "/{v}", description: "d", variables: { v: { default: "v1" } }, "x-internal": true }],
    };
    const doc = await (await eventFlowsRoutes({ openapi: full }).request("/openapi.json")).json();
    expect([doc.info, doc.servers]).toEqual([full.info, full.servers]);
    // openApiDocument, called directly, checks them as the routes do.
    const spec = { routes: [], health: false, idempotency: false, auth: false } as never;
    expect(refusedPaths(() => openApiDocument(spec, { info: { titel: "t" } } as never, "/"))).toEqual([
      "info.titel",
      "info.title",
      "info.version",
    ]);
    expect(refusedPaths(() => openApiDocument(spec, { servers: [{ url: 1 }] } as never, "/"))).toEqual([
      "servers.0.url",
    ]);
    expect(openApiDocument(spec, full, "/")).toMatchObject({ info: full.info, servers: full.servers });
    // A spec that is none is refused naming it; no options are the defaults (both were TypeErrors).
    for (const wrong of [undefined, {}, { routes: "Open" }]) {
      expect(refusedPaths(() => openApiDocument(wrong as never, {}, "/"))).toEqual(["spec.routes"]);
    }
    expect(openApiDocument(spec, undefined as never, "/")).toMatchObject({ servers: [{ url: "/" }] });
  });

  test("every key each object documents is still taken", async () => {
    const app = eventFlowsRoutes({
      commands: {
        bus: commands.bus,
        schemas: {
          Open: {
            input: v.object({}),
            output: v.object({}),
            summary: "s",
            description: "d",
            tags: ["t"],
            deprecated: false,
          },
        },
      },
      queries,
      auth: hook,
      idempotency: { scope: () => "all" },
      bodyLimit: 1024,
      jsonDepthLimit: 8,
      correlationHeader: "x-request-id",
      trustClientCorrelation: false,
      health: { store, bus: undefined, probes: {}, timeoutMs: 100, cacheMs: 0, auth: true },
      openapi: {
        info: { title: "t", version: "1" },
        path: "/doc.json",
        servers: [],
        securitySchemes: {},
        security: [],
        events: undefined,
        auth: true,
      },
      metrics: { collector, format: prometheusFormat, path: "/m", auth: false },
      metadata: () => undefined,
      onError: () => undefined,
      telemetry: false,
    });
    expect((await app.request("/health/ready")).status).toBe(200);
    expect((await app.request("/doc.json")).status).toBe(200);
  });

  test("any key outside health's options is refused under its own name (generated keys)", () => {
    const known = ["store", "bus", "probes", "timeoutMs", "cacheMs", "auth"];
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !known.includes(key) && key !== "__proto__"),
        (key) => {
          expect(refusedPaths(() => eventFlowsRoutes({ health: { store, [key]: store } as never }))).toEqual([
            `health.${key}`,
          ]);
        },
      ),
    );
  });
});

describe("liveRoutes and adminRoutes refuse keys they do not take", () => {
  const hub = new LiveHub({ store });

  test("liveRoutes names the unknown key", () => {
    // `auht` served every stream to anyone; `heartbeatMS` left the default heartbeat.
    expect(refusedPaths(() => liveRoutes({ hub, auht: hook } as never))).toEqual(["auht"]);
    expect(refusedPaths(() => liveRoutes({ hub, heartbeatMS: 100 } as never))).toEqual(["heartbeatMS"]);
    expect(
      refusedPaths(() =>
        liveRoutes({ hub: () => hub, tenancy: { tenants, tenantOf: () => "t", tenant: "t" } } as never),
      ),
    ).toEqual(["tenancy.tenant"]);
    liveRoutes({
      hub,
      auth: hook,
      authorize: () => true,
      path: "/live",
      heartbeatMs: 100,
      maxBufferedBytes: 1024,
      onError: () => undefined,
      upgradeWebSocket: undefined,
      tenancy: undefined,
    });
  });

  test("adminRoutes names the unknown key, in the options and in each projection", () => {
    expect(refusedPaths(() => adminRoutes({ store, auth: hook, pollIntervalMS: 200 } as never))).toEqual([
      "pollIntervalMS",
    ]);
    const runner = { lag: () => undefined, projection: {} } as never;
    // Misspelt, the key is unknown, and the runner's readModels missing.
    expect(
      refusedPaths(() => adminRoutes({ store, auth: hook, projections: [{ runner, readModel: {} }] } as never)),
    ).toEqual(["projections.0.readModel", "projections.0.readModels"]);
    expect(
      refusedPaths(() => adminRoutes({ auth: hook, tenancy: { tenants, tenantOf: () => "t", extra: 1 } } as never)),
    ).toEqual(["tenancy.extra"]);
  });
});
