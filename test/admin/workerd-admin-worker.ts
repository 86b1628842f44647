/**
 * A Worker for the workerd test of the operations UI (admin-workerd.int.test.ts): in-memory stores
 * held by the isolate, a cart projection, `/seed` to append events, and the UI at /admin behind a
 * bearer token from the Worker's env. Only web-standard code, bundled as wrangler bundles.
 */
import { Hono } from "hono";
import { adminRoutes, UnauthorizedError } from "../../adapters/hono/index.js";
import { InMemoryEventStore, InMemoryReadModelStore, ProjectionRunner } from "../../src/index.js";
import { cartItems } from "./cart-projection.ts";

type Env = { readonly ADMIN_TOKEN: string };

const eventStore = new InMemoryEventStore();
const readModels = new InMemoryReadModelStore();
// Made on first use: a runner draws a random owner id, which workerd refuses at global scope.
let runner: ProjectionRunner | undefined;

const app = new Hono<{ Bindings: Env }>();
app.post("/seed", async (c) => {
  await eventStore.appendToStream("Cart-1", [
    { type: "ItemAdded", data: { sku: "TEA" } },
    { type: "ItemAdded", data: { sku: "COFFEE" } },
  ]);
  return c.json({ head: await eventStore.getLastGlobalPosition() });
});
app.get("/carts/:id", async (c) => c.json((await readModels.get("carts", c.req.param("id"))) ?? null));
app.route(
  "/admin",
  adminRoutes({
    store: eventStore,
    projections: () => {
      runner ??= new ProjectionRunner({ projection: cartItems, eventStore, readModels });
      return [{ runner, readModels }];
    },
    auth: ({ request, context }) => {
      if (request.headers.get("authorization") !== `Bearer ${(context.env as Env).ADMIN_TOKEN}`) {
        throw new UnauthorizedError();
      }
      return true;
    },
  }),
);

export default app;
