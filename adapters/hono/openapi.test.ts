import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes } from "./routes.js";

async function documentAt(app: Hono, path: string) {
  const response = await app.request(path);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  return response.json();
}

describe("OpenAPI document", () => {
  test("describes every exposed command and query from the same valibot schemas", async () => {
    const { routes } = cartDomain();
    const app = new Hono().route("/api", eventFlowsRoutes({ ...routes, bodyLimit: 4096 }));
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
        sku: { type: "string", minLength: 1, maxLength: 32 },
        quantity: { type: "integer", minimum: 1, maximum: 99 },
        expectedVersion: { type: "integer", minimum: 0 },
      },
      required: ["cartId", "sku", "quantity"],
    });
    expect(addItem.requestBody.description).toContain("4096 bytes");
    expect(addItem.responses["200"].content["application/json"].schema).toEqual({
      type: "object",
      properties: { version: { type: "number" } },
      required: ["version"],
    });
    expect(Object.keys(addItem.responses).sort()).toEqual(
      ["200", "204", "400", "404", "409", "413", "415", "422", "500", "503"].sort(),
    );
    expect(addItem.parameters.map((p: { name: string }) => p.name)).toEqual(["x-correlation-id", "idempotency-key"]);
    expect(doc.components.responses.BadRequest.content["application/problem+json"].schema).toEqual({
      $ref: "#/components/schemas/Problem",
    });
  });

  test("a query with an object schema documents GET query parameters and the POST body", async () => {
    const { routes } = cartDomain();
    const doc = await documentAt(eventFlowsRoutes(routes), "/openapi.json");
    expect(doc.servers).toEqual([{ url: "/" }]);
    const search = doc.paths["/queries/SearchCarts"];
    expect(search.get.parameters.slice(1)).toEqual([
      { name: "minItems", in: "query", required: true, schema: { type: "integer", minimum: 0 } },
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
  });

  test("without idempotency there is no Idempotency-Key parameter and no 422", async () => {
    const { routes } = cartDomain();
    const doc = await documentAt(eventFlowsRoutes({ ...routes, idempotency: false }), "/openapi.json");
    const op = doc.paths["/commands/OpenCart"].post;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(["x-correlation-id"]);
    expect(op.responses["422"]).toBeUndefined();
  });

  test("openapi: false leaves the route out", async () => {
    expect((await eventFlowsRoutes({ openapi: false }).request("/openapi.json")).status).toBe(404);
  });
});
