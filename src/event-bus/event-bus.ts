import { type Issue, ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { categoryOf, STREAM_SEPARATOR } from "../events/stream.js";
import { kindOf, MAX_STREAM_ID_LENGTH, MAX_TYPE_LENGTH, nameIssues, UNREADABLE } from "../internal/validate.js";
import { eventFields, getLogger } from "../logging/library-logger.js";

export type EventHandler<E extends EventEnvelope = EventEnvelope> = (event: E) => void | Promise<void>;

/** Which events a subscription receives: all, some types, or one or more stream categories. */
export type SubscriptionPattern =
  | { readonly all: true }
  | { readonly type: string | readonly string[] }
  | { readonly category: string | readonly string[] };

/** A handler failed for an event. Reported to the bus's `onError` hook and in the publish result. */
export interface HandlerFailure {
  readonly error: unknown;
  readonly event: EventEnvelope;
  readonly subscription: string;
}

export interface PublishResult {
  /** How many (event, handler) deliveries succeeded. */
  readonly delivered: number;
  readonly failures: readonly HandlerFailure[];
}

export interface SubscribeOptions {
  /** A name for error reports and introspection; defaults to the handler's function name. */
  readonly name?: string;
}

export type Unsubscribe = () => void;

export interface EventBusOptions {
  /**
   * Called once per failed delivery. Defaults to an error line on the library's logger. An error thrown here is caught:
   * a faulty hook must not take the bus down.
   */
  readonly onError?: (failure: HandlerFailure) => void;
  /**
   * `false` turns this bus's spans off whatever provider is registered. Defaults to true: a
   * `process <type>` span per delivery whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

/** What a bus can do; contract suites read this instead of skipping tests. */
export interface EventBusCapabilities {
  /** Subscribers in this process receive what is published here. False for a remote bus. */
  readonly localSubscribers: boolean;
}

/** The event bus port. */
export abstract class EventBus {
  abstract readonly capabilities: EventBusCapabilities;
  abstract publish(events: readonly EventEnvelope[]): Promise<PublishResult>;
  abstract subscribe(pattern: SubscriptionPattern, handler: EventHandler, options?: SubscribeOptions): Unsubscribe;

  /**
   * Resolves when the bus can deliver, for health checks. An in-process bus always can; remote buses
   * override it with one cheap call to their service (EventBridge: DescribeEventBus).
   */
  async ping(_signal?: AbortSignal): Promise<void> {}

  subscribeToType<E extends EventEnvelope = EventEnvelope>(
    type: E["type"] | readonly E["type"][],
    handler: EventHandler<E>,
    options?: SubscribeOptions,
  ): Unsubscribe {
    return this.subscribe({ type }, handler as EventHandler, options);
  }

  /**
   * Subscribes to every event of one or more stream categories. Name the envelope union the handler
   * sees (`EnvelopeOf<OrderEvent>`) to switch on `event.type` with typed data: the bus delivers what
   * the category's streams hold, so the union must be the events those streams are written with.
   */
  subscribeToCategory<E extends EventEnvelope = EventEnvelope>(
    category: string | readonly string[],
    handler: EventHandler<E>,
    options?: SubscribeOptions,
  ): Unsubscribe {
    return this.subscribe({ category }, handler as EventHandler, options);
  }

  subscribeToAll<E extends EventEnvelope = EventEnvelope>(
    handler: EventHandler<E>,
    options?: SubscribeOptions,
  ): Unsubscribe {
    return this.subscribe({ all: true }, handler as EventHandler, options);
  }
}

const PATTERN_FORMS = "pattern must be { all: true }, { type } or { category }";

/**
 * What is wrong with a subscription pattern: it must be exactly one of the three forms, with `all`
 * true, and types or categories a name or a list of names (a category without `-`, which would
 * never match: it separates a stream's category from its id). A pattern whose reading throws (a
 * revoked Proxy, a trap or getter) is refused as unreadable, without the error it threw.
 */
export function patternIssues(pattern: unknown): Issue[] {
  try {
    return readPatternIssues(pattern);
  } catch {
    return [{ path: ["pattern"], message: UNREADABLE }];
  }
}

function readPatternIssues(pattern: unknown): Issue[] {
  if (typeof pattern !== "object" || pattern === null || Array.isArray(pattern)) {
    return [{ path: ["pattern"], message: PATTERN_FORMS }];
  }
  // Own keys only, and no others: an inherited `type`, or a misspelt key beside a valid one
  // ({ type, categroy }), is not what the caller meant to subscribe to.
  const forms = (["all", "type", "category"] as const).filter((key) => Object.hasOwn(pattern, key));
  const [form] = forms;
  if (form === undefined || forms.length > 1) return [{ path: ["pattern"], message: PATTERN_FORMS }];
  const unknown = Object.keys(pattern).filter((key) => key !== form);
  if (unknown.length > 0) {
    return unknown.map((key) => ({ path: ["pattern", key], message: `${PATTERN_FORMS}: no other key` }));
  }
  const value = (pattern as Record<string, unknown>)[form];
  if (form === "all") {
    return value === true ? [] : [{ path: ["pattern", "all"], message: `must be true, got ${kindOf(value)}` }];
  }
  if (typeof value !== "string" && !Array.isArray(value)) {
    return [{ path: ["pattern", form], message: `must be a ${form} name or a list of them, got ${kindOf(value)}` }];
  }
  const issues: Issue[] = [];
  const names: readonly unknown[] = typeof value === "string" ? [value] : value;
  // By index, not forEach: a hole in the list ([, "A"]) is no name either.
  for (let index = 0; index < names.length; index++) {
    const name = names[index];
    const path = typeof value === "string" ? ["pattern", form] : ["pattern", form, index];
    const found =
      form === "type"
        ? nameIssues(name, "a type", MAX_TYPE_LENGTH, path)
        : nameIssues(name, "a category", MAX_STREAM_ID_LENGTH, path);
    if (found.length === 0 && form === "category" && (name as string).includes(STREAM_SEPARATOR)) {
      found.push({ path, message: `a category must not contain "${STREAM_SEPARATOR}": no stream's category does` });
    }
    issues.push(...found);
  }
  return issues;
}

/**
 * Compiles a pattern to a predicate once, at subscription time, so publishing stays cheap.
 * @throws {ValidationError} what {@link patternIssues} finds wrong with the pattern.
 */
export function matcherFor(pattern: SubscriptionPattern): (event: EventEnvelope) => boolean {
  // Checked again here (a bus checks it with the handler first): compiling a bad pattern was a TypeError.
  const issues = patternIssues(pattern);
  if (issues.length > 0) throw new ValidationError("Invalid subscription", issues);
  if ("all" in pattern) return () => true;
  if ("type" in pattern) {
    const types = new Set(typeof pattern.type === "string" ? [pattern.type] : pattern.type);
    return (event) => types.has(event.type);
  }
  const categories = new Set(typeof pattern.category === "string" ? [pattern.category] : pattern.category);
  return (event) => categories.has(categoryOf(event.streamId));
}

export function defaultOnError(failure: HandlerFailure): void {
  getLogger().error(`handler "${failure.subscription}" failed for event ${failure.event.type}`, {
    ...eventFields(failure.event),
    subscription: failure.subscription,
    error: failure.error,
  });
}
