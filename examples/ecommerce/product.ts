/**
 * A product and its stock: listed once, restocked, and reserved per order. A reservation is keyed
 * by its order, and an order refused or released is remembered, so the saga's ReserveStock and
 * ReleaseStock take effect once even when a command is sent again after a crash.
 */
import { AggregateRoot, type AppliedEvent, type EventOfType, ValidationError } from "@eventflows/core";
import type { ProductEvent } from "./events.js";

type Applied<Type extends ProductEvent["type"]> = AppliedEvent<EventOfType<ProductEvent, Type>>;

export interface ProductState {
  readonly listed: boolean;
  readonly priceCents: number;
  readonly available: number;
  /** Quantity held per order id. */
  readonly reservations: Readonly<Record<string, number>>;
  /**
   * Orders refused or released: the saga is done with them, so their ReserveStock sent again changes
   * nothing. It only grows, so its handlers add to it in place rather than copy it per event.
   */
  readonly closed: Record<string, true>;
}

/**
 * A rule of the shop said no: a `ValidationError`, which the HTTP layer answers with a 400 (ListProduct for
 * a sku listed already, say; the OpenAPI contract check forgives that one only for a sku its run listed).
 */
const refused = (sku: string, message: string) =>
  new ValidationError("Refused by the shop", [{ path: ["sku"], message: `product ${sku} ${message}` }]);

export class Product extends AggregateRoot<ProductState, ProductEvent> {
  constructor(sku: string) {
    super(sku, { listed: false, priceCents: 0, available: 0, reservations: {}, closed: {} });
  }

  get isListed(): boolean {
    return this.state.listed;
  }

  list(name: string, priceCents: number): void {
    if (this.state.listed) throw refused(this.id, "is listed already");
    this.raise("ProductListed", { sku: this.id, name, priceCents });
  }

  receive(quantity: number): number {
    if (!this.state.listed) throw refused(this.id, "is not listed");
    this.raise("StockReceived", { sku: this.id, quantity });
    return this.state.available;
  }

  /** Reserves for an order, or records why not; an order reserved, refused or released already changes nothing. */
  reserve(orderId: string, quantity: number): void {
    if (orderId in this.state.reservations || orderId in this.state.closed) return;
    const { available } = this.state;
    if (available < quantity) {
      this.raise("StockReservationRejected", { sku: this.id, orderId, requested: quantity, available });
      return;
    }
    this.raise("StockReserved", { sku: this.id, orderId, quantity });
  }

  /** Puts an order's reservation back; an order holding none changes nothing. */
  release(orderId: string): void {
    const quantity = this.state.reservations[orderId];
    if (quantity === undefined) return;
    this.raise("StockReleased", { sku: this.id, orderId, quantity });
  }

  price(quantity: number): number {
    if (!this.state.listed) throw refused(this.id, "is not listed");
    return this.state.priceCents * quantity;
  }

  protected onProductListed(event: Applied<"ProductListed">): ProductState {
    return { ...this.state, listed: true, priceCents: event.data.priceCents };
  }

  protected onStockReceived(event: Applied<"StockReceived">): ProductState {
    return { ...this.state, available: this.state.available + event.data.quantity };
  }

  protected onStockReserved(event: Applied<"StockReserved">): ProductState {
    const { orderId, quantity } = event.data;
    return {
      ...this.state,
      available: this.state.available - quantity,
      reservations: { ...this.state.reservations, [orderId]: quantity },
    };
  }

  protected onStockReservationRejected(event: Applied<"StockReservationRejected">): void {
    this.state.closed[event.data.orderId] = true;
  }

  protected onStockReleased(event: Applied<"StockReleased">): ProductState {
    const { orderId, quantity } = event.data;
    const { [orderId]: _released, ...reservations } = this.state.reservations;
    this.state.closed[orderId] = true;
    return { ...this.state, available: this.state.available + quantity, reservations };
  }
}
