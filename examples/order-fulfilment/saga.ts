/**
 * The fulfilment saga: reserve stock, then charge the payment, then ship. A declined payment
 * cancels the order and compensates the reservation; a payment that has not answered within 15
 * minutes does the same.
 */
import { defineSaga } from "../../src/index.js";
import type { ShopEvent } from "./events.js";

export const PAYMENT_TIMEOUT_MS = 15 * 60_000;

export interface FulfilmentState {
  readonly stage: "placed" | "reserved" | "paid" | "shipped" | "cancelled";
  readonly amountCents: number;
  readonly card: string;
  readonly reason?: string;
}

export const fulfilment = defineSaga<ShopEvent, FulfilmentState>({
  name: "OrderFulfilment",
  startedBy: ["OrderPlaced"],
  handles: ["StockReserved", "StockUnavailable", "PaymentCharged", "PaymentFailed", "OrderShipped"],
  correlate: (event) => event.data.orderId,
  initialState: { stage: "placed", amountCents: 0, card: "" },
  on: {
    OrderPlaced: (_state, { data }, ctx) => {
      ctx.dispatch("ReserveStock", { orderId: data.orderId, sku: data.sku, quantity: data.quantity });
      // Registered now, sent only if a later step compensates.
      ctx.compensateWith("ReleaseStock", { orderId: data.orderId, sku: data.sku, quantity: data.quantity });
      return { stage: "placed", amountCents: data.amountCents, card: data.card };
    },
    StockReserved: (state, { data }, ctx) => {
      ctx.dispatch("ChargePayment", { orderId: data.orderId, amountCents: state.amountCents, card: state.card });
      ctx.schedule({ after: PAYMENT_TIMEOUT_MS, name: "payment-timeout", data: { orderId: data.orderId } });
      return { ...state, stage: "reserved" };
    },
    StockUnavailable: (state, { data }, ctx) => {
      ctx.dispatch("CancelOrder", { orderId: data.orderId, reason: "out of stock" });
      ctx.complete();
      return { ...state, stage: "cancelled", reason: "out of stock" };
    },
    PaymentCharged: (state, { data }, ctx) => {
      ctx.cancel("payment-timeout");
      ctx.dispatch("ShipOrder", { orderId: data.orderId });
      return { ...state, stage: "paid" };
    },
    PaymentFailed: (state, { data }, ctx) => {
      ctx.cancel("payment-timeout");
      ctx.dispatch("CancelOrder", { orderId: data.orderId, reason: data.reason });
      ctx.compensate();
      return { ...state, stage: "cancelled", reason: data.reason };
    },
    OrderShipped: (state, _event, ctx) => {
      ctx.complete();
      return { ...state, stage: "shipped" };
    },
  },
  onTimeout: {
    "payment-timeout": (state, fired, ctx) => {
      const reason = `no payment answer within 15 minutes (fired ${fired.latenessMs} ms late)`;
      ctx.dispatch("CancelOrder", { orderId: ctx.key, reason });
      ctx.compensate();
      return { ...state, stage: "cancelled", reason };
    },
  },
});
