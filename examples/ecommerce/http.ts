/**
 * The HTTP API: the public commands and the queries as Hono routes, each validated by its valibot
 * schema (which also makes the OpenAPI document at /api/openapi.json), behind the auth hook, with
 * Idempotency-Key support in the backend's store and health probes on the store.
 */
import type { CommandBus, EventStore, IdempotencyStore, QueryBus } from "@eventflows/core";
import { type AuthHook, eventFlowsRoutes } from "@eventflows/core/hono";
import { Hono } from "hono";
import * as v from "valibot";
import type { ShopCommands, ShopQueries } from "./events.js";
import { TEST_TOKENS } from "./payments.js";

const sku = v.pipe(v.string(), v.regex(/^[A-Z0-9][A-Z0-9-]{0,31}$/, "an SKU: A-Z, 0-9 and -, up to 32"));
const quantity = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000));
// A million in the currency: a price times the largest quantity stays an exact integer.
const priceCents = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100_000_000));
// Event data may not hold U+0000 (no store can), so the schema refuses it: the OpenAPI document then
// says so too, rather than the store refusing, after the handler ran, a request the document allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing it is the point
const noNul = v.regex(/^[^\u0000]*$/, "no U+0000 (NUL): the stores cannot hold it");

export interface HttpOptions {
  readonly commands: CommandBus<ShopCommands>;
  readonly queries: QueryBus<ShopQueries>;
  readonly eventStore: EventStore;
  readonly auth: AuthHook;
  readonly idempotency: IdempotencyStore;
}

export function shopApi({ commands, queries, eventStore, auth, idempotency }: HttpOptions): Hono {
  const app = new Hono();
  app.route(
    "/api",
    eventFlowsRoutes({
      commands: {
        bus: commands,
        schemas: {
          ListProduct: v.object({
            sku,
            name: v.pipe(v.string(), v.trim(), noNul, v.minLength(1), v.maxLength(100)),
            priceCents,
          }),
          ReceiveStock: v.object({ sku, quantity }),
          PlaceOrder: { input: v.object({ sku, quantity, paymentToken: v.picklist(TEST_TOKENS) }), tags: ["orders"] },
        },
      },
      queries: {
        bus: queries,
        schemas: {
          GetOrder: v.object({ orderId: v.pipe(v.string(), v.ulid()) }),
          GetStock: v.object({ sku }),
        },
      },
      auth,
      // A retried request with the same Idempotency-Key gets the first response: one order, not two.
      idempotency: { store: idempotency },
      health: { store: eventStore },
      openapi: {
        info: { title: "EventFlows shop", version: "1.0.0" },
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        security: [{ bearer: [] }],
      },
    }),
  );
  return app;
}
