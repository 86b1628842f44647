import { SpanKind } from "@opentelemetry/api";
import {
  activeTracer,
  callHook,
  consumerParent,
  countConsumed,
  countError,
  countUnhandled,
  type DedupStore,
  EventBus,
  type EventEnvelope,
  type EventHandler,
  type EventRegistry,
  eventFields,
  getLogger,
  InMemoryDedupStore,
  inSpan,
  processEvent,
  setSpanAttributes,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { HandlersFailedError, mapped, OrderBlockedError } from "./errors.js";
import type { EventBridgeEvent } from "./eventbridge-types.js";
import { type EventBridgeMapping, envelopeMapping } from "./mapping.js";

/** A message body decoded, or why it could not be. */
interface Decoded {
  readonly event?: EventEnvelope;
  readonly error?: unknown;
}

/** The parts of an SQS message the consumer reads: a Lambda SQS record has them. */
export interface SqsMessage {
  readonly messageId: string;
  readonly body: string;
}

/** Where decoded events go: an event bus (an InMemoryEventBus, say), one handler, or handlers by type. */
export type EventTarget = EventBus | EventHandler | Readonly<Record<string, EventHandler | readonly EventHandler[]>>;

/** A message that was not handled, with why. It is reported in `batchItemFailures`. */
export interface MessageFailure {
  readonly messageId: string;
  readonly error: unknown;
  /** The decoded event, when the body could be decoded. */
  readonly event?: EventEnvelope;
}

export interface ConsumeResult {
  /** The messages to redeliver, in the shape Lambda's partial batch response takes. */
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
  /** Messages whose event was handled now. */
  readonly handled: number;
  /** Messages whose event had been handled before (or earlier in this batch): acknowledged, not handled again. */
  readonly duplicates: number;
  /** Messages with an event no handler takes (handlers by type only): acknowledged. */
  readonly unhandled: number;
  readonly failures: readonly MessageFailure[];
}

export interface SqsEventConsumerOptions {
  readonly handlers: EventTarget;
  /** Must match the publishing bus's mapping. Defaults to {@link envelopeMapping}. */
  readonly mapping?: EventBridgeMapping;
  /** Defaults to an {@link InMemoryDedupStore}; `false` turns deduplication off. */
  readonly dedup?: DedupStore | false;
  /**
   * For FIFO queues: after the first failure, the rest of the batch is reported as failed too,
   * unhandled, so that redelivery keeps the order. Defaults to false.
   */
  readonly fifo?: boolean;
  /** Told of each failed message (after it is recorded). Defaults to an error line on the library's logger. */
  readonly onFailure?: (failure: MessageFailure) => void;
  /**
   * Upcasts each decoded event to its current version before the handlers see it (events published
   * by an older release travel at their old version); a split event goes to the handlers as its
   * parts, in order. The same registry as the event store's. Without one, events arrive as sent.
   */
  readonly eventRegistry?: EventRegistry;
  /**
   * `false` turns the consumer's spans off. Defaults to true: whenever a provider is registered, a
   * `process` span per batch (the child of the events' trace when they share one origin, a new trace
   * linking to each origin otherwise) and a `process <type>` span per event under it.
   */
  readonly telemetry?: boolean;
}

/**
 * Turns SQS messages carrying EventBridge events (a rule's SQS target, or this adapter's dead-letter
 * queue) back into envelopes and hands them to handlers, one message after another. Each event is
 * handled once per dedup store; a message whose body is not such an event, or whose handler throws,
 * is reported as failed, and only those are redelivered.
 */
export class SqsEventConsumer {
  readonly #dispatch: (event: EventEnvelope) => Promise<boolean>;
  readonly #mapping: EventBridgeMapping;
  readonly #dedup: DedupStore | undefined;
  readonly #fifo: boolean;
  readonly #onFailure: (failure: MessageFailure) => void;
  readonly #registry: EventRegistry | undefined;
  readonly #traced: boolean;

  constructor(options: SqsEventConsumerOptions) {
    this.#dispatch = dispatcherFor(options?.handlers);
    assertOptionKinds(options);
    this.#mapping = options.mapping ?? envelopeMapping();
    this.#dedup = options.dedup === false ? undefined : (options.dedup ?? new InMemoryDedupStore());
    this.#fifo = options.fifo ?? false;
    this.#onFailure = options.onFailure ?? defaultOnFailure;
    this.#registry = options.eventRegistry;
    this.#registry?.check();
    this.#traced = options.telemetry !== false;
  }

  /**
   * Decodes a message body: an EventBridge event whose detail is an envelope, as it was sent (not
   * upcast: `consume` upcasts).
   * @throws {ValidationError} the body is not JSON, not an EventBridge event, or carries no envelope.
   * @throws {MappingFailedError} a custom mapping's `fromEvent` threw something else.
   */
  decode(body: string): EventEnvelope {
    const event = parseEventBridgeEvent(body);
    return mapped("fromEvent", undefined, () => this.#mapping.fromEvent(event));
  }

  /** Handles a batch; never throws for a bad message, only reports it. */
  async consume(messages: readonly SqsMessage[]): Promise<ConsumeResult> {
    assertBatch(messages);
    // Decoded up front, so that the batch span knows every origin before the first handler runs.
    const decoded = messages.map((message): Decoded => {
      try {
        return { event: this.decode(message.body) };
      } catch (error) {
        return { error };
      }
    });
    // A receive that found nothing (a worker's poll, every second or in a tight loop) is no batch: a span
    // for it would be a trace of its own per poll, burying the ones that carry events.
    const tracer = this.#traced && messages.length > 0 ? activeTracer() : undefined;
    if (tracer === undefined) return this.#consume(messages, decoded, undefined);
    const { parent, links } = consumerParent(decoded.flatMap((each) => (each.event === undefined ? [] : [each.event])));
    const attributes = {
      "messaging.system": "aws_sqs",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.batch.message_count": messages.length,
    };
    return inSpan(
      tracer,
      "process",
      SpanKind.CONSUMER,
      attributes,
      async (span) => {
        const result = await this.#consume(messages, decoded, tracer);
        setSpanAttributes(span, {
          "eventflows.handled": result.handled,
          "eventflows.duplicates": result.duplicates,
          "eventflows.failed": result.failures.length,
        });
        return result;
      },
      parent,
      links,
    );
  }

  async #consume(
    messages: readonly SqsMessage[],
    decoded: readonly Decoded[],
    tracer: ReturnType<typeof activeTracer>,
  ): Promise<ConsumeResult> {
    let handled = 0;
    let duplicates = 0;
    let unhandled = 0;
    const failures: MessageFailure[] = [];
    let blocked = false;
    for (const [index, message] of messages.entries()) {
      if (blocked) {
        failures.push(this.#fail({ messageId: message.messageId, error: new OrderBlockedError(message.messageId) }));
        continue;
      }
      let event: EventEnvelope | undefined;
      try {
        const each = decoded[index] as Decoded;
        if (each.event === undefined) throw each.error;
        const current = each.event;
        event = current;
        // ULIDs are case-insensitive: the same id in lower case is the same event (stores write upper case).
        const dedupId = typeof current.id === "string" ? current.id.toUpperCase() : current.id;
        if (this.#dedup !== undefined && (await this.#dedup.has(dedupId))) {
          duplicates++;
          continue;
        }
        const taken =
          tracer === undefined
            ? await this.#handle(current)
            : await processEvent(tracer, current, "aws_sqs", undefined, () => this.#handle(current));
        await this.#dedup?.add(dedupId);
        // Acknowledged either way; an event no handler took is counted apart, not as handled.
        if (taken) {
          handled++;
          countConsumed("sqs", event);
        } else {
          unhandled++;
          countUnhandled("sqs", event);
        }
      } catch (error) {
        if (event === undefined) countError("consume", error);
        else countConsumed("sqs", event, { error });
        const failure =
          event === undefined
            ? { messageId: message.messageId, error }
            : { messageId: message.messageId, error, event };
        failures.push(this.#fail(failure));
        if (this.#fifo) blocked = true;
      }
    }
    return {
      batchItemFailures: failures.map((failure) => ({ itemIdentifier: failure.messageId })),
      handled,
      duplicates,
      unhandled,
      failures,
    };
  }

  /** Hands the event (its parts, if an upcaster splits it) to the handlers; true if any took one. */
  async #handle(event: EventEnvelope): Promise<boolean> {
    const upcast = this.#registry === undefined ? event : this.#registry.upcastEvent(event);
    if (!Array.isArray(upcast)) return this.#dispatch(upcast as EventEnvelope);
    let taken = false;
    for (const part of upcast as readonly EventEnvelope[]) taken = (await this.#dispatch(part)) || taken;
    return taken;
  }

  #fail(failure: MessageFailure): MessageFailure {
    callHook("onFailure", this.#onFailure, failure);
    return failure;
  }
}

export function createSqsEventConsumer(options: SqsEventConsumerOptions): SqsEventConsumer {
  return new SqsEventConsumer(options);
}

/**
 * Parses an SQS body as an EventBridge event.
 * @throws {ValidationError} not JSON, or not an object with `source`, `detail-type` and `detail`.
 */
export function parseEventBridgeEvent(body: string): EventBridgeEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // The parser's message quotes the input; say what is wrong instead.
    throw new ValidationError("Malformed SQS message", [{ path: ["body"], message: "the body is not JSON" }]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError("Malformed SQS message", [{ path: ["body"], message: "the body is not a JSON object" }]);
  }
  const event = parsed as Partial<EventBridgeEvent>;
  const missing = (["source", "detail-type", "detail"] as const).filter((key) => !(key in event));
  if (missing.length > 0) {
    throw new ValidationError(
      "Not an EventBridge event",
      missing.map((key) => ({ path: ["body", key], message: `${key} is missing` })),
    );
  }
  return event as EventBridgeEvent;
}

function assertBatch(messages: unknown): asserts messages is readonly SqsMessage[] {
  if (!Array.isArray(messages)) {
    throw new ValidationError("Invalid SQS batch", [{ path: [], message: "messages must be an array" }]);
  }
  // Array.from visits a hole of a sparse array (as undefined), which flatMap passes by.
  const issues = Array.from(messages as readonly SqsMessage[], (message, index) =>
    typeof message?.messageId === "string" && typeof message.body === "string"
      ? []
      : [{ path: [index], message: "an SQS message needs a string messageId and body" }],
  ).flat();
  // A message without an id cannot be reported back, so the batch is refused whole and returns to the queue.
  if (issues.length > 0) throw new ValidationError("Invalid SQS batch", issues);
}

function dispatcherFor(target: EventTarget | undefined): (event: EventEnvelope) => Promise<boolean> {
  if (target instanceof EventBus) {
    return async (event) => {
      const result = await target.publish([event]);
      if (result.failures.length > 0)
        throw new HandlersFailedError(
          event,
          result.failures.map((f) => f.error),
        );
      return result.delivered > 0;
    };
  }
  if (typeof target === "function") {
    return async (event) => {
      await target(event);
      return true;
    };
  }
  if (typeof target === "object" && target !== null && !Array.isArray(target)) {
    const byType = new Map<string, readonly EventHandler[]>();
    for (const [type, handlers] of Object.entries(target)) {
      const list = typeof handlers === "function" ? [handlers] : handlers;
      if (!Array.isArray(list) || list.some((h) => typeof h !== "function")) {
        throw new ValidationError("Invalid SQS consumer", [
          { path: ["handlers", type], message: "a handler must be a function or a list of functions" },
        ]);
      }
      byType.set(type, list as readonly EventHandler[]);
    }
    return async (event) => {
      const handlers = byType.get(event.type);
      // An empty list takes the type no more than a missing one: unhandled, as the docs define it.
      if (handlers === undefined || handlers.length === 0) return false;
      // Every handler runs even if one fails, as on an event bus. A redelivery runs them all again:
      // handlers must be idempotent, the dedup store only skips events handled in full.
      const errors: unknown[] = [];
      for (const handler of handlers) {
        try {
          await handler(event);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new HandlersFailedError(event, errors);
      return true;
    };
  }
  throw new ValidationError("Invalid SQS consumer", [
    { path: ["handlers"], message: "handlers must be an EventBus, a function, or an object of handlers by type" },
  ]);
}

/**
 * What TypeScript says of the options, for JavaScript callers: a dedup store, mapping or registry
 * of the wrong kind would otherwise fail every message with a TypeError, redelivered until the
 * queue's redrive gives up on the lot.
 */
const CONSUMER_OPTIONS = Object.keys({
  handlers: true,
  mapping: true,
  dedup: true,
  fifo: true,
  onFailure: true,
  eventRegistry: true,
  telemetry: true,
} satisfies Record<keyof SqsEventConsumerOptions, true>);

function assertOptionKinds(options: SqsEventConsumerOptions): void {
  const has = (value: unknown, ...methods: string[]) =>
    typeof value === "object" &&
    value !== null &&
    methods.every((method) => typeof (value as Record<string, unknown>)[method] === "function");
  const kinds: [keyof SqsEventConsumerOptions, boolean, string][] = [
    [
      "dedup",
      options.dedup === undefined || options.dedup === false || has(options.dedup, "has", "add"),
      "a DedupStore or false",
    ],
    ["mapping", options.mapping === undefined || has(options.mapping, "toEntry", "fromEvent"), "an EventBridgeMapping"],
    [
      "eventRegistry",
      options.eventRegistry === undefined || has(options.eventRegistry, "upcastEvent", "check"),
      "an EventRegistry",
    ],
    ["fifo", options.fifo === undefined || typeof options.fifo === "boolean", "a boolean"],
    ["onFailure", options.onFailure === undefined || typeof options.onFailure === "function", "a function"],
    ["telemetry", options.telemetry === undefined || typeof options.telemetry === "boolean", "a boolean"],
  ];
  // A misspelt `dedupe` left the default in-memory store deduplicating, not the one given.
  const issues = [
    ...unknownKeyIssues(options, CONSUMER_OPTIONS),
    ...kinds.flatMap(([name, ok, what]) => (ok ? [] : [{ path: [name], message: `${name} must be ${what}` }])),
  ];
  if (issues.length > 0) throw new ValidationError("Invalid SQS consumer", issues);
}

function defaultOnFailure(failure: MessageFailure): void {
  getLogger().error(`SQS message ${failure.messageId} failed`, {
    messageId: failure.messageId,
    ...eventFields(failure.event),
    error: failure.error,
  });
}
