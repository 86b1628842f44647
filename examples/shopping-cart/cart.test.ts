import { describe, test } from "bun:test";
import { aggregateSpec } from "../../src/testing/index.js";
import { Cart, type CartEvent, CartRuleError } from "./cart.js";

const spec = aggregateSpec((id) => new Cart(id));
const opened = { type: "CartOpened", data: { customerId: "ada" } } satisfies CartEvent;
const tea = { type: "ItemAdded", data: { sku: "TEA-001", quantity: 2, unitPriceCents: 1250 } } satisfies CartEvent;

describe("Cart", () => {
  test("adding the same product twice adds up its quantity at checkout", async () => {
    await spec
      .given([opened, tea, tea])
      .when((cart) => cart.checkOut())
      .thenEvents([{ type: "CartCheckedOut", data: { totalCents: 5000, itemCount: 4 } }]);
  });

  test("a removed item is not charged", async () => {
    await spec
      .given([opened, tea, { type: "ItemAdded", data: { sku: "MUG-002", quantity: 1, unitPriceCents: 1800 } }])
      .when((cart) => {
        cart.removeItem("TEA-001");
        cart.checkOut();
      })
      .thenEvents([
        { type: "ItemRemoved", data: { sku: "TEA-001" } },
        { type: "CartCheckedOut", data: { totalCents: 1800, itemCount: 1 } },
      ]);
  });

  test("an empty cart cannot be checked out", async () => {
    await spec
      .given([opened])
      .when((cart) => cart.checkOut())
      .thenThrows((error) => error instanceof CartRuleError && error.message.includes("empty"));
  });

  test("a cart that was never opened takes no items", async () => {
    await spec
      .given([])
      .when((cart) => cart.addItem("TEA-001", 1, 1250))
      .thenThrows("CART_RULE_VIOLATED");
  });

  test("removing what is not in the cart is refused", async () => {
    await spec
      .given([opened, tea])
      .when((cart) => cart.removeItem("MUG-002"))
      .thenThrows(CartRuleError);
  });
});
