/**
 * The services the saga drives, as command handlers: stock, payments, shipping and orders. Each
 * records the events it causes in the store, and skips a command id it has handled already, so
 * that a command the saga sends again after a crash takes effect once. An id counts as handled
 * only once its handler succeeded: a handler that failed is done again when the saga retries it.
 * (Here everything is in memory; with a database, record the id in the effect's transaction.)
 */
import type { CommandBus, InMemoryDedupStore, InMemoryEventStore, Message } from "../../src/index.js";
import type { FulfilmentCommands, ShopEvent } from "./events.js";

export interface Services {
  readonly stock: Map<string, number>;
  /** Cards the payment provider declines, and cards it never answers for. */
  readonly declined: Set<string>;
  readonly unanswered: Set<string>;
  /** Every command that took effect, in order: "<type> <id>". */
  readonly log: string[];
}

export function registerServices(
  commands: CommandBus<FulfilmentCommands>,
  store: InMemoryEventStore,
  dedup: InMemoryDedupStore,
  services: Services,
): void {
  const record = (orderId: string, ...events: ShopEvent[]) => store.appendToStream(`Order-${orderId}`, events);
  // Idempotency by command id: the saga's ids are deterministic, so a re-sent command is skipped.
  const once =
    <P>(handle: (payload: P) => Promise<unknown>) =>
    async (payload: P, message: Message): Promise<undefined> => {
      if (await dedup.has(message.id)) return undefined;
      // Logged first, so the commands it causes follow it; taken back if it fails.
      const line = services.log.push(`${message.type} ${message.id}`) - 1;
      try {
        await handle(payload);
      } catch (error) {
        services.log.splice(line, 1);
        throw error;
      }
      await dedup.add(message.id);
      return undefined;
    };

  commands.register(
    "ReserveStock",
    once(async ({ orderId, sku, quantity }) => {
      const left = services.stock.get(sku) ?? 0;
      if (left < quantity) return record(orderId, { type: "StockUnavailable", data: { orderId, sku } });
      // Taken at once, so two orders cannot both have the last units; put back if the event is not stored.
      services.stock.set(sku, left - quantity);
      try {
        await record(orderId, { type: "StockReserved", data: { orderId, sku, quantity } });
      } catch (error) {
        services.stock.set(sku, (services.stock.get(sku) ?? 0) + quantity);
        throw error;
      }
    }),
  );
  commands.register(
    "ReleaseStock",
    once(async ({ orderId, sku, quantity }) => {
      // Put back once the event is stored: a failed write, retried, does not add twice.
      await record(orderId, { type: "StockReleased", data: { orderId, sku, quantity } });
      services.stock.set(sku, (services.stock.get(sku) ?? 0) + quantity);
    }),
  );
  commands.register(
    "ChargePayment",
    once(async ({ orderId, amountCents, card }) => {
      if (services.unanswered.has(card)) return; // the provider never calls back
      if (services.declined.has(card)) {
        return record(orderId, { type: "PaymentFailed", data: { orderId, reason: "card declined" } });
      }
      return record(orderId, { type: "PaymentCharged", data: { orderId, amountCents } });
    }),
  );
  commands.register(
    "ShipOrder",
    once(async ({ orderId }) => record(orderId, { type: "OrderShipped", data: { orderId } })),
  );
  commands.register(
    "CancelOrder",
    once(async ({ orderId, reason }) => record(orderId, { type: "OrderCancelled", data: { orderId, reason } })),
  );
}
