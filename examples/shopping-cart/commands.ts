/**
 * The cart's commands: their payload schemas (valibot, checked by the `validation` middleware
 * before a handler runs), their result types, and their handlers.
 */
import * as v from "valibot";
import {
  type AggregateRepository,
  type CommandBus,
  eventMetadataFor,
  type Message,
  ValidationError,
} from "../../src/index.js";
import { Cart, CartId } from "./cart.js";
import type { Catalog } from "./catalog.js";

const cartId = v.pipe(v.string(), v.ulid("cartId must be a cart id (a ULID)"));
const sku = v.pipe(v.string(), v.regex(/^[A-Z]{3}-\d{3}$/, "sku must look like ABC-123"));

export const commandSchemas = {
  OpenCart: v.strictObject({ customerId: v.pipe(v.string(), v.trim(), v.nonEmpty("customerId is required")) }),
  AddItem: v.strictObject({
    cartId,
    sku,
    quantity: v.pipe(
      v.number(),
      v.integer("quantity must be a whole number"),
      v.minValue(1, "quantity must be at least 1"),
      v.maxValue(99, "quantity must be at most 99"),
    ),
  }),
  RemoveItem: v.strictObject({ cartId, sku }),
  CheckOut: v.strictObject({ cartId }),
};

type Schemas = typeof commandSchemas;

/** Each command type's payload and result: the command bus checks both at compile time. */
export type ShopCommands = {
  OpenCart: { payload: v.InferOutput<Schemas["OpenCart"]>; result: { cartId: string } };
  AddItem: { payload: v.InferOutput<Schemas["AddItem"]>; result: { version: number } };
  RemoveItem: { payload: v.InferOutput<Schemas["RemoveItem"]>; result: { version: number } };
  CheckOut: { payload: v.InferOutput<Schemas["CheckOut"]>; result: { totalCents: number } };
};

export interface CommandDependencies {
  readonly carts: AggregateRepository<Cart>;
  readonly catalog: Catalog;
}

export function registerCommandHandlers(commands: CommandBus<ShopCommands>, deps: CommandDependencies): void {
  const { carts, catalog } = deps;
  // Events carry the command's correlation id and the command's id as their causation.
  const saveOptions = (message: Message) => ({ metadata: eventMetadataFor(message) });

  commands.register("OpenCart", async ({ customerId }, message) => {
    const id = CartId.create();
    const cart = new Cart(id);
    cart.open(customerId);
    await carts.save(cart, saveOptions(message));
    return { cartId: id };
  });

  // Load, decide, save. A concurrent save in between makes `save` throw ConcurrencyError; the
  // retryOnConcurrency middleware then runs this handler again on a freshly loaded cart.
  commands.register("AddItem", async ({ cartId, sku, quantity }, message) => {
    const cart = await carts.load(cartId);
    const product = await catalog.find(sku);
    if (product === undefined) {
      throw new ValidationError("Unknown product", [{ path: ["sku"], message: `${sku} is not in the catalog` }]);
    }
    cart.addItem(sku, quantity, product.unitPriceCents);
    const { nextExpectedVersion } = await carts.save(cart, saveOptions(message));
    return { version: nextExpectedVersion };
  });

  commands.register("RemoveItem", async ({ cartId, sku }, message) => {
    const cart = await carts.load(cartId);
    cart.removeItem(sku);
    const { nextExpectedVersion } = await carts.save(cart, saveOptions(message));
    return { version: nextExpectedVersion };
  });

  commands.register("CheckOut", async ({ cartId }, message) => {
    const cart = await carts.load(cartId);
    const totalCents = cart.checkOut();
    await carts.save(cart, saveOptions(message));
    return { totalCents };
  });
}
