import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Hono } from "hono";
import * as v from "valibot";
import { CommandBus, QueryBus, ValidationError } from "../../src/index.js";
import { CORRELATION_HEADER, correlationFrom, MAX_CORRELATION_ID_LENGTH } from "../http/index.js";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import {
  eventFlowsRoutes,
  IDEMPOTENCY_HEADER,
  idempotencyKeyFrom,
  type JsonSchema,
  MAX_IDEMPOTENCY_KEY_LENGTH,
} from "./index.js";

async function documentAt(app: Hono, path: string) {
  const response = await app.request(path);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  return response.json();
}

describe("OpenAPI document", () => {
  test("describes every exposed command and query from the same valibot schemas", async () => {
    const { routes } = cartDomain();
    const app = new Hono().route(
      "/api",
      eventFlowsRoutes({ ...routes, bodyLimit: 4096, idempotency: { scope: () => "tests" } }),
    );
    const doc = await documentAt(app, "/api/openapi.json");
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toEqual({ title: "EventFlows API", version: "1.0.0" });
    expect(doc.servers).toEqual([{ url: "/api" }]);
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/commands/AddItem",
      "/commands/ClearCart",
      "/commands/Explode",
      "/commands/OpenCart",
      "/health/live",
      "/health/ready",
      "/queries/GetCart",
      "/queries/SearchCarts",
    ]);

    const addItem = doc.paths["/commands/AddItem"].post;
    expect(addItem.operationId).toBe("command_AddItem");
    expect(addItem.summary).toBe("Add an item to a cart");
    expect(addItem.requestBody.content["application/json"].schema).toEqual({
      type: "object",
      properties: {
        cartId: { type: "string", minLength: 1, maxLength: 40, pattern: "^[A-Za-z0-9-]+$" },
        // Any text: at most 32 UTF-16 units, in a form JSON Schema's code-point count cannot exceed.
        sku: {
          type: "string",
          minLength: 1,
          maxLength: 32,
          anyOf: [{ maxLength: 16 }, { pattern: "^[\\u0000-\\uFFFF]*$" }],
        },
        quantity: { type: "integer", minimum: 1, maximum: 99 },
        expectedVersion: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      },
      required: ["cartId", "sku", "quantity"],
    });
    // The nesting limit is refused with a 400: JSON Schema cannot state it, so the description does (outside audit).
    expect(addItem.requestBody.description).toBe(
      "JSON, at most 4096 bytes, arrays and objects nested at most 64 deep.",
    );
    expect(addItem.responses["200"].content["application/json"].schema).toEqual({
      type: "object",
      properties: { version: { type: "number" } },
      required: ["version"],
    });
    expect(Object.keys(addItem.responses).sort()).toEqual(
      ["200", "204", "400", "404", "409", "410", "413", "415", "422", "500", "503"].sort(),
    );
    expect(addItem.parameters.map((p: { name: string }) => p.name)).toEqual(["x-correlation-id", "idempotency-key"]);
    expect(doc.components.responses.BadRequest.content["application/problem+json"].schema).toEqual({
      $ref: "#/components/schemas/Problem",
    });
    // A handler's ValidationError answers 400 to a request its schema allowed: the 400 says so.
    expect(doc.components.responses.BadRequest.description).toBe(
      "Malformed JSON, a body/query that fails validation, or a ValidationError from the handler (VALIDATION_FAILED)",
    );
  });

  test("a query with an object schema documents GET query parameters and the POST body", async () => {
    const { routes } = cartDomain();
    const doc = await documentAt(eventFlowsRoutes(routes), "/openapi.json");
    expect(doc.servers).toEqual([{ url: "/" }]);
    const search = doc.paths["/queries/SearchCarts"];
    expect(search.get.parameters.slice(1)).toEqual([
      {
        name: "minItems",
        in: "query",
        required: true,
        // A 72-character "1.000…0" is a number to the schema alone, but text to the route (outside audit).
        description: "Text of more than 64 characters is never read as a number.",
        schema: { type: "integer", minimum: 0 },
      },
      {
        name: "skus",
        in: "query",
        required: false,
        schema: { type: "array", items: { type: "string" } },
        style: "form",
        explode: true,
      },
      { name: "open", in: "query", required: false, schema: { type: "boolean" } },
    ]);
    expect(search.post.operationId).toBe("query_SearchCarts_post");
    expect(search.get.responses["413"]).toBeUndefined();
    expect(search.post.responses["413"]).toBeDefined();
  });

  test("a query with a property only an object can fill is documented as POST only: no query string carries an object", async () => {
    // OpenAPI's default for an object in the query (form, exploded) sends `filter: { status: "open" }` as
    // `?status=open`, which names no `filter`: every GET a client built from the document was a 400.
    const queries = new QueryBus<{
      Find: { payload: { filter: { status: string } }; result: string };
      Tagged: { payload: { tags: { name: string }[] }; result: string };
      Either: { payload: { limit: number | { max: number } }; result: string };
      Nothing: { payload: { cursor: null | { after: number } }; result: string };
    }>();
    queries.register("Find", ({ filter }) => filter.status);
    queries.register("Tagged", ({ tags }) => tags.map((tag) => tag.name).join());
    queries.register("Either", () => "ok");
    queries.register("Nothing", () => "ok");
    const app = eventFlowsRoutes({
      queries: {
        bus: queries,
        schemas: {
          Find: v.object({ filter: v.object({ status: v.string() }) }),
          Tagged: v.object({ tags: v.array(v.object({ name: v.string() })) }),
          Either: v.object({ limit: v.union([v.number(), v.object({ max: v.number() })]) }),
          Nothing: v.object({ cursor: v.nullable(v.object({ after: v.number() })) }),
        },
      },
    });
    const doc = await documentAt(app, "/openapi.json");
    const find = doc.paths["/queries/Find"];
    expect(find.get).toBeUndefined();
    expect(find.post.requestBody.content["application/json"].schema.required).toEqual(["filter"]);
    expect(doc.paths["/queries/Tagged"].get).toBeUndefined();
    expect(doc.paths["/queries/Nothing"].get).toBeUndefined();
    expect((await app.request("/queries/Nothing?cursor=null")).status).toBe(400);
    // A property a query string can fill (the number of the union) keeps the GET.
    expect(doc.paths["/queries/Either"].get.parameters.map((p: { name: string }) => p.name)).toContain("limit");
    // What the GET would have been sent as is indeed refused, and the POST the document keeps is served.
    expect((await app.request("/queries/Find?status=open")).status).toBe(400);
    const posted = await app.request("/queries/Find", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter: { status: "open" } }),
    });
    expect(await posted.json()).toBe("open");
  });

  test("a GET's parameters leave null out of a property's schema: no query string carries null (found by schemathesis)", async () => {
    // v.nullable(v.number()) was documented as a number or null in the GET too, so a client sent ?n=null,
    // and the route refused it: a parameter's text is never read as null.
    const queries = new QueryBus<{
      Page: { payload: { n: number | null; ids: (number | null)[]; size: number | null }; result: string };
    }>();
    queries.register("Page", () => "ok");
    const app = eventFlowsRoutes({
      queries: {
        bus: queries,
        schemas: {
          Page: v.object({
            n: v.nullable(v.number()),
            ids: v.array(v.nullable(v.number())),
            size: v.nullable(v.pipe(v.number(), v.integer()), 10),
          }),
        },
      },
    });
    expect((await app.request("/queries/Page?n=null&ids=1&size=1")).status).toBe(400);
    expect((await app.request("/queries/Page?n=1&ids=null&size=1")).status).toBe(400);
    const doc = await documentAt(app, "/openapi.json");
    const parameters = Object.fromEntries(
      doc.paths["/queries/Page"].get.parameters.map((p: { name: string; schema: JsonSchema }) => [p.name, p.schema]),
    );
    expect(parameters.n).toEqual({ type: "number" });
    expect(parameters.ids).toEqual({ type: "array", items: { type: "number" } });
    expect(parameters.size).toEqual({ anyOf: [{ type: "integer" }], default: 10 });
    expect((await app.request("/queries/Page?n=1&ids=2&size=3")).status).toBe(200);
    // The body can carry null: the POST keeps it.
    const body = doc.paths["/queries/Page"].post.requestBody.content["application/json"].schema;
    expect(body.properties.n).toEqual({ anyOf: [{ type: "number" }, { type: "null" }] });
  });

  test("a command's body is documented as required exactly when the route refuses a request without one", async () => {
    // Without a body the route validates undefined: v.unknown() takes that (schemathesis: a missing body
    // documented as required was served), v.exactOptional at the top does not (documented as optional, refused).
    const inputs = {
      Plain: v.object({}),
      Optional: v.optional(v.object({})),
      ExactOptional: v.exactOptional(v.object({})),
      Nullish: v.nullish(v.object({})),
      Undefinedable: v.undefinedable(v.object({})),
      Unknown: v.unknown(),
      Any: v.any(),
      Fallback: v.fallback(v.object({ n: v.number() }), { n: 1 }),
    };
    const commands = new CommandBus<Record<keyof typeof inputs, { payload: unknown; result: string }>>();
    for (const type of Object.keys(inputs) as (keyof typeof inputs)[]) commands.register(type, () => "ran");
    const app = eventFlowsRoutes({ commands: { bus: commands, schemas: inputs } });
    const doc = await documentAt(app, "/openapi.json");
    const documented: string[] = [];
    const refused: string[] = [];
    for (const type of Object.keys(inputs)) {
      if (doc.paths[`/commands/${type}`].post.requestBody.required === true) documented.push(type);
      if ((await app.request(`/commands/${type}`, { method: "POST" })).status !== 200) refused.push(type);
    }
    expect(documented).toEqual(refused);
  });

  test("info, path, servers and security are configurable; auth adds 401 and 403", async () => {
    const { routes } = cartDomain();
    const app = eventFlowsRoutes({
      ...routes,
      auth: () => true,
      openapi: {
        path: "/docs/openapi.json",
        info: { title: "Carts", version: "2.1.0" },
        servers: [{ url: "https://carts.example.com/api" }],
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        security: [{ bearer: [] }],
      },
    });
    expect((await app.request("/openapi.json")).status).toBe(404);
    const doc = await documentAt(app, "/docs/openapi.json");
    expect(doc.info.title).toBe("Carts");
    expect(doc.servers).toEqual([{ url: "https://carts.example.com/api" }]);
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: "http", scheme: "bearer" } });
    expect(doc.paths["/commands/OpenCart"].post.responses["401"]).toBeDefined();
    expect(doc.paths["/health/live"].get.security).toEqual([]);
    expect(doc.paths["/health/ready"].get.responses["401"]).toBeUndefined();
  });

  test("health routes behind the auth hook are documented with the document's security and its refusals", async () => {
    const { routes } = cartDomain();
    const app = eventFlowsRoutes({
      ...routes,
      auth: ({ request }) => request.headers.get("authorization") === "Bearer ok",
      health: { auth: true },
      openapi: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } }, security: [{ bearer: [] }] },
    });
    const doc = await documentAt(app, "/openapi.json");
    for (const path of ["/health/live", "/health/ready"]) {
      const operation = doc.paths[path].get;
      // No `security: []` (which says no credentials are needed): the routes answer 401/403 without them.
      expect(operation.security).toBeUndefined();
      expect(operation.responses["401"]).toBeDefined();
      expect(operation.responses["403"]).toBeDefined();
      expect((await app.request(path)).status).toBe(403);
    }
    // An auth hook alone does not guard the probes: they stay open, and say so.
    const open = eventFlowsRoutes({ ...routes, auth: () => false });
    expect((await documentAt(open, "/openapi.json")).paths["/health/ready"].get.security).toEqual([]);
    expect((await open.request("/health/ready")).status).toBe(200);
  });

  test("without idempotency there is no Idempotency-Key parameter and no 422", async () => {
    const { routes } = cartDomain();
    const doc = await documentAt(eventFlowsRoutes({ ...routes, idempotency: false }), "/openapi.json");
    const op = doc.paths["/commands/OpenCart"].post;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(["x-correlation-id"]);
    expect(op.responses["422"]).toBeUndefined();
  });

  test("without an auth hook or an explicit scope every key is refused, so the header is not documented", async () => {
    const { routes } = cartDomain();
    const app = eventFlowsRoutes(routes);
    const doc = await documentAt(app, "/openapi.json");
    const op = doc.paths["/commands/OpenCart"].post;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(["x-correlation-id"]);
    const refused = await app.request("/commands/OpenCart", {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-1" },
      body: JSON.stringify({ cartId: "c1" }),
    });
    expect(refused.status).toBe(400);
    const withAuth = await documentAt(eventFlowsRoutes({ ...routes, auth: () => ({ userId: "u" }) }), "/openapi.json");
    expect(withAuth.paths["/commands/OpenCart"].post.parameters.map((p: { name: string }) => p.name)).toContain(
      "idempotency-key",
    );
  });

  test("an openapi path without its leading slash is a ValidationError naming it, not a silent 404", () => {
    let caught: unknown;
    try {
      eventFlowsRoutes({ openapi: { path: "docs/openapi.json" } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues[0]?.path).toEqual(["openapi", "path"]);
  });

  test("openapi and health settings that would serve anyone, or never serve, are refused naming the option", async () => {
    const issuesOf = (options: Parameters<typeof eventFlowsRoutes>[0]) => {
      try {
        eventFlowsRoutes(options);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
      return [];
    };
    const hook = () => true as const;
    // Before: `auth: "true"` was read as false and `auth: true` without a hook asked no one, so the
    // document and the readiness probe answered anyone; a path another route answers was never served.
    expect(issuesOf({ auth: hook, openapi: { auth: "true" as never } })).toEqual(["openapi.auth"]);
    expect(issuesOf({ openapi: { auth: true } })).toEqual(["openapi.auth"]);
    expect(issuesOf({ openapi: { path: "/health/ready" } })).toEqual(["openapi.path"]);
    expect(issuesOf({ auth: hook, health: { auth: "yes" as never } })).toEqual(["health.auth"]);
    expect(issuesOf({ health: { auth: true } })).toEqual(["health.auth"]);
    const app = eventFlowsRoutes({ auth: () => false, openapi: { auth: true }, health: { auth: true } });
    expect((await app.request("/openapi.json")).status).toBe(403);
    expect((await app.request("/health/ready")).status).toBe(403);
  });

  test("openapi: false leaves the route out", async () => {
    expect((await eventFlowsRoutes({ openapi: false }).request("/openapi.json")).status).toBe(404);
  });
});

describe("the documented headers accept exactly what the server does (generated header values)", () => {
  async function headerSchemas() {
    const { routes } = cartDomain();
    const app = eventFlowsRoutes({ ...routes, idempotency: { scope: () => "tests" } });
    const doc = await documentAt(new Hono().route("/", app), "/openapi.json");
    const parameters = doc.paths["/commands/AddItem"].post.parameters as { name: string; schema: JsonSchema }[];
    const byName = new Map(parameters.map((p) => [p.name, p.schema]));
    return { correlation: byName.get(CORRELATION_HEADER), key: byName.get(IDEMPOTENCY_HEADER) };
  }
  const documented = (schema: JsonSchema | undefined, value: string) => {
    if (schema === undefined) throw new Error("header not documented");
    const length = [...value].length;
    return (
      length >= ((schema.minLength as number | undefined) ?? 0) &&
      length <= (schema.maxLength as number) &&
      new RegExp(schema.pattern as string, "u").test(value)
    );
  };
  const accepted = (read: (headers: Headers) => unknown, name: string, value: string) => {
    try {
      read(new Headers({ [name]: value }));
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return false;
    }
  };
  // Values around the limits, made of visible ASCII, quotes, spaces, controls and non-ASCII.
  const value = (max: number) =>
    fc.oneof(
      fc.string({ unit: fc.constantFrom("a", '"', "~", "!", " ", "\t", "\u0001", "é", "😀"), maxLength: 8 }),
      fc.integer({ min: max - 3, max: max + 3 }).chain((length) =>
        fc.tuple(fc.constantFrom("", '"'), fc.constantFrom("", '"')).map(([a, b]) => {
          const inner = "k".repeat(Math.max(0, length - a.length - b.length));
          return `${a}${inner}${b}`;
        }),
      ),
    );
  // Headers cannot carry these at all (fetch refuses them), and HTTP trims surrounding whitespace.
  const sendable = (text: string) =>
    text === text.trim() && [...text].every((c) => c.charCodeAt(0) <= 0xff && !"\0\r\n".includes(c));

  test("x-correlation-id", async () => {
    const { correlation } = await headerSchemas();
    fc.assert(
      fc.property(value(MAX_CORRELATION_ID_LENGTH), (text) => {
        fc.pre(sendable(text));
        expect(documented(correlation, text)).toBe(accepted(correlationFrom, CORRELATION_HEADER, text));
      }),
      { numRuns: 3_000 },
    );
  });

  test("Idempotency-Key, plain or quoted", async () => {
    const { key } = await headerSchemas();
    const twice = ["a,b", "a, b", '"a","b"', '"""', '"a,b"', ","];
    for (const text of [
      '"',
      '""',
      '"a"',
      '"a',
      'a"',
      "k".repeat(255),
      `"${"k".repeat(255)}"`,
      "k".repeat(256),
      ...twice,
    ]) {
      expect([text, documented(key, text)]).toEqual([text, accepted(idempotencyKeyFrom, IDEMPOTENCY_HEADER, text)]);
    }
    fc.assert(
      fc.property(value(MAX_IDEMPOTENCY_KEY_LENGTH), (text) => {
        fc.pre(sendable(text));
        expect(documented(key, text)).toBe(accepted(idempotencyKeyFrom, IDEMPOTENCY_HEADER, text));
      }),
      { numRuns: 3_000 },
    );
  });
});
