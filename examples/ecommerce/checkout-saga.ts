/**
 * The checkout saga: an order placed reserves its stock, then charges the payment, then confirms.
 * A declined payment, or none within the payment timeout, cancels the order and releases the stock
 * (the compensation); stock that is not there cancels the order at once.
 */
import { defineSaga } from "@eventflows/core";
import type { ShopEvent } from "./events.js";

export const DEFAULT_PAYMENT_TIMEOUT_MS = 15 * 60_000;

type CheckoutEvent = Extract<
  ShopEvent,
  { type: "OrderPlaced" | "StockReserved" | "StockReservationRejected" | "PaymentCaptured" | "PaymentDeclined" }
>;

export interface CheckoutState {
  readonly stage: "placed" | "reserved" | "confirmed" | "cancelled";
  readonly totalCents: number;
  readonly paymentToken: string;
}

export function checkoutSaga(paymentTimeoutMs = DEFAULT_PAYMENT_TIMEOUT_MS) {
  return defineSaga<CheckoutEvent, CheckoutState>({
    name: "Checkout",
    startedBy: ["OrderPlaced"],
    handles: ["StockReserved", "StockReservationRejected", "PaymentCaptured", "PaymentDeclined"],
    correlate: (event) => event.data.orderId,
    initialState: { stage: "placed", totalCents: 0, paymentToken: "" },
    on: {
      OrderPlaced: (_state, { data }, ctx) => {
        ctx.dispatch("ReserveStock", { orderId: data.orderId, sku: data.sku, quantity: data.quantity });
        // Sent only if a later step compensates.
        ctx.compensateWith("ReleaseStock", { orderId: data.orderId, sku: data.sku });
        return { stage: "placed", totalCents: data.totalCents, paymentToken: data.paymentToken };
      },
      StockReserved: (state, { data }, ctx) => {
        const { totalCents: amountCents, paymentToken } = state;
        ctx.dispatch("ChargePayment", { orderId: data.orderId, amountCents, paymentToken });
        ctx.schedule({ after: paymentTimeoutMs, name: "payment-timeout" });
        return { ...state, stage: "reserved" };
      },
      StockReservationRejected: (state, { data }, ctx) => {
        ctx.dispatch("CancelOrder", { orderId: data.orderId, reason: `only ${data.available} in stock` });
        ctx.complete();
        return { ...state, stage: "cancelled" };
      },
      PaymentCaptured: (state, { data }, ctx) => {
        ctx.cancel("payment-timeout");
        ctx.dispatch("ConfirmOrder", { orderId: data.orderId });
        ctx.complete();
        return { ...state, stage: "confirmed" };
      },
      PaymentDeclined: (state, { data }, ctx) => {
        ctx.cancel("payment-timeout");
        ctx.dispatch("CancelOrder", { orderId: data.orderId, reason: data.reason });
        ctx.compensate();
        return { ...state, stage: "cancelled" };
      },
    },
    onTimeout: {
      "payment-timeout": (state, _fired, ctx) => {
        ctx.dispatch("CancelOrder", { orderId: ctx.key, reason: "no payment answer in time" });
        ctx.compensate();
        return { ...state, stage: "cancelled" };
      },
    },
  });
}
