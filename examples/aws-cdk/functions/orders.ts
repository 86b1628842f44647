/**
 * The example's domain, kept tiny: orders are placed and can be read back. Commands go through the
 * command bus to the DynamoDB event store; each committed event is published to EventBridge.
 */
import * as v from "valibot";
import {
  CommandBus,
  type EventBus,
  type EventStore,
  eventMetadataFor,
  QueryBus,
  ulid,
  validation,
} from "../../../src/index.js";

export type OrderCommands = {
  PlaceOrder: { payload: { sku: string; quantity: number }; result: { orderId: string; version: number } };
};
export type OrderQueries = {
  GetOrder: {
    payload: { orderId: string };
    result: { orderId: string; sku: string; quantity: number; placedAt: string } | null;
  };
};

/** What the HTTP routes accept: only these types are exposed. */
export const orderSchemas = {
  PlaceOrder: v.object({
    sku: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
    quantity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)),
  }),
  GetOrder: v.object({ orderId: v.pipe(v.string(), v.ulid()) }),
};

export function orderBuses(store: EventStore): {
  commands: CommandBus<OrderCommands>;
  queries: QueryBus<OrderQueries>;
} {
  const commands = new CommandBus<OrderCommands>();
  commands.use(validation({ PlaceOrder: orderSchemas.PlaceOrder }));
  commands.register("PlaceOrder", async ({ sku, quantity }, message) => {
    const orderId = ulid();
    const { nextExpectedVersion } = await store.appendToStream(
      `Order-${orderId}`,
      [{ type: "OrderPlaced", data: { orderId, sku, quantity } }],
      {
        expectedVersion: "no-stream",
        metadata: { ...eventMetadataFor(message), ...traceOf(message.metadata), ...callerOf(message.metadata) },
      },
    );
    return { orderId, version: nextExpectedVersion };
  });

  const queries = new QueryBus<OrderQueries>();
  queries.use(validation({ GetOrder: orderSchemas.GetOrder }));
  queries.register("GetOrder", async ({ orderId }) => {
    for await (const event of store.readStream(`Order-${orderId}`)) {
      if (event.type === "OrderPlaced") {
        const data = event.data as { sku: string; quantity: number };
        return { orderId, sku: data.sku, quantity: data.quantity, placedAt: event.timestamp };
      }
    }
    return null;
  });
  return { commands, queries };
}

/** What the consumer does with an order: here, a structured log line (a receipt, a projection, ...). */
export function orderHandlers(
  log: (line: Record<string, unknown>) => void,
): Parameters<EventBus["subscribeToType"]>[1] {
  return (event) => {
    const data = event.data as { orderId: string; sku: string; quantity: number };
    log({ msg: "order placed", orderId: data.orderId, sku: data.sku, correlationId: event.metadata.correlationId });
  };
}

/** Who placed the order, as the api function's auth hook verified them: kept with the event for audit. */
function callerOf(metadata: Record<string, unknown>): Record<string, string> {
  const caller: Record<string, string> = {};
  if (typeof metadata.userId === "string") caller.userId = metadata.userId;
  if (typeof metadata.verifiedBy === "string") caller.verifiedBy = metadata.verifiedBy;
  return caller;
}

function traceOf(metadata: Record<string, unknown>): Record<string, string> {
  const trace: Record<string, string> = {};
  if (typeof metadata.traceparent === "string") trace.traceparent = metadata.traceparent;
  if (typeof metadata.tracestate === "string") trace.tracestate = metadata.tracestate;
  return trace;
}
