/** The cart projection the operations UI's tests replay into. */
import { type EventEnvelope, projection } from "../../src/index.js";

type ItemAdded = EventEnvelope<"ItemAdded", { readonly sku: string }>;

/** One document per cart: the skus added, each once (the handler is idempotent, so a replay restores). */
export const cartItems = projection<EventEnvelope>({
  name: "cart-items",
  categories: ["Cart"],
  handle: async (event, { readModels }) => {
    if (event.type !== "ItemAdded") return;
    const { sku } = (event as ItemAdded).data;
    const cart = (await readModels.get<{ skus: string[] }>("carts", event.streamId)) ?? { skus: [] };
    if (!cart.skus.includes(sku)) await readModels.put("carts", event.streamId, { skus: [...cart.skus, sku] });
  },
});
