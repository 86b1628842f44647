// Type-level tests: what the registry's types promise. tsc (tsconfig.test.json) checks them in the
// test command; each `@ts-expect-error` line fails the check if the mistake it shows ever compiles.
import { describe, expect, expectTypeOf, test } from "bun:test";
import * as v from "valibot";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EnvelopeOf } from "../events/envelope.js";
import { type CartEvent, cartRegistry } from "../testing/evolution-fixture.js";
import { eventRegistry, type RegistryEvents } from "./event-registry.js";
import type { DataOf } from "./types.js";

describe("typed event evolution", () => {
  test("the registry carries the current event union; readers narrow on it", async () => {
    const registry = cartRegistry();
    expectTypeOf<RegistryEvents<typeof registry>>().toEqualTypeOf<CartEvent>();
    type Current = EnvelopeOf<RegistryEvents<typeof registry>>;
    const store = new InMemoryEventStore({ eventRegistry: registry });
    await store.appendToStream("Cart-1", [
      { type: "CartOpened", data: { owner: "a" }, metadata: { schemaVersion: 1 } },
    ]);
    const seen: string[] = [];
    for await (const event of store.readStream<Current>("Cart-1")) {
      if (event.type === "CartOpened") {
        expectTypeOf(event.data).toEqualTypeOf<{ owner: string; currency: string; channel: string }>();
        seen.push(event.data.channel);
      } else if (event.type === "ItemPut") expectTypeOf(event.data.quantity).toBeNumber();
    }
    expect(seen).toEqual(["web"]);
  });

  test("the last step, typed with DataOf, must produce the current shape", () => {
    eventRegistry<CartEvent>().upcast(
      "ItemPut",
      1,
      (data: { sku: string; qty: number }): DataOf<CartEvent, "ItemPut"> => ({ sku: data.sku, quantity: data.qty }),
    );
    eventRegistry<CartEvent>().upcast(
      "ItemPut",
      1,
      // @ts-expect-error: `qty` is the old name; the current shape calls it `quantity`
      (data: { sku: string; qty: number }): DataOf<CartEvent, "ItemPut"> => ({ sku: data.sku, qty: data.qty }),
    );
    expectTypeOf<DataOf<CartEvent, "PaymentRequested">>().toEqualTypeOf<{ amount: number }>();
  });

  test("renames and splits produce current events only; schemas are registered for current types", () => {
    const registry = eventRegistry<CartEvent>();
    registry.rename("ItemAdded", 1, "ItemPut");
    // @ts-expect-error: not a current event type
    registry.rename("ItemAdded", 2, "ItemPlaced");
    registry.split("CartCheckedOut", 1, () => [{ type: "CartClosed", data: { items: 1 } }]);
    // @ts-expect-error: CartClosed's data is { items: number }
    registry.split("CartCheckedOut", 2, () => [{ type: "CartClosed", data: { total: 1 } }]);
    // @ts-expect-error: { amount } is PaymentRequested's data, not CartClosed's: type and data go together
    registry.split("CartCheckedOut", 3, () => [{ type: "CartClosed", data: { amount: 12 } }]);
    registry.split("CartCheckedOut", 4, () => [
      { type: "CartClosed", data: { items: 1 } },
      { type: "PaymentRequested", data: { amount: 12 } },
    ]);
    registry.schema("CartClosed", 1, v.object({ items: v.number() }));
    // @ts-expect-error: not a current event type
    registry.schema("CartCheckedOut", 1, v.object({ total: v.number() }));
    expect(registry.currentVersion("CartClosed")).toBe(1);
  });
});
