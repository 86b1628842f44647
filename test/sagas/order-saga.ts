/** A small order saga and a recording command bus, shared by the saga tests. */
import { CommandBus, defineSaga } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";

export type OrderEvent =
  | { type: "OrderPlaced"; data: { orderId: string; sku: string } }
  | { type: "StockReserved"; data: { orderId: string } }
  | { type: "PaymentCharged"; data: { orderId: string } }
  | { type: "PaymentFailed"; data: { orderId: string } };

export interface OrderState {
  readonly sku: string;
  readonly steps: readonly string[];
}

export const orderSaga = defineSaga<OrderEvent, OrderState>({
  name: "Order",
  startedBy: ["OrderPlaced"],
  handles: ["StockReserved", "PaymentCharged", "PaymentFailed"],
  correlate: (event) => event.data.orderId,
  initialState: { sku: "", steps: [] },
  on: {
    OrderPlaced: (state, event, ctx) => {
      ctx.dispatch("ReserveStock", { orderId: event.data.orderId, sku: event.data.sku });
      ctx.compensateWith("ReleaseStock", { orderId: event.data.orderId });
      ctx.schedule({ after: 15 * 60_000, name: "payment-timeout" });
      return { sku: event.data.sku, steps: [...state.steps, "placed"] };
    },
    StockReserved: (state, event, ctx) => {
      ctx.dispatch("ChargePayment", { orderId: event.data.orderId });
      ctx.compensateWith("RefundPayment", { orderId: event.data.orderId });
      return { ...state, steps: [...state.steps, "reserved"] };
    },
    PaymentCharged: (state, _event, ctx) => {
      ctx.cancel("payment-timeout");
      ctx.complete();
      return { ...state, steps: [...state.steps, "charged"] };
    },
    PaymentFailed: (state, _event, ctx) => {
      ctx.compensate();
      return { ...state, steps: [...state.steps, "failed"] };
    },
  },
  onTimeout: {
    "payment-timeout": (state, _fired, ctx) => {
      ctx.compensate();
      return { ...state, steps: [...state.steps, "timed-out"] };
    },
  },
});

export type Commands = {
  ReserveStock: { payload: { orderId: string; sku: string }; result: undefined };
  ReleaseStock: { payload: { orderId: string }; result: undefined };
  ChargePayment: { payload: { orderId: string }; result: undefined };
  RefundPayment: { payload: { orderId: string }; result: undefined };
};

/** A command bus whose handlers record (type, id), and can be told to fail a type some times. */
export function recordingBus() {
  const sent: { type: string; id: string; payload: unknown }[] = [];
  const failing = new Map<string, number>();
  const bus = new CommandBus<Commands>();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"] as const) {
    bus.register(type, async (payload, message) => {
      const left = failing.get(type) ?? 0;
      if (left > 0) {
        failing.set(type, left - 1);
        throw new Error(`${type} is down`);
      }
      sent.push({ type, id: message.id, payload });
      return undefined;
    });
  }
  return { bus, sent, failing };
}

export const orderEvent = (type: OrderEvent["type"], orderId: string, extra: object = {}) =>
  testEnvelope(type, `Order-${orderId}`, { orderId, ...extra });
