// Type-level tests: the Given-When-Then helpers are typed by the aggregate's (or the given) event
// union, so a misspelt event type or wrong data in a spec is a compile error. tsc checks them.
import { describe, expect, expectTypeOf, test } from "bun:test";
import { AggregateRoot, type EventOfType, type EventsOf } from "../aggregate/aggregate-root.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { aggregateSpec, commandSpec } from "./given-when-then.js";

type OrderEvent = { type: "OrderPlaced"; data: { sku: string } } | { type: "OrderShipped"; data: { carrier: string } };

class Order extends AggregateRoot<{ shipped: boolean }, OrderEvent> {
  constructor(id: string) {
    super(id, { shipped: false });
  }
  ship(carrier: string) {
    this.raise("OrderShipped", { carrier });
  }
  protected onOrderPlaced(_event: EventOfType<OrderEvent, "OrderPlaced">) {}
  protected onOrderShipped() {
    this.state.shipped = true;
  }
}

describe("aggregateSpec", () => {
  const spec = aggregateSpec((id) => new Order(id));

  test("given and thenEvents take the aggregate's events; when gets the aggregate", async () => {
    const order = await spec
      .given([{ type: "OrderPlaced", data: { sku: "A" } }])
      .when((aggregate) => {
        expectTypeOf(aggregate).toEqualTypeOf<Order>();
        aggregate.ship("DHL");
      })
      .thenEvents([{ type: "OrderShipped", data: { carrier: "DHL" } }]);
    expectTypeOf(order).toEqualTypeOf<Order>();
    expectTypeOf<Parameters<Parameters<ReturnType<typeof spec.given>["when"]>[0]>[0]>().toEqualTypeOf<Order>();
    expect(order.currentState.shipped).toBe(true);
  });

  test("thenThrows takes a class whose instances are no Error, as the testing guide says", async () => {
    // No name, no message: refused before (TS2345, the class part of the type asked for Error instances).
    class OutOfStock {
      readonly sku = "A";
    }
    const thrown = new OutOfStock();
    const error = await spec
      .given([])
      .when(() => {
        throw thrown;
      })
      .thenThrows(OutOfStock);
    expect(error).toBe(thrown);
  });

  test("a misspelt type or wrong data in a spec does not compile", () => {
    // @ts-expect-error "OrderPlacd" is not an event of Order
    spec.given([{ type: "OrderPlacd", data: { sku: "A" } }]);
    // @ts-expect-error OrderPlaced carries a sku, not a carrier
    spec.given([{ type: "OrderPlaced", data: { carrier: "DHL" } }]);
    // @ts-expect-error an event without data
    spec.given([{ type: "OrderPlaced" }]);
    const when = spec.given([]).when((order) => order.ship("UPS"));
    // @ts-expect-error the expected events are checked too
    void when.thenEvents([{ type: "OrderShiped", data: { carrier: "UPS" } }]).catch(() => undefined);
    expectTypeOf<Parameters<typeof when.thenEvents>[0]>().toEqualTypeOf<readonly EventsOf<Order>[]>();
  });
});

describe("commandSpec", () => {
  test("typed by the event union it is given", async () => {
    const store = new InMemoryEventStore();
    const added = await commandSpec<OrderEvent>(store)
      .given({ "Order-1": [{ type: "OrderPlaced", data: { sku: "A" }, metadata: { correlationId: "c" } }] })
      .when(() => store.appendToStream("Order-1", [{ type: "OrderShipped", data: { carrier: "DHL" } }]))
      .thenEvents("Order-1", [{ type: "OrderShipped", data: { carrier: "DHL" } }]);
    expectTypeOf(added).toEqualTypeOf<
      (EventEnvelope<"OrderPlaced", { sku: string }> | EventEnvelope<"OrderShipped", { carrier: string }>)[]
    >();
    expect(added.map((event) => event.type)).toEqual(["OrderShipped"]);
    // @ts-expect-error a type outside the union
    commandSpec<OrderEvent>(store).given({ "Order-2": [{ type: "OrderPlacd", data: { sku: "A" } }] });
    const later = commandSpec<EventsOf<Order>>(store)
      .given()
      .when(() => undefined);
    // @ts-expect-error the expected events are checked too
    const check = later.thenEvents("Order-2", [{ type: "Shipped", data: null }]);
    await check.catch(() => undefined);
  });

  test("without an event union it takes any event", () => {
    const spec = commandSpec(new InMemoryEventStore()).given({ "Any-1": [{ type: "Whatever", data: 1 }] });
    expectTypeOf(spec.when).toBeFunction();
  });
});
