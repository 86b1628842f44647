import {
  ErrorCodeRegistry,
  type EventEnvelope,
  EventFlowsError,
  isEventFlowsError,
  ServiceError,
} from "../../src/index.js";
import type { DeadLetter } from "./dead-letters.js";
import type { EventBridgePublishResult } from "./publish-result.js";

/** Error codes of this adapter, stable across releases. */
export const EventBridgeErrorCode = ErrorCodeRegistry.eventBridge;

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
    hidden(this, "event", "errors");
  }
}

/**
 * Leaves fields that hold what the library was handed (an event's data, what a handler threw, with whatever
 * request or credentials it carries) out of `JSON.stringify` and inspection, as `cause` is: still readable.
 */
function hidden(error: object, ...keys: string[]): void {
  for (const key of keys) Object.defineProperty(error, key, { enumerable: false });
}

/**
 * A mapping function of yours threw: the bus's `source`, `detailType` or `resources`, or a custom
 * mapping's `toEntry` (on `publish`: nothing is sent) or `fromEvent` (on `decode`; `consume` reports the
 * message as failed). The message names the step and the event, never what was thrown: that is the `cause`.
 */
export class MappingFailedError extends EventFlowsError {
  override readonly name = "MappingFailedError";
  constructor(
    readonly step: "toEntry" | "fromEvent",
    readonly event: EventEnvelope | undefined,
    cause: unknown,
  ) {
    super(
      EventBridgeErrorCode.MappingFailed,
      `The EventBridge mapping failed (${step})${event === undefined ? "" : ` for event ${event.type} ${event.id}`}: see cause`,
      { cause },
    );
    hidden(this, "event");
  }
}

/**
 * `map()`, with what it throws wrapped in a {@link MappingFailedError}: an EventFlowsError of the
 * mapping's own (a `ValidationError` refusing a message, say) is passed on as it is.
 */
export function mapped<T>(step: "toEntry" | "fromEvent", event: EventEnvelope | undefined, map: () => T): T {
  try {
    return map();
  } catch (error) {
    throw isEventFlowsError(error) ? error : new MappingFailedError(step, event, error);
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

/**
 * Some events were neither published nor dead-lettered (no dead-letter target, or it failed too).
 * `undelivered` names each with why; `result` says what happened to the others. A
 * {@link ServiceError}: an event store treats it as a failed publish and re-drives from the store.
 * `retryable` when every undelivered event failed for a passing reason (a code the bus retries, a
 * network failure, throttling); by default, when each failed with `InternalFailure` or `ThrottlingException`.
 */
export class PublishIncompleteError extends ServiceError {
  constructor(
    readonly eventBusName: string,
    readonly result: EventBridgePublishResult,
    readonly undelivered: readonly { readonly letter: DeadLetter; readonly error: unknown }[],
    retryable: boolean = undelivered.every(
      ({ letter }) => letter.errorCode === "InternalFailure" || letter.errorCode === "ThrottlingException",
    ),
  ) {
    const first = undelivered[0]?.letter;
    super(
      "EventBridge",
      "PutEvents",
      first?.errorCode ?? "Unknown",
      retryable,
      `${undelivered.length} event(s) were neither published to ${eventBusName} nor dead-lettered` +
        (first === undefined ? "" : `; first: ${first.event.type} ${first.event.id} (${first.errorMessage})`),
      { cause: undelivered[0]?.error },
    );
    // ServiceError types its name as a literal; the subclass still names itself in stack traces.
    Object.defineProperty(this, "name", { value: "PublishIncompleteError" });
    hidden(this, "result", "undelivered");
  }
}
