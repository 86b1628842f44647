/**
 * What happens in the shop, as events, and the commands and queries that make it happen. Every
 * event names its order (where it has one), so the checkout saga can follow an order across the
 * Order, Product and Payment streams.
 */
import { defineStream } from "@eventflows/core";

export const OrderStream = defineStream("Order");
export const ProductStream = defineStream("Product");
export const PaymentStream = defineStream("Payment");

export type ProductEvent =
  | { type: "ProductListed"; data: { sku: string; name: string; priceCents: number } }
  | { type: "StockReceived"; data: { sku: string; quantity: number } }
  | { type: "StockReserved"; data: { sku: string; orderId: string; quantity: number } }
  | { type: "StockReservationRejected"; data: { sku: string; orderId: string; requested: number; available: number } }
  | { type: "StockReleased"; data: { sku: string; orderId: string; quantity: number } };

export type OrderEvent =
  | {
      type: "OrderPlaced";
      data: {
        orderId: string;
        customerId: string;
        sku: string;
        quantity: number;
        totalCents: number;
        paymentToken: string;
      };
    }
  | { type: "OrderConfirmed"; data: { orderId: string } }
  | { type: "OrderCancelled"; data: { orderId: string; reason: string } };

export type PaymentEvent =
  | { type: "PaymentCaptured"; data: { orderId: string; amountCents: number; chargeId: string } }
  | { type: "PaymentDeclined"; data: { orderId: string; reason: string } };

export type ShopEvent = ProductEvent | OrderEvent | PaymentEvent;

/** Commands callers send over HTTP. */
export type PublicCommands = {
  ListProduct: { payload: { sku: string; name: string; priceCents: number }; result: undefined };
  ReceiveStock: { payload: { sku: string; quantity: number }; result: { available: number } };
  PlaceOrder: {
    payload: { sku: string; quantity: number; paymentToken: string };
    result: { orderId: string; totalCents: number };
  };
};

/** Commands only the checkout saga sends (no HTTP route: they have no schema there). */
export type SagaCommands = {
  ReserveStock: { payload: { orderId: string; sku: string; quantity: number }; result: undefined };
  ReleaseStock: { payload: { orderId: string; sku: string }; result: undefined };
  ChargePayment: { payload: { orderId: string; amountCents: number; paymentToken: string }; result: undefined };
  ConfirmOrder: { payload: { orderId: string }; result: undefined };
  CancelOrder: { payload: { orderId: string; reason: string }; result: undefined };
};

export type ShopCommands = PublicCommands & SagaCommands;

export interface OrderView {
  readonly orderId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly totalCents: number;
  readonly status: "placed" | "paid" | "confirmed" | "cancelled";
  readonly payment?: "captured" | "declined";
  readonly reason?: string;
}

export interface StockView {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly available: number;
  readonly reserved: number;
}

export type ShopQueries = {
  GetOrder: { payload: { orderId: string }; result: OrderView };
  GetStock: { payload: { sku: string }; result: StockView };
};
