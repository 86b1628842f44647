// An event is saved as it was raised. A handler may keep the raised data in the state (items: data.items)
// and a later handler change the state in place (this.state.items.push): before, that rewrote the
// uncommitted event, so the save stored data no raise gave and a replay rebuilt another state.
import { describe, expect, test } from "bun:test";
import { AggregateRepository, AggregateRoot, defineStream, InMemoryEventStore } from "../index.js";
import { collect } from "../testing/assert.js";

type CartEvent = { type: "Opened"; data: { items: string[] } } | { type: "Added"; data: { sku: string } };

class Cart extends AggregateRoot<{ items: string[] }, CartEvent> {
  constructor(id: string) {
    super(id, { items: [] });
  }
  open(items: string[]) {
    this.raise("Opened", { items });
  }
  add(sku: string) {
    this.raise("Added", { sku });
  }
  protected onOpened(event: { data: { items: string[] } }) {
    return { items: event.data.items };
  }
  protected onAdded(event: { data: { sku: string } }) {
    this.state.items.push(event.data.sku);
  }
}

describe("raised data", () => {
  test("a later change of the state in place does not rewrite an uncommitted event", async () => {
    const store = new InMemoryEventStore();
    const carts = new AggregateRepository({ store, stream: defineStream("Cart"), create: (id) => new Cart(id) });
    const cart = new Cart("1");
    cart.open(["a"]);
    cart.add("b");
    expect(cart.currentState.items).toEqual(["a", "b"]);
    expect(cart.uncommittedEvents.map((e) => e.data)).toEqual([{ items: ["a"] }, { sku: "b" }]);
    await carts.save(cart);
    const stored = await collect(store.readStream("Cart-1"));
    expect(stored.map((e) => e.data)).toEqual([{ items: ["a"] }, { sku: "b" }]);
  });

  test("the caller's object changed after the raise does not change the event", () => {
    const items = ["a"];
    const cart = new Cart("2");
    cart.open(items);
    items.push("x");
    expect(cart.uncommittedEvents[0]?.data).toEqual({ items: ["a"] });
  });

  // The state must be what a replay of the events rebuilds: a handler that keeps the data shared the
  // caller's array, so the caller's change reached the state (["a", "x"]) though no event says so.
  test("the caller's object changed after the raise does not change the state", async () => {
    const store = new InMemoryEventStore();
    const carts = new AggregateRepository({ store, stream: defineStream("Cart"), create: (id) => new Cart(id) });
    const items = ["a"];
    const cart = new Cart("3");
    cart.open(items);
    items.push("x");
    expect(cart.currentState.items).toEqual(["a"]);
    await carts.save(cart);
    expect((await carts.load("3")).currentState.items).toEqual(cart.currentState.items);
  });

  test("the handler sees the data as a replay will (a property set to undefined left out)", () => {
    const seen: unknown[] = [];
    class Probe extends AggregateRoot<object, { type: "Noted"; data: { note?: string } }> {
      constructor() {
        super("p", {});
      }
      note() {
        this.raise("Noted", { note: undefined });
      }
      protected onNoted(event: { data: { note?: string } }) {
        seen.push(Object.keys(event.data));
      }
    }
    new Probe().note();
    expect(seen).toEqual([[]]);
  });
});
