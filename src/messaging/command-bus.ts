import type { MessageMap } from "./message.js";
import { MessageBus, type MessageBusOptions } from "./message-bus.js";

/**
 * Routes each command type to its one handler, through hooks and middleware.
 *
 * @example
 * type Commands = { PlaceOrder: { payload: { sku: string }; result: { orderId: string } } };
 * const commands = new CommandBus<Commands>();
 * commands.register("PlaceOrder", async ({ sku }) => ({ orderId: "…" }));
 * const { orderId } = await commands.execute("PlaceOrder", { sku: "A-1" });
 */
export class CommandBus<M extends MessageMap = MessageMap> extends MessageBus<M> {
  constructor(options?: MessageBusOptions | null) {
    super("command", options);
  }
}
