/**
 * The command and query handlers. Public commands come over HTTP; the saga's commands come from
 * its outbox, each under a deterministic id, and every one of them is written so that running it
 * twice changes nothing more than running it once (the aggregates ignore a repeated reservation,
 * release, confirmation or cancellation; a payment stream is written once).
 */
import {
  AggregateRepository,
  type CommandBus,
  type EventStore,
  eventMetadataFor,
  isConcurrencyError,
  type QueryBus,
  type ReadModelStore,
  StreamNotFoundError,
  ulid,
  ValidationError,
} from "@eventflows/core";
import {
  OrderStream,
  type OrderView,
  PaymentStream,
  ProductStream,
  type ShopCommands,
  type ShopEvent,
  type ShopQueries,
  type StockView,
} from "./events.js";
import { Order } from "./order.js";
import type { PaymentProvider } from "./payments.js";
import { Product } from "./product.js";

export interface HandlerDependencies {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  readonly payments: PaymentProvider;
}

export function registerHandlers(
  commands: CommandBus<ShopCommands>,
  queries: QueryBus<ShopQueries>,
  { eventStore, readModels, payments }: HandlerDependencies,
): void {
  const products = new AggregateRepository({
    store: eventStore,
    stream: ProductStream,
    create: (sku) => new Product(sku),
  });
  const orders = new AggregateRepository({ store: eventStore, stream: OrderStream, create: (id) => new Order(id) });

  commands.register("ListProduct", async ({ sku, name, priceCents }, message) => {
    const metadata = eventMetadataFor(message);
    await products.update(sku, (product) => product.list(name, priceCents), { createIfMissing: true, metadata });
    return undefined;
  });
  commands.register("ReceiveStock", async ({ sku, quantity }, message) => {
    const { result } = await products.update(sku, (product) => product.receive(quantity), {
      metadata: eventMetadataFor(message),
    });
    return { available: result };
  });
  commands.register("PlaceOrder", async ({ sku, quantity, paymentToken }, message) => {
    const product = await products.find(sku);
    if (product === undefined || !product.isListed) {
      // Bad input (400), this example's choice over a 404: the order names no product. The OpenAPI contract
      // check (scripts/check-openapi-contract.ts) forgives it only for a sku its run did not list.
      throw new ValidationError("Invalid order", [{ path: ["sku"], message: `no product ${sku}` }]);
    }
    const order = new Order(ulid());
    const totalCents = product.price(quantity);
    const customerId = String(message.metadata.userId);
    order.place({ customerId, sku, quantity, totalCents, paymentToken });
    await orders.save(order, { metadata: eventMetadataFor(message) });
    return { orderId: order.id, totalCents };
  });

  // The saga's commands: each is safe to run again under the same id.
  commands.register("ReserveStock", async ({ orderId, sku, quantity }, message) => {
    await products.update(sku, (product) => product.reserve(orderId, quantity), {
      metadata: eventMetadataFor(message),
    });
    return undefined;
  });
  commands.register("ReleaseStock", async ({ orderId, sku }, message) => {
    await products.update(sku, (product) => product.release(orderId), { metadata: eventMetadataFor(message) });
    return undefined;
  });
  commands.register("ChargePayment", async ({ orderId, amountCents, paymentToken }, message) => {
    const streamId = PaymentStream.name(orderId);
    if (await eventStore.streamExists(streamId)) return undefined;
    const outcome = await payments.charge(paymentToken, amountCents, message.id);
    if (outcome.status === "pending") return undefined; // the answer never comes: the saga's timeout decides
    const event: ShopEvent =
      outcome.status === "captured"
        ? { type: "PaymentCaptured", data: { orderId, amountCents, chargeId: outcome.chargeId } }
        : { type: "PaymentDeclined", data: { orderId, reason: outcome.reason } };
    try {
      await eventStore.appendToStream(streamId, [event], {
        expectedVersion: "no-stream",
        metadata: eventMetadataFor(message),
      });
    } catch (error) {
      if (!isConcurrencyError(error)) throw error; // a concurrent run of this command recorded it first
    }
    return undefined;
  });
  commands.register("ConfirmOrder", async ({ orderId }, message) => {
    await orders.update(orderId, (order) => order.confirm(), { metadata: eventMetadataFor(message) });
    return undefined;
  });
  commands.register("CancelOrder", async ({ orderId, reason }, message) => {
    await orders.update(orderId, (order) => order.cancel(reason), { metadata: eventMetadataFor(message) });
    return undefined;
  });

  queries.register("GetOrder", async ({ orderId }, message) => {
    const view = await readModels.get<OrderView>("orders", orderId);
    // Another customer's order is answered as missing: its existence is not theirs to learn.
    const mayRead = message.metadata.role === "admin" || view?.customerId === message.metadata.userId;
    if (view === undefined || !mayRead) throw new StreamNotFoundError(OrderStream.name(orderId));
    return view;
  });
  queries.register("GetStock", async ({ sku }) => {
    const view = await readModels.get<StockView>("stock", sku);
    if (view === undefined) throw new StreamNotFoundError(ProductStream.name(sku));
    return view;
  });
}
