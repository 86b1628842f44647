import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import {
  CommandBus,
  ConcurrencyError,
  type Message,
  QueryBus,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import documented from "./fixtures/http-api-v2-event.json";
import { type ApiGatewayProxyEventV2, createHttpApiHandler, requestFromEvent, resultFromResponse } from "./index.js";

type Commands = {
  PlaceOrder: { payload: { sku: string; quantity: number }; result: { orderId: string } };
  Forget: { payload: unknown; result: undefined };
};
type Queries = { GetOrder: { payload: Record<string, unknown>; result: unknown } };

/** AWS's documented example event, with the method, path, query, headers and body of a test request. */
function event(
  method: string,
  path: string,
  options: {
    body?: string;
    query?: string;
    headers?: Record<string, string>;
    base64?: boolean;
    authorizer?: unknown;
  } = {},
): ApiGatewayProxyEventV2 {
  const base = structuredClone(documented) as unknown as Record<string, unknown> & {
    requestContext: Record<string, unknown> & { http: Record<string, unknown> };
  };
  const result = {
    ...base,
    rawPath: path,
    rawQueryString: options.query ?? "",
    headers: { "content-type": "application/json", ...options.headers },
    body: options.body,
    isBase64Encoded: options.base64 ?? false,
    requestContext: {
      ...base.requestContext,
      http: { ...base.requestContext.http, method, path },
      ...(options.authorizer === undefined ? {} : { authorizer: options.authorizer }),
    },
  };
  if (options.body === undefined) delete (result as { body?: string }).body;
  return result as unknown as ApiGatewayProxyEventV2;
}

function setup(onError?: (error: unknown) => void) {
  const commands = new CommandBus<Commands>();
  const queries = new QueryBus<Queries>();
  const seen: Message[] = [];
  commands.register("PlaceOrder", (payload, message) => {
    seen.push(message as Message);
    if (typeof payload.sku !== "string") {
      throw new ValidationError("Invalid command", [{ path: ["sku"], message: "sku must be a string" }]);
    }
    return { orderId: `order-${payload.sku}` };
  });
  commands.register("Forget", () => undefined);
  queries.register("GetOrder", (payload) => ({ echo: payload }));
  // Registered for a saga, never meant for the internet: it has no schema, so no route.
  commands.register("IssueRefund" as never, (() => ({ refunded: true })) as never);
  const handler = createHttpApiHandler({
    commands: { bus: commands, schemas },
    queries: { bus: queries, schemas: { GetOrder: v.looseObject({}) } },
    ...(onError === undefined ? {} : { onError }),
  });
  return { commands, queries, handler, seen };
}

// Loose schemas: these tests are about the handler's translation, and PlaceOrder checks its own input.
const schemas = {
  PlaceOrder: v.looseObject({}) as unknown as v.GenericSchema<unknown, Commands["PlaceOrder"]["payload"]>,
  Forget: v.unknown(),
};

const json = (body: string | undefined) => JSON.parse(body ?? "null");

describe("createHttpApiHandler", () => {
  test("AWS's documented example event, unchanged, is answered 404 problem+json (no such route)", async () => {
    const { handler } = setup();
    const result = await handler(documented as unknown as ApiGatewayProxyEventV2);
    expect(result.statusCode).toBe(404);
    expect(result.headers?.["content-type"]).toBe("application/problem+json");
    expect(json(result.body)).toMatchObject({ status: 404, code: "NOT_FOUND", title: "Not Found" });
    expect(result.headers?.["x-correlation-id"]).toBeString();
  });

  test("POST /commands/{type} runs the command with correlation, trace context and the JWT subject", async () => {
    const { handler, seen } = setup();
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const result = await handler(
      event("POST", "/commands/PlaceOrder", {
        body: JSON.stringify({ sku: "A-1", quantity: 2 }),
        headers: { "x-correlation-id": "corr-1", traceparent },
        authorizer: { jwt: { claims: { sub: "user-42" }, scopes: null } },
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({ "content-type": "application/json", "x-correlation-id": "corr-1" });
    expect(json(result.body)).toEqual({ orderId: "order-A-1" });
    expect(seen[0]?.payload).toEqual({ sku: "A-1", quantity: 2 });
    expect(seen[0]?.metadata).toMatchObject({ correlationId: "corr-1", traceparent, userId: "user-42" });
  });

  test("a base64-encoded body is decoded", async () => {
    const { handler } = setup();
    const body = btoa(JSON.stringify({ sku: "B-2", quantity: 1 }));
    const result = await handler(event("POST", "/commands/PlaceOrder", { body, base64: true }));
    expect(result.statusCode).toBe(200);
    expect(json(result.body)).toEqual({ orderId: "order-B-2" });
  });

  test("a command with no result is answered 204 without a body", async () => {
    const { handler } = setup();
    const result = await handler(event("POST", "/commands/Forget"));
    expect(result.statusCode).toBe(204);
    expect(result.body).toBeUndefined();
  });

  test("GET /queries/{type} takes the query string as payload, repeated parameters as a list", async () => {
    const { handler } = setup();
    const result = await handler(event("GET", "/queries/GetOrder", { query: "orderId=o-1&tag=a&tag=b%20c" }));
    expect(result.statusCode).toBe(200);
    expect(json(result.body)).toEqual({ echo: { orderId: "o-1", tag: ["a", "b c"] } });
  });

  test("POST /queries/{type} takes a JSON body", async () => {
    const { handler } = setup();
    const result = await handler(event("POST", "/queries/GetOrder", { body: '{"orderId":"o-2"}' }));
    expect(json(result.body)).toEqual({ echo: { orderId: "o-2" } });
  });

  // docs/adapters/lambda.md: the handler takes the dispatcher's `document` option. The handler served it,
  // but its options type left `document` out, so the documented call did not compile (TS2353).
  test("serves a prebuilt OpenAPI document through the dispatcher's document option, under the basePath", async () => {
    const commands = new CommandBus<Commands>();
    commands.register("Forget", () => undefined);
    const handler = createHttpApiHandler({
      commands: { bus: commands, schemas },
      basePath: "/api",
      document: { path: "/openapi.json", document: (base) => JSON.stringify({ openapi: "3.1.0", servers: [base] }) },
    });
    const result = await handler(event("GET", "/api/openapi.json"));
    expect(result.statusCode).toBe(200);
    expect(json(result.body)).toEqual({ openapi: "3.1.0", servers: ["/api"] });
  });

  test("a basePath (an API mapping or a named stage) prefixes the routes", async () => {
    const commands = new CommandBus<Commands>();
    commands.register("Forget", () => undefined);
    const handler = createHttpApiHandler({ commands: { bus: commands, schemas }, basePath: "/prod/" });
    expect((await handler(event("POST", "/prod/commands/Forget"))).statusCode).toBe(204);
    expect((await handler(event("POST", "/commands/Forget"))).statusCode).toBe(404);
  });

  test("HEAD refused before the dispatcher (outside basePath, a bad header) is GET's answer without the body", async () => {
    const commands = new CommandBus<Commands>();
    const handler = createHttpApiHandler({ commands: { bus: commands, schemas }, basePath: "/prod" });
    const cases: [string, { headers?: Record<string, string> }][] = [
      ["/elsewhere", {}],
      ["/prod/commands/Forget", { headers: { "x-name": "caf\u00e9 \u2615" } }],
    ];
    for (const [path, options] of cases) {
      const asGet = await handler(event("GET", path, options));
      const asHead = await handler(event("HEAD", path, options));
      expect(asGet.body).toBeString();
      expect(asHead.statusCode).toBe(asGet.statusCode);
      expect(asHead.body).toBeUndefined();
      expect(asHead.headers?.["content-type"]).toBe("application/problem+json");
      expect(asHead.headers?.["content-length"]).toBe(String(new TextEncoder().encode(asGet.body as string).length));
    }
  });

  describe("errors become problem+json", () => {
    test("a ValidationError is 400 with its issues", async () => {
      const { handler } = setup();
      const result = await handler(event("POST", "/commands/PlaceOrder", { body: '{"sku":7}' }));
      expect(result.statusCode).toBe(400);
      expect(json(result.body)).toMatchObject({
        code: "VALIDATION_FAILED",
        issues: [{ path: ["sku"], message: "sku must be a string" }],
      });
    });

    test("malformed JSON is 400, and the parser's message (which quotes input) is not echoed", async () => {
      const { handler } = setup();
      const result = await handler(event("POST", "/commands/PlaceOrder", { body: '{"sku": secret' }));
      expect(result.statusCode).toBe(400);
      expect(result.body).not.toContain("secret");
      expect(json(result.body).issues).toEqual([{ path: [], message: "the body is not valid JSON" }]);
    });

    test("a text body with a lone surrogate is 400 as not UTF-8, as base64 or bytes are; nothing runs", async () => {
      // Encoded, it became U+FFFD and the command ran with that value.
      const { handler, seen } = setup();
      const result = await handler(event("POST", "/commands/PlaceOrder", { body: '{"sku":"A\uD800B"}' }));
      expect(result.statusCode).toBe(400);
      expect(json(result.body).issues).toEqual([{ path: [], message: "the body is not valid UTF-8" }]);
      expect(seen).toEqual([]);
    });

    test("invalid base64 is 400", async () => {
      const { handler } = setup();
      const result = await handler(event("POST", "/commands/PlaceOrder", { body: "!!not base64!!", base64: true }));
      expect(result.statusCode).toBe(400);
      expect(json(result.body).issues[0].message).toContain("base64");
    });

    test("a refusal made before the dispatcher (a body that is not base64, a method no route takes) echoes the caller's valid correlation id, a fresh one for an invalid id", async () => {
      // Outside audit: these answered with a fresh UUID, where the dispatcher's refusals echo the caller's.
      const { handler } = setup();
      const sent = (headers: Record<string, string>, method = "POST") =>
        handler(event(method, "/commands/PlaceOrder", { body: "!!not base64!!", base64: true, headers }));
      for (const method of ["POST", "TRACE"]) {
        const echoed = await sent({ "x-correlation-id": "corr-9" }, method);
        expect({ method, status: echoed.statusCode, id: echoed.headers?.["x-correlation-id"] }).toEqual({
          method,
          status: method === "POST" ? 400 : 405,
          id: "corr-9",
        });
      }
      const fresh = await sent({ "x-correlation-id": "a,b" });
      expect(fresh.headers?.["x-correlation-id"]).not.toBe("a,b");
      expect(fresh.headers?.["x-correlation-id"]).toMatch(/^[0-9a-f-]{36}$/);
    });

    test("base64 with misplaced padding is 400, not a 500 (atob refuses what the alphabet check lets by)", async () => {
      const reported: unknown[] = [];
      const { handler } = setup((error) => reported.push(error));
      for (const body of ["A=", "AB=", "==", "ABCDE=", "ABCDEF="]) {
        const result = await handler(event("POST", "/commands/Forget", { body, base64: true }));
        expect({ body, status: result.statusCode }).toEqual({ body, status: 400 });
        expect(json(result.body).issues).toEqual([{ path: [], message: "the body is not valid base64" }]);
        expect(() => requestFromEvent(event("POST", "/commands/Forget", { body, base64: true }))).toThrow(
          ValidationError,
        );
      }
      expect(reported).toEqual([]);
    });

    test("property: any base64-looking body is answered below 500; valid base64 of a JSON body is decoded", async () => {
      const reported: unknown[] = [];
      const { handler } = setup((error) => reported.push(error));
      const base64ish = fc.string({
        unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n"),
        maxLength: 24,
      });
      await fc.assert(
        fc.asyncProperty(base64ish, async (body) => {
          const result = await handler(event("POST", "/queries/GetOrder", { body, base64: true }));
          expect(result.statusCode).toBeLessThan(500);
        }),
        { numRuns: 400 },
      );
      await fc.assert(
        // Keys valibot's looseObject drops (its guard against prototype pollution) are left out.
        fc.asyncProperty(
          fc.dictionary(
            fc.string().filter((key) => !["__proto__", "prototype", "constructor"].includes(key)),
            fc.string(),
          ),
          async (payload) => {
            const bytes = new TextEncoder().encode(JSON.stringify(payload));
            const body = btoa(String.fromCharCode(...bytes));
            const result = await handler(event("POST", "/queries/GetOrder", { body, base64: true }));
            expect(result.statusCode).toBe(200);
            expect(json(result.body)).toEqual({ echo: payload });
          },
        ),
        { numRuns: 100 },
      );
      expect(reported).toEqual([]);
    });

    test("an unknown command type is 404 HANDLER_NOT_FOUND", async () => {
      const { handler } = setup();
      const result = await handler(event("POST", "/commands/Nope", { body: "{}" }));
      expect(result.statusCode).toBe(404);
      expect(json(result.body).code).toBe("HANDLER_NOT_FOUND");
    });

    test("queries on a handler without a query bus are 404", async () => {
      const commands = new CommandBus<Commands>();
      const handler = createHttpApiHandler({ commands: { bus: commands, schemas } });
      const result = await handler(event("GET", "/queries/GetOrder"));
      expect(result.statusCode).toBe(404);
    });

    test("the wrong method is 405 with Allow", async () => {
      const { handler } = setup();
      const result = await handler(event("GET", "/commands/PlaceOrder"));
      expect(result.statusCode).toBe(405);
      expect(result.headers?.allow).toBe("POST");
      const put = await handler(event("PUT", "/queries/GetOrder"));
      expect(put.headers?.allow).toBe("GET, HEAD, POST");
    });

    test("a ConcurrencyError is 409 with the stream and versions", async () => {
      const { commands, handler } = setup();
      commands.unregister("Forget");
      commands.register("Forget", () => {
        throw new ConcurrencyError("Order-1", 3, 5);
      });
      const result = await handler(event("POST", "/commands/Forget"));
      expect(result.statusCode).toBe(409);
      expect(json(result.body)).toMatchObject({ streamId: "Order-1", expectedVersion: 3, actualVersion: 5 });
    });

    test("a body over the limit is 413, checked after base64 decoding", async () => {
      const commands = new CommandBus<Commands>();
      commands.register("Forget", () => undefined);
      const handler = createHttpApiHandler({ commands: { bus: commands, schemas }, bodyLimit: 64 });
      const body = JSON.stringify({ pad: "x".repeat(100) });
      const result = await handler(event("POST", "/commands/Forget", { body: btoa(body), base64: true }));
      expect(result.statusCode).toBe(413);
      expect(json(result.body)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", limit: 64 });
    });

    test("a body that is not declared JSON is 415", async () => {
      const { handler } = setup();
      const result = await handler(
        event("POST", "/commands/PlaceOrder", { body: "sku=A", headers: { "content-type": "text/plain" } }),
      );
      expect(result.statusCode).toBe(415);
    });

    test("an unexpected error is 500 without its message, and reported to onError", async () => {
      const reported: unknown[] = [];
      const { commands, handler } = setup((error) => reported.push(error));
      commands.unregister("Forget");
      commands.register("Forget", () => {
        throw new Error("connection string postgres://admin:hunter2@db");
      });
      const result = await handler(event("POST", "/commands/Forget"));
      expect(result.statusCode).toBe(500);
      expect(result.body).not.toContain("hunter2");
      expect(json(result.body)).toMatchObject({ code: "INTERNAL_ERROR", detail: "An unexpected error occurred" });
      expect((reported[0] as Error).message).toContain("hunter2");
    });

    test("a retryable backend failure is 503 with Retry-After", async () => {
      const { commands, handler } = setup(() => undefined);
      commands.unregister("Forget");
      commands.register("Forget", () => {
        throw new ServiceError("DynamoDB", "PutItem", "ThrottlingException", true, "slow down");
      });
      const result = await handler(event("POST", "/commands/Forget"));
      expect(result.statusCode).toBe(503);
      expect(result.headers?.["retry-after"]).toBe("1");
    });

    test("a malformed correlation header is 400, one sent twice (API Gateway joins it as a,b) included, and nothing runs", async () => {
      // Outside audit: "a,b" ran the command under that id here while Hono, whose Node joins with ", ", refused it.
      for (const given of ["a b", "a,b"]) {
        const { handler, seen } = setup();
        const result = await handler(
          event("POST", "/commands/PlaceOrder", { body: '{"sku":"x"}', headers: { "x-correlation-id": given } }),
        );
        expect({ given, status: result.statusCode, ran: seen.length }).toEqual({ given, status: 400, ran: 0 });
        expect(result.headers?.["x-correlation-id"]).toBeString();
      }
    });
  });

  describe("bad setup is refused with a ValidationError", () => {
    test("a misspelt option is named among the handler's own keys (basePath included), not as a routes option", () => {
      const commands = { bus: new CommandBus(), schemas: {} };
      const error = (() => {
        try {
          createHttpApiHandler({ commands, basepath: "/api" } as never);
        } catch (caught) {
          return caught as ValidationError;
        }
      })();
      expect(error?.message).toStartWith("Invalid HTTP API handler options");
      expect(error?.issues.map((issue) => issue.path)).toEqual([["basepath"]]);
      expect(error?.issues[0]?.message).toContain("basePath");
    });

    test("no bus, a bad body limit, a bad base path", () => {
      const commands = { bus: new CommandBus(), schemas: {} };
      expect(() => createHttpApiHandler({})).toThrow(ValidationError);
      for (const options of [undefined, null, "commands"]) {
        expect(() => createHttpApiHandler(options as never)).toThrow(ValidationError);
      }
      expect(() => createHttpApiHandler({ commands, bodyLimit: 0 })).toThrow("bodyLimit");
      expect(() => createHttpApiHandler({ commands, basePath: "api" })).toThrow("basePath");
    });

    test("a base path that is not a string, or a metadata, onError or auth hook that is not a function, is refused when made", () => {
      const commands = { bus: new CommandBus(), schemas: {} };
      for (const [key, value] of [
        ["basePath", 42],
        ["basePath", null],
        ["metadata", "tenant"],
        ["onError", 5],
        ["auth", "bearer"],
      ] as const) {
        expect(() => createHttpApiHandler({ commands, [key]: value } as never)).toThrow(ValidationError);
        expect(() => createHttpApiHandler({ commands, [key]: value } as never)).toThrow(key);
      }
    });

    test("a key the options or their objects do not take is refused, named by its path", () => {
      // Before: dropped, and its default served (a misspelt basePath kept the stage's prefix; no probe ran).
      const commands = { bus: new CommandBus(), schemas: {} };
      for (const [options, path] of [
        [{ commands, basePth: "/api" }, ["basePth"]],
        [{ commands, health: { prbes: {} } }, ["health", "prbes"]],
      ] as const) {
        try {
          createHttpApiHandler(options as never);
          throw new Error("built");
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([path]);
        }
      }
    });

    test("a bare bus is refused: only types given a schema are exposed", () => {
      const bus = new CommandBus();
      expect(() => createHttpApiHandler({ commands: bus as never })).toThrow("only the types given a schema");
      expect(() => createHttpApiHandler({ queries: new QueryBus() as never })).toThrow("queries must be");
    });

    test("a payload format 1.0 event is refused, naming the setting to change", async () => {
      const handler = createHttpApiHandler({ commands: { bus: new CommandBus(), schemas: {} } });
      const v1 = { resource: "/", path: "/commands/X", httpMethod: "POST", requestContext: {}, body: "{}" };
      await expect(handler(v1 as never)).rejects.toThrow(/payloadFormatVersion/);
    });
  });

  describe("what API Gateway sends that a Request cannot hold", () => {
    test("a registered command without a schema answers 404 and does not run (an internal saga command)", async () => {
      const { handler } = setup();
      const result = await handler(event("POST", "/commands/IssueRefund", { body: "{}" }));
      expect(result.statusCode).toBe(404);
      expect(json(result.body).code).toBe("HANDLER_NOT_FOUND");
    });

    test("property: an Idempotency-Key sent twice (API Gateway joins the values with a comma) is 400 naming the header, nothing run", async () => {
      const { handler, seen } = setup();
      const authorizer = { jwt: { claims: { sub: "user-42" }, scopes: null } };
      const body = JSON.stringify({ sku: "A", quantity: 1 });
      const key = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
      await fc.assert(
        fc.asyncProperty(key, key, fc.boolean(), async (first, second, quoted) => {
          const joined = quoted ? `"${first}","${second}"` : `${first},${second}`;
          const headers = { "idempotency-key": joined };
          const result = await handler(event("POST", "/commands/PlaceOrder", { body, headers, authorizer }));
          expect(result.statusCode).toBe(400);
          expect(result.headers?.["content-type"]).toBe("application/problem+json");
          expect(JSON.parse(result.body ?? "{}")).toMatchObject({
            code: "VALIDATION_FAILED",
            issues: [{ path: ["headers", "idempotency-key"], message: expect.stringContaining("more than once") }],
          });
        }),
        { numRuns: 40 },
      );
      expect(seen).toEqual([]);
      // One key, plain or quoted (a comma inside quotes is the key's own), runs the command.
      for (const single of ["order-1", '"order-2,gift"']) {
        const headers = { "idempotency-key": single };
        const result = await handler(event("POST", "/commands/PlaceOrder", { body, headers, authorizer }));
        expect(result.statusCode).toBe(200);
      }
      expect(seen).toHaveLength(2);
    });

    test("a header value outside Latin-1 is 400 problem+json naming the header, not a 500", async () => {
      const reported: unknown[] = [];
      const { handler } = setup((error) => reported.push(error));
      for (const value of ["caf\u20ac", "\u{1F600}", "\u0100"]) {
        const result = await handler(event("POST", "/commands/Forget", { headers: { "x-note": value } }));
        expect(result.statusCode).toBe(400);
        expect(result.headers?.["content-type"]).toBe("application/problem+json");
        expect(json(result.body)).toMatchObject({
          code: "VALIDATION_FAILED",
          issues: [{ path: ["headers", "x-note"] }],
        });
      }
      expect(reported).toEqual([]);
    });

    test("property: any header value or name API Gateway may pass is answered below 500, as problem+json when refused", async () => {
      const reported: unknown[] = [];
      const { handler } = setup((error) => reported.push(error));
      const text = fc.string({ unit: "binary", maxLength: 40 });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.constantFrom("x-note", "x-correlation-id", "idempotency-key"), text),
          text,
          async (name, value) => {
            const result = await handler(event("POST", "/commands/Forget", { headers: { [name]: value } }));
            expect(result.statusCode).toBeLessThan(500);
            if (result.statusCode >= 400) expect(result.headers?.["content-type"]).toBe("application/problem+json");
          },
        ),
        { numRuns: 300 },
      );
      expect(reported).toEqual([]);
    });

    test("TRACE, CONNECT and a method not in upper case are 405 with the route's Allow, running nothing; on no route 404", async () => {
      const { handler } = setup();
      // A method in another case is another method: `post` ran as POST (a Request upper-cases it).
      for (const method of ["TRACE", "CONNECT", "TRACK", "BAD METHOD", "post", "Post"]) {
        const result = await handler(event(method, "/commands/Forget"));
        expect(result.statusCode).toBe(405);
        expect(result.headers?.allow).toBe("POST");
      }
      expect((await handler(event("TRACE", "/health/live"))).headers?.allow).toBe("GET, HEAD");
      expect((await handler(event("TRACE", "/nowhere"))).statusCode).toBe(404);
      const placing = setup();
      const lower = await placing.handler(
        event("post", "/commands/PlaceOrder", { body: JSON.stringify({ sku: "A" }) }),
      );
      expect({ status: lower.statusCode, ran: placing.seen.length }).toEqual({ status: 405, ran: 0 });
    });

    test("routes match rawPath as API Gateway matched it: a `..` or `%2e%2e` segment is not resolved into another route", async () => {
      const { handler, seen } = setup();
      const problemOf = async (result: Promise<{ statusCode: number; body?: string }>) => {
        const { statusCode, body } = await result;
        return { statusCode, ...(JSON.parse(body ?? "{}") as { code: string; detail: string }) };
      };
      expect(await problemOf(handler(event("POST", "/commands/%2e%2e", { body: "{}" })))).toMatchObject({
        statusCode: 404,
        code: "HANDLER_NOT_FOUND",
        detail: 'No command ".." is served here',
      });
      // Resolved, each would be /health/live (200 {"status":"ok"}), a route API Gateway did not match.
      // A `\` is no separator either (the URL parser, as on Bun, would read /health\live as /health/live).
      for (const path of [
        "/queries/%2e%2e/%2e%2e/health/live",
        "/commands/../health/live",
        "/x/%2E%2E/health/live",
        "/health\\live",
      ]) {
        expect([path, await problemOf(handler(event("GET", path)))]).toMatchObject([
          path,
          { statusCode: 404, code: "NOT_FOUND" },
        ]);
      }
      expect(seen).toEqual([]);
    });

    test("without a domainName, a Host header that is more than a host is 400 naming it: never credentials (a 500) or a query of its own", async () => {
      const reported: unknown[] = [];
      const { handler, seen } = setup((error) => reported.push(error));
      const hostless = (host: string) => {
        const base = event("GET", "/queries/GetOrder", { query: "a=mine", headers: { host } });
        return { ...base, requestContext: { ...base.requestContext, domainName: "" } } as ApiGatewayProxyEventV2;
      };
      // Before: "u:p@x" made a URL with credentials, which Request refuses (a TypeError, 500), and
      // "x?a=evil&" put its own query in front of the client's (the query read { a: "evil" }).
      for (const host of ["u:p@x", "x?a=evil&", "x#", "x/y", "x\\y"]) {
        const result = await handler(hostless(host));
        expect([host, result.statusCode, json(result.body)]).toMatchObject([
          host,
          400,
          { code: "VALIDATION_FAILED", issues: [{ path: ["headers", "host"] }] },
        ]);
      }
      expect(json((await handler(hostless("shop.example:8443"))).body)).toEqual({ echo: { a: "mine" } });
      expect(requestFromEvent(hostless("shop.example:8443")).url).toBe(
        "https://shop.example:8443/queries/GetOrder?a=mine",
      );
      expect(seen).toEqual([]);
      expect(reported).toEqual([]);
    });

    test("a rawPath without its leading slash is 400 naming it, not a URL with credentials (a 500)", async () => {
      const reported: unknown[] = [];
      const { handler } = setup((error) => reported.push(error));
      for (const path of ["@x:1", "commands/Forget", ""]) {
        const result = await handler(event("POST", path, { body: "{}" }));
        expect([path, result.statusCode, json(result.body)]).toMatchObject([
          path,
          400,
          { code: "VALIDATION_FAILED", issues: [{ path: ["rawPath"] }] },
        ]);
      }
      expect(reported).toEqual([]);
    });

    test("a stage or domainName that is not a string is an invalid event (a ValidationError), not a TypeError", async () => {
      const { handler } = setup();
      for (const [key, value] of [
        ["stage", { toString: 1 }],
        ["domainName", { toString: 1 }],
        ["stage", 7],
      ] as const) {
        const base = event("POST", "/commands/Forget", { body: "{}" });
        const bad = {
          ...base,
          requestContext: { ...base.requestContext, [key]: value },
        } as unknown as ApiGatewayProxyEventV2;
        const refused = await handler(bad).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(ValidationError);
        expect((refused as ValidationError).issues).toMatchObject([{ path: ["requestContext", key] }]);
      }
    });

    test("a `#` in rawQueryString stays in the query: none of the client's parameters moves into a fragment", async () => {
      const { handler } = setup();
      // Before: the URL parser took "#x&b=2" as a fragment, so the query read { a: "1" } and b was lost.
      const result = await handler(event("GET", "/queries/GetOrder", { query: "a=1#x&b=2" }));
      expect([result.statusCode, json(result.body)]).toEqual([200, { echo: { a: "1#x", b: "2" } }]);
    });

    test("a host that makes no URL (a bad port, a space) is 400 naming where the host came from, not rawPath", async () => {
      const { handler } = setup();
      const withHost = (domainName: string, host: string) => {
        const base = event("GET", "/queries/GetOrder", { query: "a=1", headers: { host } });
        return { ...base, requestContext: { ...base.requestContext, domainName } } as ApiGatewayProxyEventV2;
      };
      for (const [domainName, host, path] of [
        ["shop.example:99999", "x", ["requestContext", "domainName"]],
        ["[::1", "x", ["requestContext", "domainName"]],
        ["", "a b", ["headers", "host"]],
        ["", "x:port", ["headers", "host"]],
      ] as const) {
        const result = await handler(withHost(domainName, host));
        expect([domainName, host, result.statusCode, json(result.body)]).toMatchObject([
          domainName,
          host,
          400,
          { code: "VALIDATION_FAILED", issues: [{ path }] },
        ]);
      }
    });

    test("an isBase64Encoded that is no boolean is an invalid event naming it, not a guess from its truthiness", async () => {
      const { handler, seen } = setup();
      // Before: the string "false" is truthy, so a plain body was decoded as base64 (here "e30=" became {}).
      for (const flag of ["false", 1, "true", {}]) {
        const bad = { ...event("POST", "/commands/Forget", { body: "e30=" }), isBase64Encoded: flag };
        const refused = await handler(bad as unknown as ApiGatewayProxyEventV2).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(ValidationError);
        expect((refused as ValidationError).issues).toEqual([
          { path: ["isBase64Encoded"], message: "must be a boolean" },
        ]);
      }
      expect(seen).toEqual([]);
    });

    test("a named stage's prefix is taken off rawPath; cookies arrive as one Cookie header", async () => {
      const { handler, seen } = setup();
      const staged = event("POST", "/prod/commands/PlaceOrder", { body: '{"sku":"S"}' });
      const withStage = {
        ...staged,
        cookies: ["a=1", "b=2"],
        requestContext: { ...staged.requestContext, stage: "prod" },
      } as ApiGatewayProxyEventV2;
      expect(requestFromEvent(withStage).headers.get("cookie")).toBe("a=1; b=2");
      expect((await handler(withStage)).statusCode).toBe(200);
      expect(seen).toHaveLength(1);
    });
  });
});

describe("resultFromResponse", () => {
  test("Set-Cookie headers become cookies; a binary body is base64; text stays text", async () => {
    const headers = new Headers({ "content-type": "application/octet-stream" });
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2");
    const binary = await resultFromResponse(new Response(new Uint8Array([0, 255, 1]), { status: 201, headers }));
    expect(binary).toEqual({
      statusCode: 201,
      headers: { "content-type": "application/octet-stream" },
      cookies: ["a=1; Path=/", "b=2"],
      body: "AP8B",
      isBase64Encoded: true,
    });
    const text = await resultFromResponse(Response.json({ ok: "é" }));
    expect(text.body).toBe('{"ok":"é"}');
    expect(text.isBase64Encoded).toBeUndefined();
    const gzipped = await resultFromResponse(
      new Response("x", { headers: { "content-type": "application/json", "content-encoding": "gzip" } }),
    );
    expect(gzipped.isBase64Encoded).toBe(true);
  });
});
