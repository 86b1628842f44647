/** The events of order fulfilment, and the commands the saga sends to the services. */
export type ShopEvent =
  | { type: "OrderPlaced"; data: { orderId: string; sku: string; quantity: number; amountCents: number; card: string } }
  | { type: "StockReserved"; data: { orderId: string; sku: string; quantity: number } }
  | { type: "StockUnavailable"; data: { orderId: string; sku: string } }
  | { type: "StockReleased"; data: { orderId: string; sku: string; quantity: number } }
  | { type: "PaymentCharged"; data: { orderId: string; amountCents: number } }
  | { type: "PaymentFailed"; data: { orderId: string; reason: string } }
  | { type: "OrderShipped"; data: { orderId: string } }
  | { type: "OrderCancelled"; data: { orderId: string; reason: string } };

export type FulfilmentCommands = {
  ReserveStock: { payload: { orderId: string; sku: string; quantity: number }; result: undefined };
  ReleaseStock: { payload: { orderId: string; sku: string; quantity: number }; result: undefined };
  ChargePayment: { payload: { orderId: string; amountCents: number; card: string }; result: undefined };
  ShipOrder: { payload: { orderId: string }; result: undefined };
  CancelOrder: { payload: { orderId: string; reason: string }; result: undefined };
};
