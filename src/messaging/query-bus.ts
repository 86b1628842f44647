import type { MessageMap } from "./message.js";
import { MessageBus, type MessageBusOptions } from "./message-bus.js";

/**
 * Routes each query type to its one handler, and tracks executions per type (count, failures,
 * durations: see `stats()`). Queries read; they should not change state.
 *
 * @example
 * type Queries = { GetOrder: { payload: { orderId: string }; result: Order | undefined } };
 * const queries = new QueryBus<Queries>();
 * queries.register("GetOrder", ({ orderId }) => orders.get(orderId));
 * const order = await queries.execute("GetOrder", { orderId });
 */
export class QueryBus<M extends MessageMap = MessageMap> extends MessageBus<M> {
  constructor(options?: MessageBusOptions | null) {
    super("query", options);
  }
}
