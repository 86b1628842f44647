/**
 * The carts read model: one denormalised view per cart, kept up to date by the event bus and
 * answered by the query bus. It could live in any database; a Map keeps the example small.
 */
import * as v from "valibot";
import type { EnvelopeOf, EventBus, QueryBus, Unsubscribe } from "../../src/index.js";
import { type CartEvent, CartStream } from "./cart.js";

/** What the Cart streams hold, as envelopes: `event.type` narrows `event.data`. */
export type CartEnvelope = EnvelopeOf<CartEvent>;

export interface CartView {
  readonly cartId: string;
  readonly customerId: string;
  readonly status: "open" | "checked-out";
  readonly lines: readonly { readonly sku: string; readonly quantity: number; readonly unitPriceCents: number }[];
  readonly itemCount: number;
  readonly totalCents: number;
  /** The version of the last event applied: a replayed or duplicated event is ignored. */
  readonly version: number;
}

export class CartsReadModel {
  readonly #views = new Map<string, CartView>();

  /** Follows every event of the `Cart` category. Returns the unsubscribe function. */
  subscribe(bus: EventBus): Unsubscribe {
    return bus.subscribeToCategory<CartEnvelope>(CartStream.category, (event) => this.apply(event), {
      name: "carts-read-model",
    });
  }

  apply(event: CartEnvelope): void {
    const cartId = CartStream.idOf(event.streamId);
    const view = this.#views.get(cartId);
    if (view !== undefined && event.version <= view.version) return;
    const next = evolve(view, cartId, event);
    if (next !== undefined) this.#views.set(cartId, next);
  }

  get(cartId: string): CartView | undefined {
    return this.#views.get(cartId);
  }

  list(status?: CartView["status"]): CartView[] {
    const all = [...this.#views.values()];
    return status === undefined ? all : all.filter((view) => view.status === status);
  }
}

function evolve(view: CartView | undefined, cartId: string, event: CartEnvelope): CartView | undefined {
  if (event.type === "CartOpened") {
    const { customerId } = event.data;
    return { cartId, customerId, status: "open", lines: [], itemCount: 0, totalCents: 0, version: event.version };
  }
  if (view === undefined) return undefined;
  const { version } = event;
  switch (event.type) {
    case "ItemAdded": {
      const added = event.data;
      const existing = view.lines.find((line) => line.sku === added.sku);
      const line = { ...added, quantity: (existing?.quantity ?? 0) + added.quantity };
      const lines = existing === undefined ? [...view.lines, line] : view.lines.map((l) => (l === existing ? line : l));
      return totals({ ...view, lines, version: event.version });
    }
    case "ItemRemoved": {
      const { sku } = event.data;
      return totals({ ...view, lines: view.lines.filter((line) => line.sku !== sku), version: event.version });
    }
    case "CartCheckedOut":
      return { ...view, status: "checked-out", version: event.version };
    default:
      // A type this read model does not know yet (written by a newer service) moves only the version.
      return { ...view, version };
  }
}

function totals(view: CartView): CartView {
  return {
    ...view,
    itemCount: view.lines.reduce((sum, line) => sum + line.quantity, 0),
    totalCents: view.lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
  };
}

export const querySchemas = {
  GetCart: v.strictObject({ cartId: v.pipe(v.string(), v.ulid("cartId must be a cart id (a ULID)")) }),
  ListCarts: v.strictObject({ status: v.optional(v.picklist(["open", "checked-out"])) }),
};

export type ShopQueries = {
  GetCart: { payload: v.InferOutput<(typeof querySchemas)["GetCart"]>; result: CartView | undefined };
  ListCarts: { payload: v.InferOutput<(typeof querySchemas)["ListCarts"]>; result: CartView[] };
};

export function registerQueryHandlers(queries: QueryBus<ShopQueries>, carts: CartsReadModel): void {
  queries.register("GetCart", ({ cartId }) => carts.get(cartId));
  queries.register("ListCarts", ({ status }) => carts.list(status));
}
