import * as v from "valibot";
import { AggregateRoot, type EventOfType } from "../aggregate/aggregate-root.js";
import type { NewEvent } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import type { DataOf } from "../evolution/types.js";

/**
 * The cart the evolution contract stores at old schema versions and reads back at the current one.
 * Its history, as an application would have lived it:
 * - `CartOpened` v1 `{ owner }`, v2 added `currency` ("EUR" before), v3 added `channel` ("web").
 * - `ItemAdded` v1 `{ sku, qty }` was renamed `ItemPut` (at its v1), whose v2 calls it `quantity`.
 * - `CartCheckedOut` v1 `{ total }` was split into `CartClosed` and `PaymentRequested { amount }`.
 */
export type CartEvent =
  | { type: "CartOpened"; data: { owner: string; currency: string; channel: string } }
  | { type: "ItemPut"; data: { sku: string; quantity: number } }
  | { type: "CartClosed"; data: { items: number } }
  | { type: "PaymentRequested"; data: { amount: number } };

export const CartOpenedV1 = v.object({ owner: v.pipe(v.string(), v.minLength(1)) });
export const CartOpenedV3 = v.object({
  owner: v.pipe(v.string(), v.minLength(1)),
  currency: v.pipe(v.string(), v.length(3)),
  channel: v.picklist(["web", "store", "phone"]),
});
export const ItemPutV2 = v.object({
  sku: v.pipe(v.string(), v.minLength(1)),
  quantity: v.pipe(v.number(), v.integer()),
});

/** The cart's registry: three upcast steps, a rename, a split, schemas of v1 and v3 of `CartOpened`. */
export function cartRegistry(options: { validateOnRead?: boolean } = {}) {
  return eventRegistry<CartEvent>(options)
    .upcast("CartOpened", 1, (data: { owner: string }) => ({ ...data, currency: "EUR" }))
    .upcast(
      "CartOpened",
      2,
      (data: { owner: string; currency: string }): DataOf<CartEvent, "CartOpened"> => ({ ...data, channel: "web" }),
    )
    .rename("ItemAdded", 1, "ItemPut")
    .upcast(
      "ItemPut",
      1,
      (data: { sku: string; qty: number }): DataOf<CartEvent, "ItemPut"> => ({
        sku: data.sku,
        quantity: data.qty,
      }),
    )
    .split("CartCheckedOut", 1, (event: { data: { total: number; items: number } }) => [
      { type: "CartClosed", data: { items: event.data.items } },
      { type: "PaymentRequested", data: { amount: event.data.total } },
    ])
    .schema("CartOpened", 1, CartOpenedV1)
    .schema("CartOpened", 3, CartOpenedV3)
    .schema("ItemPut", 2, ItemPutV2);
}

/** What the first release of the application wrote: no `schemaVersion`, so version 1. */
export function cartHistoryV1(): NewEvent[] {
  return [
    { type: "CartOpened", data: { owner: "ada" } },
    { type: "ItemAdded", data: { sku: "tea", qty: 2 } },
    { type: "ItemAdded", data: { sku: "cup", qty: 1 } },
    { type: "CartCheckedOut", data: { total: 12, items: 3 } },
  ];
}

interface CartState {
  owner: string;
  currency: string;
  channel: string;
  items: number;
  closed: boolean;
  requested: number;
}

/** The current code's aggregate: it has handlers for current events only. */
export class EvolvedCart extends AggregateRoot<CartState, CartEvent> {
  constructor(id: string) {
    super(id, { owner: "", currency: "", channel: "", items: 0, closed: false, requested: 0 });
  }
  get view(): Readonly<CartState> {
    return this.state;
  }
  put(sku: string, quantity: number): void {
    this.raise("ItemPut", { sku, quantity });
  }
  protected onCartOpened(event: EventOfType<CartEvent, "CartOpened">) {
    Object.assign(this.state, event.data);
  }
  protected onItemPut(event: EventOfType<CartEvent, "ItemPut">) {
    this.state.items += event.data.quantity;
  }
  protected onCartClosed() {
    this.state.closed = true;
  }
  protected onPaymentRequested(event: EventOfType<CartEvent, "PaymentRequested">) {
    this.state.requested += event.data.amount;
  }
}
