import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { eventRegistry } from "../../src/index.js";
import { cartRegistry } from "../../src/testing/index.js";
import { cartDomain } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes, eventJsonSchemas } from "./index.js";

describe("event schemas as JSON Schema", () => {
  test("every type and version of the registry, converted like the routes' schemas", () => {
    const schemas = eventJsonSchemas(cartRegistry());
    expect(schemas.map((s) => [s.name, s.current])).toEqual([
      ["Event_CartOpened_v1", false],
      ["Event_CartOpened_v3", true],
      ["Event_ItemPut_v2", true],
    ]);
    expect(schemas[1]?.schema).toEqual({
      type: "object",
      properties: {
        owner: { type: "string", minLength: 1 },
        currency: expect.objectContaining({ type: "string", minLength: 3, maxLength: 3 }),
        channel: { enum: ["web", "store", "phone"] },
      },
      required: ["owner", "currency", "channel"],
      "x-eventflows-event": { type: "CartOpened", version: 3, current: true },
    });
  });

  test("a schema of another library is documented as unchecked, not left out", () => {
    const other = { "~standard": { version: 1 as const, vendor: "zod", validate: (value: unknown) => ({ value }) } };
    const [only] = eventJsonSchemas(eventRegistry().schema("Odd type!", 2, other));
    expect(only?.name).toBe("Event_Odd_type__v2");
    expect(only?.schema["x-eventflows-unchecked"]).toEqual(["a zod schema"]);
  });

  test("the OpenAPI document lists them under components.schemas", async () => {
    const { routes } = cartDomain();
    const app = new Hono().route("/api", eventFlowsRoutes({ ...routes, openapi: { events: cartRegistry() } }));
    const doc = (await (await app.request("/api/openapi.json")).json()) as { components: { schemas: object } };
    expect(Object.keys(doc.components.schemas)).toEqual([
      "Problem",
      "Event_CartOpened_v1",
      "Event_CartOpened_v3",
      "Event_ItemPut_v2",
    ]);
  });
});
