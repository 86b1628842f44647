import { EventHandlerTimeoutError, type Issue, ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import {
  assertFunction,
  functionIssues,
  isArray,
  kindOf,
  MAX_DELAY_MS,
  UNREADABLE,
  unknownKeyIssues,
} from "../internal/validate.js";
import { STUCK, within } from "../internal/within.js";
import { processEvent } from "../telemetry/consumer-spans.js";
import { countConsumed } from "../telemetry/metrics.js";
import { activeTracer } from "../telemetry/tracer.js";
import {
  defaultOnError,
  EventBus,
  type EventBusCapabilities,
  type EventBusOptions,
  type EventHandler,
  type HandlerFailure,
  matcherFor,
  type PublishResult,
  patternIssues,
  type SubscribeOptions,
  type SubscriptionPattern,
  type Unsubscribe,
} from "./event-bus.js";

export interface InMemoryEventBusOptions extends EventBusOptions {
  /**
   * How long `publish` waits for one handler to settle, in milliseconds: a handler still running then is
   * reported as that delivery's failure with an `EventHandlerTimeoutError`, and delivery moves on to the
   * next handler and event while it goes on running. An integer from 1 to 2,147,483,647, or `Infinity`
   * for no limit. Defaults to 30,000.
   */
  readonly handlerTimeoutMs?: number;
}

const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

const IN_MEMORY_EVENT_BUS_OPTIONS = [
  "onError",
  "telemetry",
  "handlerTimeoutMs",
] as const satisfies readonly (keyof InMemoryEventBusOptions)[];

const SUBSCRIBE_OPTIONS = ["name"] as const satisfies readonly (keyof SubscribeOptions)[];

interface Subscription {
  readonly name: string;
  readonly matches: (event: EventEnvelope) => boolean;
  readonly handler: EventHandler;
}

/**
 * An event bus within one process. Events are delivered in order; for each event, its handlers run
 * one after another in subscription order. A failing handler is reported and skipped: the other
 * handlers, and later events, still run.
 */
export class InMemoryEventBus extends EventBus {
  readonly capabilities: EventBusCapabilities = { localSubscribers: true };
  #subscriptions: readonly Subscription[] = [];
  readonly #onError: (failure: HandlerFailure) => void;
  readonly #traced: boolean;
  readonly #handlerTimeoutMs: number;

  constructor(given: InMemoryEventBusOptions | null = {}) {
    super();
    // null is no options, as undefined is: never a TypeError.
    const options = given ?? {};
    // An array is no options object: its entries were never read.
    if (typeof options !== "object" || isArray(options) !== false) {
      throw new ValidationError("Invalid event bus options", [
        {
          path: [],
          message: `options must be an object, got ${kindOf(options)}`,
        },
      ]);
    }
    // A misspelt key was dropped and its default taken: `handlerTimeout: 5000` waited 30 s.
    const issues: Issue[] = unknownKeyIssues(options, IN_MEMORY_EVENT_BUS_OPTIONS);
    issues.push(...functionIssues(options.onError, "onError"));
    if (options.telemetry !== undefined && typeof options.telemetry !== "boolean") {
      issues.push({ path: ["telemetry"], message: `must be a boolean, got ${kindOf(options.telemetry)}` });
    }
    issues.push(...handlerTimeoutIssues(options.handlerTimeoutMs));
    if (issues.length > 0) throw new ValidationError("Invalid event bus options", issues);
    this.#onError = options.onError ?? defaultOnError;
    this.#traced = options.telemetry !== false;
    this.#handlerTimeoutMs = options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  }

  subscribe(pattern: SubscriptionPattern, handler: EventHandler, options?: SubscribeOptions): Unsubscribe {
    assertFunction(handler, "handler", "subscription");
    const issues = [...patternIssues(pattern), ...subscribeOptionIssues(options)];
    if (issues.length > 0) throw new ValidationError("Invalid subscription", issues);
    const subscription: Subscription = {
      name: options?.name ?? (handler.name || "anonymous"),
      matches: matcherFor(pattern),
      handler,
    };
    // Copy-on-write: a handler that subscribes or unsubscribes during publish does not disturb it.
    this.#subscriptions = [...this.#subscriptions, subscription];
    return () => {
      this.#subscriptions = this.#subscriptions.filter((s) => s !== subscription);
    };
  }

  /**
   * @throws {ValidationError} `events` is not an array of envelopes (each an object with a string
   * `type` and `streamId`): checked before any handler runs, so nothing is half delivered.
   */
  async publish(events: readonly EventEnvelope[]): Promise<PublishResult> {
    assertEnvelopes(events);
    let delivered = 0;
    const failures: HandlerFailure[] = [];
    const subscriptions = this.#subscriptions;
    const tracer = this.#traced ? activeTracer() : undefined;
    for (const event of events) {
      for (const subscription of subscriptions) {
        if (!subscription.matches(event)) continue;
        try {
          // The time limit inside the span: the span ends at the limit with the timeout, as onError hears
          // of it (bounding the span from outside left a handler that never settles without one).
          const deliver = () => {
            const run = subscription.handler(event);
            // A handler that returned no promise (a synchronous one) has settled already: no timer for it.
            return isThenable(run) && this.#handlerTimeoutMs !== Number.POSITIVE_INFINITY
              ? this.#bounded(run, subscription, event)
              : run;
          };
          await (tracer === undefined
            ? deliver()
            : processEvent(tracer, event, "eventflows", subscription.name, deliver));
          delivered++;
          countConsumed("bus", event);
        } catch (error) {
          countConsumed("bus", event, { error });
          const failure: HandlerFailure = { error, event, subscription: subscription.name };
          failures.push(failure);
          this.#report(failure);
        }
      }
    }
    return { delivered, failures };
  }

  /** A handler's run, waited for `handlerTimeoutMs` at most: then failed, and left running unwatched. */
  async #bounded(run: PromiseLike<unknown>, subscription: Subscription, event: EventEnvelope): Promise<void> {
    if ((await within(Promise.resolve(run), this.#handlerTimeoutMs)) === STUCK) {
      throw new EventHandlerTimeoutError(subscription.name, event.type, idOf(event), this.#handlerTimeoutMs);
    }
  }

  /** Names of the current subscriptions, in delivery order. */
  subscriptionNames(): string[] {
    return this.#subscriptions.map((s) => s.name);
  }

  #report(failure: HandlerFailure): void {
    callHook("onError", this.#onError, failure);
  }
}

/**
 * `subscribe`'s options: absent (`null` too), or an object whose only key is a string `name`. A
 * misspelt `nmae`, or a bare `"audit"` for `{ name: "audit" }`, was dropped: the subscription was
 * reported as "anonymous" (or its function's name) instead of what the caller meant.
 */
function subscribeOptionIssues(options: unknown): Issue[] {
  if (options === undefined || options === null) return [];
  if (typeof options !== "object" || isArray(options) !== false) {
    return [{ path: ["options"], message: `must be an object, got ${kindOf(options)}` }];
  }
  const issues = unknownKeyIssues(options, SUBSCRIBE_OPTIONS, ["options"]);
  if (issues.some((issue) => issue.message === UNREADABLE)) return issues;
  const { name } = options as SubscribeOptions;
  if (name !== undefined && typeof name !== "string") {
    issues.push({ path: ["options", "name"], message: `must be a string, got ${kindOf(name)}` });
  }
  return issues;
}

/** `handlerTimeoutMs`: absent, a delay `setTimeout` honours (at least 1 ms), or Infinity for none. */
function handlerTimeoutIssues(value: unknown): Issue[] {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return [];
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1 && value <= MAX_DELAY_MS) return [];
  return [
    {
      path: ["handlerTimeoutMs"],
      message: `must be an integer from 1 to ${MAX_DELAY_MS}, or Infinity for no limit, got ${kindOf(value)}`,
    },
  ];
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === "function";
}

// The id as the error can hold it: publish checks an envelope's type and stream, not its id.
function idOf(event: EventEnvelope): string {
  return typeof event.id === "string" ? event.id : kindOf(event.id);
}

/**
 * What a JavaScript caller may hand `publish` by mistake: not a list, or an entry no pattern can
 * be matched against (a category pattern reads `streamId`, a type pattern `type`). Refused whole,
 * before the first delivery, rather than failing halfway with a TypeError.
 */
function assertEnvelopes(events: unknown): asserts events is readonly EventEnvelope[] {
  if (!Array.isArray(events)) {
    throw new ValidationError("Invalid events to publish", [
      { path: [], message: `must be an array of event envelopes, got ${kindOf(events)}` },
    ]);
  }
  const issues: Issue[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as Partial<EventEnvelope> | null | undefined;
    if (typeof event !== "object" || event === null) {
      issues.push({ path: [index], message: `must be an event envelope, got ${kindOf(event)}` });
      continue;
    }
    if (typeof event.type !== "string") {
      issues.push({ path: [index, "type"], message: `must be a string, got ${kindOf(event.type)}` });
    }
    if (typeof event.streamId !== "string") {
      issues.push({ path: [index, "streamId"], message: `must be a string, got ${kindOf(event.streamId)}` });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid events to publish", issues);
}
