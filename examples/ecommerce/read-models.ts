/**
 * The read models the queries answer from, kept by projections over the store's global feed: one
 * document per order (`orders`) and one per product (`stock`). The same definitions run on every
 * store; the documents live in the backend's read-model store.
 */
import { type EnvelopeOf, projection } from "@eventflows/core";
import type { OrderEvent, OrderView, PaymentEvent, ProductEvent, StockView } from "./events.js";

export const ordersProjection = projection<EnvelopeOf<OrderEvent | PaymentEvent>, undefined>({
  name: "orders",
  categories: ["Order", "Payment"],
  types: ["OrderPlaced", "OrderConfirmed", "OrderCancelled", "PaymentCaptured", "PaymentDeclined"],
  prefetch: (event) => ["orders", event.data.orderId],
  handle: async (event, { readModels }) => {
    const { orderId } = event.data;
    if (event.type === "OrderPlaced") {
      const { customerId, sku, quantity, totalCents } = event.data;
      const view: OrderView = { orderId, customerId, sku, quantity, totalCents, status: "placed" };
      await readModels.put("orders", orderId, view);
      return;
    }
    const view = await readModels.get<OrderView>("orders", orderId);
    if (view === undefined) return;
    const next: OrderView =
      event.type === "OrderConfirmed"
        ? { ...view, status: "confirmed" }
        : event.type === "OrderCancelled"
          ? { ...view, status: "cancelled", reason: event.data.reason }
          : event.type === "PaymentCaptured"
            ? { ...view, status: "paid", payment: "captured" }
            : { ...view, payment: "declined" };
    await readModels.put("orders", orderId, next);
  },
});

export const stockProjection = projection<
  EnvelopeOf<ProductEvent, "ProductListed" | "StockReceived" | "StockReserved" | "StockReleased">,
  undefined
>({
  name: "stock",
  categories: ["Product"],
  types: ["ProductListed", "StockReceived", "StockReserved", "StockReleased"],
  prefetch: (event) => ["stock", event.data.sku],
  handle: async (event, { readModels }) => {
    const { sku } = event.data;
    if (event.type === "ProductListed") {
      const { name, priceCents } = event.data;
      await readModels.put("stock", sku, { sku, name, priceCents, available: 0, reserved: 0 } satisfies StockView);
      return;
    }
    const view = await readModels.get<StockView>("stock", sku);
    if (view === undefined) return;
    const { quantity } = event.data;
    const next: StockView =
      event.type === "StockReceived"
        ? { ...view, available: view.available + quantity }
        : event.type === "StockReserved"
          ? { ...view, available: view.available - quantity, reserved: view.reserved + quantity }
          : { ...view, available: view.available + quantity, reserved: view.reserved - quantity };
    await readModels.put("stock", sku, next);
  },
});
