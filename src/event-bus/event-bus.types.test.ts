/** Type-level tests: typed subscriptions narrow `event.data` by `event.type`, without casts. */
import { describe, expectTypeOf, test } from "bun:test";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EnvelopeOf } from "../events/envelope.js";
import { InMemoryEventBus } from "./in-memory-event-bus.js";

type ShopEvent =
  | { type: "ItemAdded"; data: { sku: string; quantity: number } }
  | { type: "CartCheckedOut"; data: { totalCents: number } };

describe("typed subscriptions", () => {
  test("subscribeToCategory, subscribeToAll and the store's subscribeToAll take the envelope union", () => {
    const bus = new InMemoryEventBus();
    bus.subscribeToCategory<EnvelopeOf<ShopEvent>>("Cart", (event) => {
      if (event.type === "ItemAdded") expectTypeOf(event.data).toEqualTypeOf<{ sku: string; quantity: number }>();
      else expectTypeOf(event.data).toEqualTypeOf<{ totalCents: number }>();
      // @ts-expect-error a type the union does not have
      if (event.type === "ItemRemoved") return;
    });
    bus.subscribeToAll<EnvelopeOf<ShopEvent>>((event) => {
      expectTypeOf(event.type).toEqualTypeOf<"ItemAdded" | "CartCheckedOut">();
    });
    const subscription = new InMemoryEventStore().subscribeToAll<EnvelopeOf<ShopEvent>>({
      handler: (event) => {
        if (event.type === "CartCheckedOut") expectTypeOf(event.data.totalCents).toEqualTypeOf<number>();
      },
    });
    return subscription.stop();
  });
});
