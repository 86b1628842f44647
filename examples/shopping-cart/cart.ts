/**
 * The shopping cart aggregate: a customer's cart takes items until it is checked out. Every change
 * is an event; the state below is only what the cart needs to decide the next command.
 */
import {
  AggregateRoot,
  type AppliedEvent,
  defineId,
  defineStream,
  EventFlowsError,
  type EventOfType,
  type Id,
} from "../../src/index.js";

export const CartId = defineId("Cart");
export type CartId = Id<"Cart">;

/** Cart streams are named `Cart-<ULID>`. */
export const CartStream = defineStream("Cart");

export type CartEvent =
  | { type: "CartOpened"; data: { customerId: string } }
  | { type: "ItemAdded"; data: { sku: string; quantity: number; unitPriceCents: number } }
  | { type: "ItemRemoved"; data: { sku: string } }
  | { type: "CartCheckedOut"; data: { totalCents: number; itemCount: number } };

/** What an `on<Type>` handler receives for one event type. */
type Applied<Type extends CartEvent["type"]> = AppliedEvent<EventOfType<CartEvent, Type>>;

export interface CartLine {
  readonly quantity: number;
  readonly unitPriceCents: number;
}

export interface CartState {
  readonly customerId: string;
  readonly status: "new" | "open" | "checked-out";
  readonly lines: Readonly<Record<string, CartLine>>;
}

/** A business rule said no. An application's own error, branchable by `code` like the library's. */
export class CartRuleError extends EventFlowsError {
  override readonly name = "CartRuleError";
  constructor(
    readonly cartId: string,
    message: string,
  ) {
    super("CART_RULE_VIOLATED", message);
  }
}

export const MAX_LINES = 20;

export class Cart extends AggregateRoot<CartState, CartEvent> {
  constructor(id: string) {
    super(id, { customerId: "", status: "new", lines: {} });
  }

  // Decisions: check the rules against the current state, then raise what happened.

  open(customerId: string): void {
    if (this.state.status !== "new") throw new CartRuleError(this.id, "the cart is already open");
    this.raise("CartOpened", { customerId });
  }

  addItem(sku: string, quantity: number, unitPriceCents: number): void {
    this.#assertOpen();
    if (!(sku in this.state.lines) && Object.keys(this.state.lines).length >= MAX_LINES) {
      throw new CartRuleError(this.id, `a cart holds at most ${MAX_LINES} different items`);
    }
    this.raise("ItemAdded", { sku, quantity, unitPriceCents });
  }

  removeItem(sku: string): void {
    this.#assertOpen();
    if (!(sku in this.state.lines)) throw new CartRuleError(this.id, `${sku} is not in the cart`);
    this.raise("ItemRemoved", { sku });
  }

  checkOut(): number {
    this.#assertOpen();
    const lines = Object.values(this.state.lines);
    if (lines.length === 0) throw new CartRuleError(this.id, "an empty cart cannot be checked out");
    const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
    const itemCount = lines.reduce((sum, line) => sum + line.quantity, 0);
    this.raise("CartCheckedOut", { totalCents, itemCount });
    return totalCents;
  }

  #assertOpen(): void {
    if (this.state.status === "new") throw new CartRuleError(this.id, "the cart does not exist");
    if (this.state.status === "checked-out") throw new CartRuleError(this.id, "the cart is already checked out");
  }

  // Evolution: found by convention (`on` + event type), they return the next state. They never
  // throw: they replay history that already happened.

  protected onCartOpened(event: Applied<"CartOpened">): CartState {
    return { ...this.state, customerId: event.data.customerId, status: "open" };
  }

  protected onItemAdded(event: Applied<"ItemAdded">): CartState {
    const { sku, quantity, unitPriceCents } = event.data;
    const previous = this.state.lines[sku]?.quantity ?? 0;
    return { ...this.state, lines: { ...this.state.lines, [sku]: { quantity: previous + quantity, unitPriceCents } } };
  }

  protected onItemRemoved(event: Applied<"ItemRemoved">): CartState {
    const { [event.data.sku]: _removed, ...lines } = this.state.lines;
    return { ...this.state, lines };
  }

  protected onCartCheckedOut(): CartState {
    return { ...this.state, status: "checked-out" };
  }
}
