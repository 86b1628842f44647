import { describe, expect, test } from "bun:test";
import { InMemoryIdempotencyStore, ValidationError } from "../../src/index.js";
import { httpBehaviourSuite } from "./behaviour-suite.fixture.test.ts";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import { createHttpDispatcher, pathOf } from "./index.js";

httpBehaviourSuite("HTTP dispatcher", (options) => {
  const dispatcher = createHttpDispatcher(options);
  return (request) => dispatcher.handle(request, undefined);
});

describe("createHttpDispatcher", () => {
  test("a path no route has is 404 NOT_FOUND problem+json", async () => {
    const dispatcher = createHttpDispatcher(cartDomain().routes);
    const response = await dispatcher.handle(new Request("http://localhost/elsewhere"), undefined);
    expect(response.status).toBe(404);
    expect((await response.json()).code).toBe("NOT_FOUND");
    expect(dispatcher.allowed("/elsewhere")).toBeUndefined();
    expect(dispatcher.allowed("/commands/X")).toEqual(["POST"]);
    expect(dispatcher.allowed("/health/ready")).toEqual(["GET", "HEAD"]);
  });

  test("a mount says which part of the path is the routes'", async () => {
    const dispatcher = createHttpDispatcher(cartDomain().routes);
    const request = new Request("http://localhost/v1/commands/OpenCart", {
      method: "POST",
      body: '{"cartId":"c1"}',
      headers: { "content-type": "application/json" },
    });
    const response = await dispatcher.handle(request, undefined, { base: "/v1", path: "/commands/OpenCart" });
    expect(response.status).toBe(200);
  });

  test("pathOf takes the raw path, before any query or fragment", () => {
    expect(pathOf("https://h.example/a/b%2Fc?x=1#f")).toBe("/a/b%2Fc");
    expect(pathOf("https://h.example")).toBe("/");
    expect(pathOf("https://h.example/a#f?x")).toBe("/a");
  });

  test("bad options are a ValidationError naming the option", () => {
    expect(() => createHttpDispatcher({ jsonDepthLimit: 0 })).toThrow("jsonDepthLimit");
    expect(() => createHttpDispatcher({ bodyLimit: 1.5 })).toThrow("bodyLimit");
    expect(() => createHttpDispatcher({ health: { cacheMs: -1 } })).toThrow("cacheMs");
    for (const options of [undefined, null, "routes"]) {
      expect(() => createHttpDispatcher(options as never)).toThrow(ValidationError);
    }
  });

  test("an idempotency option that is not false, a store or { store?, scope? } is refused when built, naming what is wrong", () => {
    const refused: [unknown, string][] = [
      [null, "idempotency"],
      [42, "idempotency"],
      ["memory", "idempotency"],
      [{ scope: "api-token" }, "idempotency.scope"],
      [{ store: {} }, "idempotency.store.claim"],
      [{ store: null }, "idempotency.store"],
      [{ claim: async () => ({ state: "claimed", token: "t" }) }, "idempotency.store.complete"],
      [{ store: new InMemoryIdempotencyStore(), scope: 1 }, "idempotency.scope"],
      // A misspelt option, a store whose methods are no functions or misnamed: not the in-memory default.
      [{ stroe: new InMemoryIdempotencyStore() }, "idempotency.stroe"],
      [{ claim: 1, complete: 1, release: 1 }, "idempotency.store.claim"],
      [
        new (class MisnamedStore {
          claimKey() {}
        })(),
        "idempotency.store.claim",
      ],
    ];
    for (const [idempotency, path] of refused) {
      let thrown: unknown;
      try {
        createHttpDispatcher({ idempotency: idempotency as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect((thrown as ValidationError).issues[0]?.path.join(".")).toBe(path);
    }
    for (const idempotency of [undefined, false, new InMemoryIdempotencyStore(), { scope: () => "all" }, {}]) {
      expect(() => createHttpDispatcher({ idempotency: idempotency as never })).not.toThrow();
    }
  });

  test("hooks that are not functions, and switches that are not booleans, are refused when built, naming each", () => {
    const bad = { auth: "bearer", metadata: {}, onError: null, trustClientCorrelation: "yes", telemetry: 1 };
    let thrown: unknown;
    try {
      createHttpDispatcher(bad as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).issues.map((issue) => issue.path[0])).toEqual(Object.keys(bad));
    expect(() => createHttpDispatcher({ auth: () => true, trustClientCorrelation: () => false })).not.toThrow();
  });

  test("a correlation header that is no header name is refused when built, not by every request", async () => {
    for (const correlationHeader of ["", "x request id", "x-id:", "é", "x".repeat(129)]) {
      let caught: unknown;
      try {
        createHttpDispatcher({ correlationHeader });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).issues[0]?.path).toEqual(["correlationHeader"]);
    }
    const dispatcher = createHttpDispatcher({ correlationHeader: "X-Request-Id" });
    const response = await dispatcher.handle(
      new Request("http://localhost/health/live", { headers: { "x-request-id": "r-1" } }),
      undefined,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("r-1");
  });

  test("errors from another copy of the package get their own status, not a 500; a plain Error with our code does not", async () => {
    // A copy's TenantQuotaExceededError, TooManyLiveClientsError, ... fail instanceof here; they carry the
    // package's global mark (what OtherCopysError imitates). Their codes were unknown outside the core's
    // ErrorCode, so the quota came out as a 500 and not a 429.
    class OtherCopysError extends Error {
      get [Symbol.for("eventflows.error")]() {
        return true;
      }
    }
    const cases = [
      {
        code: "TENANT_QUOTA_EXCEEDED",
        status: 429,
        fields: { limit: "appendsPerWindow", max: 5, retryAfterMs: 2_500 },
      },
      { code: "TENANT_UNKNOWN", status: 403, fields: {} },
      { code: "TENANT_INVALID", status: 403, fields: {} },
      { code: "LIVE_TOO_MANY_CLIENTS", status: 503, fields: {} },
      { code: "LIVE_HUB_CLOSED", status: 503, fields: {} },
      { code: "IDEMPOTENCY_KEY_REUSED", status: 422, fields: {} },
      { code: "SUBJECT_ERASED", status: 410, fields: {} },
      { code: "NOT_THE_PACKAGES", status: 500, fields: {} },
      // Another library's Error that happens to use one of our codes: not ours, so a 500 that says nothing.
      { code: "NOT_FOUND", status: 500, fields: {}, plain: true },
      { code: "TENANT_QUOTA_EXCEEDED", status: 500, fields: { retryAfterMs: 1 }, plain: true },
    ];
    for (const { code, status, fields, plain } of cases) {
      const domain = cartDomain();
      const message = `from another copy: ${code}`;
      const foreign = Object.assign(plain ? new Error(message) : new OtherCopysError(message), { code, ...fields });
      domain.commands.before(() => {
        throw foreign;
      });
      const dispatcher = createHttpDispatcher({ ...domain.routes, onError: () => undefined });
      const response = await dispatcher.handle(
        new Request("http://localhost/commands/OpenCart", {
          method: "POST",
          body: '{"cartId":"c1"}',
          headers: { "content-type": "application/json" },
        }),
        undefined,
      );
      const body = await response.json();
      expect({ code, status: response.status, body: body.code }).toEqual({
        code,
        status,
        body: status === 500 ? "INTERNAL_ERROR" : code,
      });
      if (code === "TENANT_QUOTA_EXCEEDED" && plain !== true) {
        expect(response.headers.get("retry-after")).toBe("3");
        expect(body).toMatchObject({ limit: "appendsPerWindow", max: 5 });
      }
    }
  });

  test("a document path without its leading slash is refused (it would never match)", () => {
    const document = { path: "openapi.json", document: () => "{}" };
    expect(() => createHttpDispatcher({ document })).toThrow(ValidationError);
  });

  test("health and document settings that would leave the route open or unreachable are refused when built", () => {
    const hook = () => true as const;
    const document = (path = "/openapi.json", auth?: unknown) => ({ path, document: () => "{}", auth: auth as never });
    const refused = (options: Parameters<typeof createHttpDispatcher>[0]) => {
      try {
        createHttpDispatcher(options);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
      throw new Error("accepted");
    };
    // Before: each was taken. A truthy auth that is not true was read as false, and auth: true with no
    // hook asked no one: either way /health/ready or the document answered anyone.
    expect(refused({ auth: hook, health: { auth: "true" as never } })).toEqual(["health.auth"]);
    expect(refused({ health: { auth: true } })).toEqual(["health.auth"]);
    expect(refused({ auth: hook, document: document("/openapi.json", 1) })).toEqual(["document.auth"]);
    expect(refused({ document: document("/openapi.json", true) })).toEqual(["document.auth"]);
    // A document path no request reaches, or one another route answers first, was never served.
    for (const path of ["/health/live", "/commands/Open", "/queries", "/dóc", "/a b", "/d?x", "/d/:id", "/d/*"]) {
      expect(refused({ document: document(path) })).toEqual(["document.path"]);
    }
    expect(() => createHttpDispatcher({ health: false, document: document("/health/live") })).not.toThrow();
    expect(() =>
      createHttpDispatcher({ health: { auth: false }, document: document("/openapi.json", false) }),
    ).not.toThrow();
  });

  test("health with auth: true asks the hook (kind health) before answering", async () => {
    const asked: string[] = [];
    const dispatcher = createHttpDispatcher({
      health: { auth: true },
      auth: ({ kind, request }) => {
        asked.push(kind);
        return request.headers.get("authorization") === "Bearer ops";
      },
    });
    const live = (headers: Record<string, string> = {}) =>
      dispatcher.handle(new Request("http://x/health/live", { headers }), {});
    expect((await live()).status).toBe(403);
    expect((await live({ authorization: "Bearer ops" })).status).toBe(200);
    expect(asked).toEqual(["health", "health"]);
  });
});
