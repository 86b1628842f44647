// Type-level tests: what projection() promises about the events its handler sees. tsc
// (tsconfig.test.json) checks them in the test command; each `@ts-expect-error` line fails the check
// if the mistake it shows ever compiles.
import { describe, expect, expectTypeOf, test } from "bun:test";
import type { EnvelopeOf, EventEnvelope } from "../events/envelope.js";
import { type Projection, projection } from "./projection.js";

type CartEvent =
  | { type: "ItemAdded"; data: { sku: string; quantity: number } }
  | { type: "ItemRemoved"; data: { sku: string } }
  | { type: "CheckedOut"; data: null };

describe("projection() types", () => {
  test("the handler sees exactly the declared union, narrowed by event.type, no casts", () => {
    const items = projection<EnvelopeOf<CartEvent, "ItemAdded" | "ItemRemoved">>({
      name: "items",
      types: ["ItemAdded", "ItemRemoved"],
      handle: (event) => {
        expectTypeOf(event.type).toEqualTypeOf<"ItemAdded" | "ItemRemoved">();
        if (event.type === "ItemAdded") expectTypeOf(event.data.quantity).toBeNumber();
        // @ts-expect-error CheckedOut is not in the declared union
        if (event.type === "CheckedOut") return;
      },
    });
    expectTypeOf(items).toEqualTypeOf<Projection<EnvelopeOf<CartEvent, "ItemAdded" | "ItemRemoved">, undefined>>();
    expect(items.types).toEqual(["ItemAdded", "ItemRemoved"]);
  });

  test("the union is inferred from the handler's annotation", () => {
    const checkouts = projection({
      name: "checkouts",
      types: ["CheckedOut"],
      handle: (event: EnvelopeOf<CartEvent, "CheckedOut">) => {
        expectTypeOf(event.data).toBeNull();
      },
    });
    expectTypeOf(checkouts).toEqualTypeOf<Projection<EnvelopeOf<CartEvent, "CheckedOut">, undefined>>();
    expect(checkouts.name).toBe("checkouts");
  });

  test("a typed handler must declare its types, and only types of its union", () => {
    // @ts-expect-error a handler typed with a union needs `types`, or it would see every event
    projection<EnvelopeOf<CartEvent>>({ name: "no-types", handle: () => undefined });
    projection<EnvelopeOf<CartEvent, "ItemAdded">>({
      name: "wrong-type",
      // @ts-expect-error ItemRemoved is not in the handler's union
      types: ["ItemAdded", "ItemRemoved"],
      handle: () => undefined,
    });
    const untyped = projection({
      name: "all",
      handle: (event) => {
        expectTypeOf(event).toEqualTypeOf<EventEnvelope>();
      },
    });
    expect(untyped.types).toBeUndefined();
  });

  test("state is typed by initialState; the handler returns the next state", () => {
    const count = projection<EnvelopeOf<CartEvent, "ItemAdded">, { items: number }>({
      name: "count",
      types: ["ItemAdded"],
      initialState: { items: 0 },
      handle: (event, { state }) => ({ items: state.items + event.data.quantity }),
    });
    expect(count.stateful).toBe(true);
    projection<EnvelopeOf<CartEvent, "ItemAdded">, { items: number }>({
      name: "bad-state",
      types: ["ItemAdded"],
      initialState: { items: 0 },
      // @ts-expect-error the returned state must have the state's type
      handle: () => ({ items: "many" }),
    });
  });
});
