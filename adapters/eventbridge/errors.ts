import { type EventEnvelope, EventFlowsError } from "../../src/index.js";

/** Error codes of this adapter, stable across releases. */
export const EventBridgeErrorCode = {
  HandlersFailed: "HANDLERS_FAILED",
  OrderBlocked: "ORDER_BLOCKED",
} as const;

/** One or more handlers failed for a consumed event; `errors` holds what each threw. */
export class HandlersFailedError extends EventFlowsError {
  override readonly name = "HandlersFailedError";
  constructor(
    readonly event: EventEnvelope,
    readonly errors: readonly unknown[],
  ) {
    super(
      EventBridgeErrorCode.HandlersFailed,
      `${errors.length} handler(s) failed for event ${event.type} ${event.id}`,
      { cause: errors[0] },
    );
  }
}

/** A FIFO batch stopped at an earlier failure; this message was not tried, to keep the order. */
export class OrderBlockedError extends EventFlowsError {
  override readonly name = "OrderBlockedError";
  constructor(readonly messageId: string) {
    super(
      EventBridgeErrorCode.OrderBlocked,
      `Message ${messageId} was not handled: an earlier message of its FIFO batch failed`,
    );
  }
}
