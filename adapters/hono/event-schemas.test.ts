import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Hono } from "hono";
import * as v from "valibot";
import { eventRegistry, InMemoryEventStore, isValidationError } from "../../src/index.js";
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

  test("types that differ only in replaced characters keep a component each (property)", async () => {
    const name = fc.stringMatching(/^[a-z]{1,3}[ :._!-]?[a-z]{0,3}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 1, maxLength: 8 }), (types) => {
        const registry = eventRegistry();
        for (const [i, type] of types.entries()) registry.schema(type, 1 + (i % 2), v.object({ [type]: v.string() }));
        const names = eventJsonSchemas(registry).map((s) => s.name);
        expect(new Set(names).size).toBe(types.length);
        for (const [i, type] of types.entries()) {
          expect(names[i]).toStartWith(`Event_${type.replace(/[^A-Za-z0-9._-]/g, "_")}_v${1 + (i % 2)}`);
          // A type no character of which is replaced keeps its plain name.
          if (!/[^A-Za-z0-9._-]/.test(type)) expect(names[i]).toBe(`Event_${type}_v${1 + (i % 2)}`);
        }
      }),
      { numRuns: 300 },
    );
    const registry = eventRegistry()
      .schema("Cart:Opened", 1, v.object({ a: v.string() }))
      .schema("Cart Opened", 1, v.object({ b: v.string() }));
    const app = eventFlowsRoutes({ openapi: { events: registry } });
    const doc = (await (await app.request("/openapi.json")).json()) as { components: { schemas: object } };
    const events = Object.entries(doc.components.schemas).filter(([key]) => key.startsWith("Event_"));
    expect(events.map(([, schema]) => schema["x-eventflows-event"].type)).toEqual(["Cart:Opened", "Cart Opened"]);
  });

  test("a property named __proto__ keeps its schema in the document, as appends check it", async () => {
    // JSON text may hold a "__proto__" key (JSON.parse makes it an own key), and valibot checks it.
    const registry = eventRegistry().schema(
      "Tagged",
      1,
      v.object({ ["__proto__"]: v.string(), constructor: v.number() }),
    );
    const store = new InMemoryEventStore({ eventRegistry: registry });
    const refused = await store
      .appendToStream("Tagged-1", [{ type: "Tagged", data: JSON.parse('{"__proto__": 5, "constructor": 1}') }])
      .catch((error: unknown) => error);
    expect(isValidationError(refused)).toBe(true);
    // So the document must say the value is a string, not only that the key is required.
    const [entry] = eventJsonSchemas(registry);
    const properties = entry?.schema.properties as Record<string, unknown>;
    expect(Object.hasOwn(properties, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
    const served = JSON.parse(JSON.stringify(entry?.schema)) as { properties: Record<string, unknown> };
    expect(Object.keys(served.properties)).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(served.properties, "__proto__")?.value).toEqual({ type: "string" });
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
