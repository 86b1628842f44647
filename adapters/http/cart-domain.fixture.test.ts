/**
 * A small cart domain behind the HTTP routes in tests (Hono, Lambda, the dispatcher itself): commands append to a real
 * InMemoryEventStore with the command's metadata, queries fold the stream. (No tests in this file.)
 */
import * as v from "valibot";
import {
  CommandBus,
  type EventEnvelope,
  type EventStore,
  eventMetadataFor,
  InMemoryEventStore,
  type MessageMetadata,
  QueryBus,
} from "../../src/index.js";

export interface Cart {
  readonly cartId: string;
  readonly items: Readonly<Record<string, number>>;
  readonly version: number;
}

export type CartCommands = {
  OpenCart: { payload: { cartId: string }; result: { cartId: string; version: number } };
  AddItem: {
    payload: { cartId: string; sku: string; quantity: number; expectedVersion?: number };
    result: { version: number };
  };
  ClearCart: { payload: { cartId: string }; result: undefined };
  Explode: { payload: Record<string, never>; result: never };
  IssueRefund: { payload: unknown; result: { refunded: boolean } };
};

export type CartQueries = {
  GetCart: { payload: { cartId: string }; result: Cart | undefined };
  SearchCarts: {
    payload: { minItems: number; skus?: string[]; open?: boolean };
    result: { cartIds: string[]; minItems: number; skus: string[] | null; open: boolean | null };
  };
};

const CartId = v.pipe(v.string(), v.minLength(1), v.maxLength(40), v.regex(/^[A-Za-z0-9-]+$/));

export const commandSchemas = {
  OpenCart: v.object({ cartId: CartId }),
  AddItem: {
    input: v.object({
      cartId: CartId,
      sku: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
      quantity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(99)),
      // safeInteger, not integer: the store refuses versions past 2^53 - 1 (schemathesis found the gap).
      expectedVersion: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
    }),
    output: v.object({ version: v.number() }),
    summary: "Add an item to a cart",
  },
  ClearCart: v.object({ cartId: CartId }),
  Explode: v.object({}),
};

export const querySchemas = {
  GetCart: v.object({ cartId: CartId }),
  SearchCarts: v.object({
    minItems: v.pipe(v.number(), v.integer(), v.minValue(0)),
    skus: v.optional(v.array(v.string())),
    open: v.optional(v.boolean()),
  }),
};

/** What the test saw a handler receive. */
export interface Seen {
  readonly type: string;
  readonly payload: unknown;
  readonly metadata: MessageMetadata;
}

/** The domain over `store` (a fresh in-memory store by default; a tenant's store in the tenancy tests). */
export function cartDomain<S extends EventStore = InMemoryEventStore>(
  store: S = new InMemoryEventStore() as EventStore as S,
) {
  const commands = new CommandBus<CartCommands>();
  const queries = new QueryBus<CartQueries>();
  const seen: Seen[] = [];
  commands.before((message) => void seen.push(message));
  queries.before((message) => void seen.push(message));

  commands.register("OpenCart", async ({ cartId }, message) => {
    const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "CartOpened", data: { cartId } }], {
      expectedVersion: "no-stream",
      metadata: eventMetadataFor(message),
    });
    return { cartId, version: appended.nextExpectedVersion };
  });
  commands.register("AddItem", async ({ cartId, sku, quantity, expectedVersion }, message) => {
    const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "ItemAdded", data: { sku, quantity } }], {
      expectedVersion: expectedVersion ?? "stream-exists",
      metadata: eventMetadataFor(message),
    });
    return { version: appended.nextExpectedVersion };
  });
  commands.register("ClearCart", async ({ cartId }, message) => {
    await store.appendToStream(`Cart-${cartId}`, [{ type: "CartCleared", data: {} }], {
      expectedVersion: "stream-exists",
      metadata: eventMetadataFor(message),
    });
    return undefined;
  });
  commands.register("Explode", () => {
    throw new Error("connect ECONNREFUSED postgres://admin:hunter2@db.internal:5432/carts");
  });

  const load = async (cartId: string): Promise<Cart | undefined> => {
    const items: Record<string, number> = {};
    let version = 0;
    for await (const event of store.readStream(`Cart-${cartId}`)) {
      version = event.version;
      if (event.type === "ItemAdded") {
        const { sku, quantity } = event.data as { sku: string; quantity: number };
        items[sku] = (items[sku] ?? 0) + quantity;
      } else if (event.type === "CartCleared") {
        for (const key of Object.keys(items)) delete items[key];
      }
    }
    return version === 0 ? undefined : { cartId, items, version };
  };
  queries.register("GetCart", ({ cartId }) => load(cartId));
  queries.register("SearchCarts", ({ minItems, skus, open }) => ({
    cartIds: [],
    minItems,
    skus: skus ?? null,
    open: open ?? null,
  }));

  // Registered but given no schema: an internal command that no route may expose.
  commands.register("IssueRefund", () => ({ refunded: true }));

  const routes = {
    commands: { bus: commands, schemas: commandSchemas },
    queries: { bus: queries, schemas: querySchemas },
  };
  return { store, commands, queries, seen, routes, load };
}

/** Every stored event: compare before and after to prove a request wrote nothing. */
export async function allEvents(store: EventStore): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}
