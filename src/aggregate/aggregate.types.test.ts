// Type-level tests: what the aggregate types promise. tsc (tsconfig.test.json) checks them in the
// test command; each `@ts-expect-error` line fails the check if the mistake it shows ever compiles.
import { describe, expect, expectTypeOf, test } from "bun:test";
import type { HandlerNotFoundError } from "../errors.js";
import type { DomainEvent, EnvelopeOf, EventEnvelope } from "../events/envelope.js";
import {
  AggregateRoot,
  type AppliedEvent,
  type ConventionHandlers,
  type EventHandlerMap,
  type EventOfType,
  type EventsOf,
  type HandlerName,
  handlerMethodName,
  type StateOf,
} from "./aggregate-root.js";

type CartState = { items: number; open: boolean };
type CartEvent =
  | { type: "CartOpened"; data: { customerId: string } }
  | { type: "ItemAdded"; data: { sku: string; quantity: number } }
  | { type: "CheckedOut"; data: null };

describe("event union helpers", () => {
  test("EventOfType picks one member; AppliedEvent adds the envelope fields as optional", () => {
    expectTypeOf<EventOfType<CartEvent, "ItemAdded">>().toEqualTypeOf<{
      type: "ItemAdded";
      data: { sku: string; quantity: number };
    }>();
    expectTypeOf<EventOfType<CartEvent, "CheckedOut">["data"]>().toBeNull();
    // @ts-expect-error a type that is not in the union
    type _Nope = EventOfType<CartEvent, "ItemAded">;
    expectTypeOf<AppliedEvent<EventOfType<CartEvent, "ItemAdded">>["version"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<AppliedEvent<EventOfType<CartEvent, "ItemAdded">>["data"]["quantity"]>().toBeNumber();
    expectTypeOf<EnvelopeOf<CartEvent, "ItemAdded">>().toEqualTypeOf<
      EventEnvelope<"ItemAdded", { sku: string; quantity: number }>
    >();
  });

  test("HandlerName mirrors handlerMethodName", () => {
    expectTypeOf<HandlerName<"OrderPlaced">>().toEqualTypeOf<"onOrderPlaced">();
    expectTypeOf<HandlerName<"order.placed">>().toEqualTypeOf<"onOrderPlaced">();
    expectTypeOf<HandlerName<"order-item_added">>().toEqualTypeOf<"onOrderItemAdded">();
    expectTypeOf<HandlerName<"v2/Order Shipped">>().toEqualTypeOf<"onV2OrderShipped">();
    for (const [type, name] of [
      ["OrderPlaced", "onOrderPlaced"],
      ["order.placed", "onOrderPlaced"],
      ["order-item_added", "onOrderItemAdded"],
      ["v2/Order Shipped", "onV2OrderShipped"],
    ] as const) {
      expect(handlerMethodName(type)).toBe(name);
    }
  });
});

describe("EventHandlerMap", () => {
  test("one entry per event type, typed by that event; misspelt keys, wrong data and wrong returns do not compile", () => {
    const evolve: EventHandlerMap<CartState, CartEvent> = {
      CartOpened: (state) => ({ ...state, open: true }),
      ItemAdded: (state, event) => {
        expectTypeOf(event.data).toEqualTypeOf<{ sku: string; quantity: number }>();
        return { ...state, items: state.items + event.data.quantity };
      },
      CheckedOut: (state) => {
        state.open = false;
      },
    };
    expectTypeOf<Parameters<typeof evolve.ItemAdded>[0]>().toEqualTypeOf<CartState>();
    const _typo: Partial<EventHandlerMap<CartState, CartEvent>> = {
      // @ts-expect-error a key that is not an event type
      ItemAded: (state: CartState) => state,
    };
    const _wrongData: Partial<EventHandlerMap<CartState, CartEvent>> = {
      // @ts-expect-error the handler expects data ItemAdded does not carry
      ItemAdded: (state: CartState, event: { data: { sku: number } }) => ({ ...state, items: event.data.sku }),
    };
    const _wrongReturn: Partial<EventHandlerMap<CartState, CartEvent>> = {
      // @ts-expect-error a handler returns the state or nothing
      ItemAdded: (state) => state.items + 1,
    };
    // @ts-expect-error a complete map lists every event type
    const _incomplete: EventHandlerMap<CartState, CartEvent> = { CartOpened: (state) => state };
  });
});

describe("convention handlers", () => {
  class Cart extends AggregateRoot<CartState, CartEvent> {
    constructor(id: string) {
      super(id, { items: 0, open: false });
    }
    open(customerId: string) {
      this.raise("CartOpened", { customerId });
      // @ts-expect-error raise checks the data against the event type
      this.raise("ItemAdded", { sku: "A" });
      // @ts-expect-error and the type against the union
      this.raise("ItemAded", { sku: "A", quantity: 1 });
    }
    protected onCartOpened(_event: EventOfType<CartEvent, "CartOpened">) {
      this.state.open = true;
    }
    // Declaring the event by its data alone is fine.
    protected onItemAdded(event: { data: { sku: string; quantity: number } }): CartState {
      return { ...this.state, items: this.state.items + event.data.quantity };
    }
    protected onCheckedOut() {
      this.state.open = false;
    }
  }

  test("EventsOf and StateOf read an aggregate class's type parameters", () => {
    expectTypeOf<EventsOf<Cart>>().toEqualTypeOf<CartEvent>();
    expectTypeOf<StateOf<Cart>>().toEqualTypeOf<CartState>();
    expectTypeOf(new Cart("c").uncommittedEvents[0]?.type).toEqualTypeOf<CartEvent["type"]>();
  });

  test("a handler with the wrong data type or a wrong return type does not compile", () => {
    class _WrongData extends AggregateRoot<CartState, CartEvent> {
      // @ts-expect-error quantity is a number in every event that has one
      protected onItemAdded(event: { data: { quantity: string } }) {
        this.state.items += Number(event.data.quantity);
      }
    }
    class _WrongReturn extends AggregateRoot<CartState, CartEvent> {
      // @ts-expect-error a handler returns the state or nothing, not a number
      protected onItemAdded() {
        return 1;
      }
    }
    class _AsyncHandler extends AggregateRoot<CartState, CartEvent> {
      // @ts-expect-error nor a promise: handlers are synchronous
      protected async onItemAdded() {}
    }
    expect(true).toBe(true);
  });

  test("only members named on + a capital letter or digit are checked as handlers", () => {
    class WithOtherMembers extends AggregateRoot<CartState, CartEvent> {
      online = true;
      constructor() {
        super("w", { items: 0, open: false });
      }
      once(times: number): string {
        return `${times}`;
      }
      protected onCartOpened() {}
      protected onItemAdded() {}
      protected onCheckedOut() {}
    }
    class _NotAHandler extends AggregateRoot<CartState, CartEvent> {
      // @ts-expect-error on + a capital letter is a handler: a number is none
      on2Go = 2;
    }
    expect(new WithOtherMembers().once(2)).toBe("2");
  });

  test("implements ConventionHandlers makes a misspelt or missing handler a compile error", () => {
    // @ts-expect-error onItemAdded is missing: onItemAded is a typo
    class _Typo extends AggregateRoot<CartState, CartEvent> implements ConventionHandlers<CartState, CartEvent> {
      onCartOpened() {}
      onItemAded(_event: EventOfType<CartEvent, "ItemAdded">) {}
      onCheckedOut() {}
    }
    class Checked extends AggregateRoot<CartState, CartEvent> implements ConventionHandlers<CartState, CartEvent> {
      onCartOpened() {}
      onItemAdded(event: AppliedEvent<EventOfType<CartEvent, "ItemAdded">>) {
        this.state.items += event.data.quantity;
      }
      onCheckedOut() {}
    }
    expect(Checked).toBeFunction();
  });

  test("at run time a misspelt handler is named in the error, with the class and the method looked for", () => {
    class Typo extends AggregateRoot<CartState, CartEvent> {
      constructor() {
        super("t", { items: 0, open: false });
      }
      add() {
        this.raise("ItemAdded", { sku: "A", quantity: 1 });
      }
      protected onItemAded() {}
    }
    let error: HandlerNotFoundError | undefined;
    try {
      new Typo().add();
    } catch (caught) {
      error = caught as HandlerNotFoundError;
    }
    expect(error?.message).toBe(
      'Typo has no handler for event "ItemAdded": add the method onItemAdded(event) or a "ItemAdded" entry to its handlers map. It has onItemAded: a misspelling of onItemAdded?',
    );
  });

  test("an aggregate without an event type parameter takes any DomainEvent", () => {
    class Loose extends AggregateRoot<number> {
      protected onAnything(event: DomainEvent) {
        return Number(event.data);
      }
    }
    expectTypeOf<EventsOf<Loose>>().toEqualTypeOf<DomainEvent>();
  });
});
