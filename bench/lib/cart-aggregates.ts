/**
 * One small cart domain written four ways for the rehydration bench: our `on<Type>` methods, our
 * handler map, @nestjs/cqrs's AggregateRoot, and a hand-written loop (the ceiling). Every form does
 * the same work per event (mutate two numbers), so the differences are the frameworks'.
 */
import { AggregateRoot as NestAggregateRoot } from "@nestjs/cqrs";
import { AggregateRoot, type EventEnvelope, type EventHandlerMap, type EventOfType, ulid } from "../../src/index.js";

export type CartEvent =
  | { type: "ItemAdded"; data: { sku: string; price: number; quantity: number } }
  | { type: "ItemRemoved"; data: { sku: string; price: number; quantity: number } }
  | { type: "CouponApplied"; data: { code: string; amount: number } };

export interface CartState {
  items: number;
  total: number;
}

const initialState = (): CartState => ({ items: 0, total: 0 });

export class MethodCart extends AggregateRoot<CartState, CartEvent> {
  constructor(id: string) {
    super(id, initialState());
  }
  get total(): number {
    return this.state.total;
  }
  protected onItemAdded({ data }: EventOfType<CartEvent, "ItemAdded">): void {
    this.state.items += data.quantity;
    this.state.total += data.price * data.quantity;
  }
  protected onItemRemoved({ data }: EventOfType<CartEvent, "ItemRemoved">): void {
    this.state.items -= data.quantity;
    this.state.total -= data.price * data.quantity;
  }
  protected onCouponApplied({ data }: EventOfType<CartEvent, "CouponApplied">): void {
    this.state.total -= data.amount;
  }
}

// The map type wants the state back (`=> State | undefined`, so a `void` arrow does not fit): mutate, then return it.
const cartHandlers: EventHandlerMap<CartState, CartEvent> = {
  ItemAdded: (state, { data }) => {
    state.items += data.quantity;
    state.total += data.price * data.quantity;
    return state;
  },
  ItemRemoved: (state, { data }) => {
    state.items -= data.quantity;
    state.total -= data.price * data.quantity;
    return state;
  },
  CouponApplied: (state, { data }) => {
    state.total -= data.amount;
    return state;
  },
};

export class MapCart extends AggregateRoot<CartState, CartEvent> {
  constructor(id: string) {
    super(id, initialState());
  }
  get total(): number {
    return this.state.total;
  }
  protected override get handlers(): EventHandlerMap<CartState, CartEvent> {
    return cartHandlers;
  }
}

/** The ceiling: a switch over the same envelopes, no framework. */
export function foldByHand(events: readonly EventEnvelope[]): CartState {
  const state = initialState();
  for (const event of events) {
    const data = event.data as { price: number; quantity: number; amount: number };
    switch (event.type) {
      case "ItemAdded":
        state.items += data.quantity;
        state.total += data.price * data.quantity;
        break;
      case "ItemRemoved":
        state.items -= data.quantity;
        state.total -= data.price * data.quantity;
        break;
      case "CouponApplied":
        state.total -= data.amount;
        break;
      default:
        throw new Error(`no handler for ${event.type}`);
    }
  }
  return state;
}

// Nest finds handlers by the event's class name, so its history is class instances.
export class ItemAdded {
  constructor(
    readonly sku: string,
    readonly price: number,
    readonly quantity: number,
  ) {}
}
export class ItemRemoved {
  constructor(
    readonly sku: string,
    readonly price: number,
    readonly quantity: number,
  ) {}
}
export class CouponApplied {
  constructor(
    readonly code: string,
    readonly amount: number,
  ) {}
}

export class NestCart extends NestAggregateRoot {
  readonly state = initialState();
  constructor(readonly id: string) {
    super();
  }
  onItemAdded(event: ItemAdded): void {
    this.state.items += event.quantity;
    this.state.total += event.price * event.quantity;
  }
  onItemRemoved(event: ItemRemoved): void {
    this.state.items -= event.quantity;
    this.state.total -= event.price * event.quantity;
  }
  onCouponApplied(event: CouponApplied): void {
    this.state.total -= event.amount;
  }
}

/** A stored history: mostly additions, some removals and coupons, frozen as the stores return them. */
export function cartHistory(count: number): EventEnvelope[] {
  const streamId = "Cart-bench";
  const timestamp = new Date(0).toISOString();
  const events: EventEnvelope[] = [];
  for (let version = 1; version <= count; version++) {
    const kind = version % 10;
    const type = kind === 9 ? "CouponApplied" : kind === 5 ? "ItemRemoved" : "ItemAdded";
    const data =
      type === "CouponApplied"
        ? { code: `C${version}`, amount: 1 }
        : { sku: `SKU-${version % 97}`, price: 3 + (version % 7), quantity: 1 + (version % 3) };
    events.push(
      Object.freeze({
        id: ulid(),
        type,
        streamId,
        version,
        globalPosition: version,
        timestamp,
        metadata: Object.freeze({}),
        data: Object.freeze(data),
      }),
    );
  }
  return events;
}

/** The same history as Nest event instances. */
export function nestHistory(events: readonly EventEnvelope[]): object[] {
  return events.map(({ type, data }) => {
    const d = data as { sku: string; price: number; quantity: number; code: string; amount: number };
    if (type === "ItemAdded") return new ItemAdded(d.sku, d.price, d.quantity);
    if (type === "ItemRemoved") return new ItemRemoved(d.sku, d.price, d.quantity);
    return new CouponApplied(d.code, d.amount);
  });
}
