/**
 * Wires the shop together on the in-memory defaults (or another store, such as SQLite): the store
 * publishes each committed append to the bus, the bus feeds the read model, and the buses route
 * commands and queries.
 */
import {
  AggregateRepository,
  CommandBus,
  type ConcurrencyError,
  type EventPublisher,
  type EventStore,
  InMemoryEventBus,
  InMemoryEventStore,
  isConcurrencyError,
  type Logger,
  logging,
  type Message,
  QueryBus,
  retryOnConcurrency,
  validation,
} from "../../src/index.js";
import { Cart, CartStream } from "./cart.js";
import { Catalog, demoProducts } from "./catalog.js";
import { commandSchemas, registerCommandHandlers, type ShopCommands } from "./commands.js";
import { CartsReadModel, querySchemas, registerQueryHandlers, type ShopQueries } from "./read-model.js";

export interface ShopOptions {
  readonly catalog?: Catalog;
  /** Receives one structured line per command handled or failed. */
  readonly logger?: Pick<Logger, "info" | "error">;
  /** Told of every optimistic-concurrency conflict, including those a retry then absorbed. */
  readonly onConflict?: (message: Message, error: ConcurrencyError) => void;
  /** Makes the event store, publishing to the shop's bus. Defaults to an `InMemoryEventStore`. */
  readonly store?: (bus: EventPublisher) => EventStore;
}

export function createShop(options: ShopOptions = {}) {
  const bus = new InMemoryEventBus();
  const store = options.store?.(bus) ?? new InMemoryEventStore({ bus });
  const carts = new AggregateRepository({ store, stream: CartStream, create: (id) => new Cart(id) });
  const readModel = new CartsReadModel();
  readModel.subscribe(bus);

  const commands = new CommandBus<ShopCommands>();
  // The first middleware added is the outermost: log once per command, validate once, then retry
  // only the handler itself.
  if (options.logger !== undefined) commands.use(logging(options.logger));
  commands.use(validation(commandSchemas));
  commands.use(retryOnConcurrency({ maxAttempts: 3, baseDelayMs: 5 }));
  const onConflict = options.onConflict;
  if (onConflict !== undefined) {
    // Innermost, so it sees each attempt, not just the final outcome.
    commands.use(async (message, next) => {
      try {
        return await next();
      } catch (error) {
        if (isConcurrencyError(error)) onConflict(message, error);
        throw error;
      }
    });
  }
  registerCommandHandlers(commands, { carts, catalog: options.catalog ?? new Catalog(demoProducts) });

  const queries = new QueryBus<ShopQueries>();
  queries.use(validation(querySchemas));
  registerQueryHandlers(queries, readModel);

  return { store, bus, carts, readModel, commands, queries };
}

export type Shop = ReturnType<typeof createShop>;
