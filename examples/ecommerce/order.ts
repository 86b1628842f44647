/**
 * An order: placed by a customer, then confirmed once paid, or cancelled. Confirming or cancelling
 * an order that has ended already changes nothing, so a command the saga sends again is harmless.
 */
import { AggregateRoot, type AppliedEvent, type EventOfType } from "@eventflows/core";
import type { OrderEvent } from "./events.js";

type Applied<Type extends OrderEvent["type"]> = AppliedEvent<EventOfType<OrderEvent, Type>>;
type Placed = Applied<"OrderPlaced">["data"];

export interface OrderState {
  readonly status: "new" | "placed" | "confirmed" | "cancelled";
}

export class Order extends AggregateRoot<OrderState, OrderEvent> {
  constructor(id: string) {
    super(id, { status: "new" });
  }

  place(order: Omit<Placed, "orderId">): void {
    this.raise("OrderPlaced", { orderId: this.id, ...order });
  }

  confirm(): void {
    if (this.state.status === "placed") this.raise("OrderConfirmed", { orderId: this.id });
  }

  cancel(reason: string): void {
    if (this.state.status === "placed") this.raise("OrderCancelled", { orderId: this.id, reason });
  }

  protected onOrderPlaced(): OrderState {
    return { status: "placed" };
  }

  protected onOrderConfirmed(): OrderState {
    return { status: "confirmed" };
  }

  protected onOrderCancelled(): OrderState {
    return { status: "cancelled" };
  }
}
