import { ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import {
  assertDelayMs,
  assertFunction,
  assertKnownOptions,
  assertNonNegativeInteger,
  assertPositiveInteger,
  kindOf,
} from "../internal/validate.js";
import { eventFields, getLogger } from "../logging/library-logger.js";
import { processEvent } from "../telemetry/consumer-spans.js";
import { countConsumed, recordSubscriptionLag } from "../telemetry/metrics.js";
import { activeTracer } from "../telemetry/tracer.js";
import { readablePosition } from "./readable.js";
import type { ReadAllOptions } from "./types.js";

export interface SubscribeToAllOptions<E extends EventEnvelope = EventEnvelope> {
  /**
   * Handles one event. The subscription waits for it before the next; a throw retries this event.
   * Type it with the envelope union the store holds (`EnvelopeOf<AppEvent>`) to switch on `event.type`.
   */
  readonly handler: (event: E) => void | Promise<void>;
  /** The checkpoint: start after this global position. Defaults to 0, the beginning. */
  readonly after?: number;
  /** Events read per query. Defaults to 100. */
  readonly batchSize?: number;
  /** How often to look for events appended elsewhere (other processes). Defaults to 500 ms. */
  readonly pollIntervalMs?: number;
  /** Wait before retrying an event whose handler threw. Defaults to 1,000 ms. */
  readonly retryDelayMs?: number;
  /** Told about every handler failure and read failure. Defaults to an error line on the library's logger. */
  readonly onError?: (error: unknown, event: EventEnvelope | undefined) => void;
  readonly signal?: AbortSignal;
  /**
   * Names the subscription in metrics (the `eventflows.subscription` label of its lag; defaults to
   * `"subscribeToAll"`), in spans (`messaging.consumer.group.name`) and in log lines. Name it in
   * code, never from data: each name is a time series.
   */
  readonly name?: string;
  /**
   * `false` turns this subscription's spans off. Defaults to true: each handled event gets a
   * `process <type>` span that continues the trace the event carries, whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

/** @internal The keys `subscribeToAll` takes: a store (or one wrapping it) checks them before it reads a field. */
export const SUBSCRIBE_TO_ALL_OPTIONS = [
  "handler",
  "after",
  "batchSize",
  "pollIntervalMs",
  "retryDelayMs",
  "onError",
  "signal",
  "name",
  "telemetry",
] as const satisfies readonly (keyof SubscribeToAllOptions)[];

export interface StoreSubscription {
  /** The global position of the last event handled. */
  readonly position: number;
  /**
   * Stops after the event in hand (if any) is handled; resolves when the loop has ended. A handler
   * stopping its own subscription must not await this: it would wait for itself.
   */
  stop(): Promise<void>;
}

interface FeedSource {
  readonly capabilities: { readonly globalOrder: boolean };
  readAll(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined>;
  /** The newest position the feed's readers reach now (see `readablePosition`). */
  getLastGlobalPosition?(): Promise<number>;
}

/** What the store makes of one stored event before handlers see it (upcasting): one or several events. */
export type ExpandEvent = (stored: EventEnvelope) => EventEnvelope | readonly EventEnvelope[];

/** What a subscription without `onError` does with a failure: an error line on the library's logger. */
export function logSubscriptionError(
  name: string | undefined,
): (error: unknown, event: EventEnvelope | undefined) => void {
  return (error, event) =>
    getLogger().error(event === undefined ? "subscription read failed" : "subscription handler failed", {
      ...eventFields(event),
      ...(name === undefined ? {} : { subscription: name }),
      error,
    });
}

/**
 * `source.readAll` yields events as stored; `expand` (upcasting) turns each into what handlers see.
 * The checkpoint advances per stored event, once every event it expanded into is handled, so a
 * split event is never half handled across a restart.
 */
export function startSubscription(
  source: FeedSource,
  options: SubscribeToAllOptions,
  register: (wake: (committed?: number) => void) => () => void,
  expand?: ExpandEvent,
): StoreSubscription {
  if (!source.capabilities.globalOrder) {
    throw new ValidationError("This store has no global order to subscribe to");
  }
  // A misspelt key was dropped and its default taken: `from: 500` replayed the feed from the beginning.
  assertKnownOptions(options, SUBSCRIBE_TO_ALL_OPTIONS, "subscription");
  assertFunction(options?.handler, "handler", "subscription");
  // Only a missing key takes the default, as readAll's `after` and the delays: `after: null` (a checkpoint
  // column read back as NULL) replayed the whole feed from the beginning.
  const after = options.after === undefined ? 0 : options.after;
  assertNonNegativeInteger(after, "after");
  const batchSize = options.batchSize === undefined ? 100 : options.batchSize;
  assertPositiveInteger(batchSize, "batchSize");
  const pollIntervalMs = options.pollIntervalMs === undefined ? 500 : options.pollIntervalMs;
  assertDelayMs(pollIntervalMs, "pollIntervalMs", "Invalid subscription");
  const retryDelayMs = options.retryDelayMs === undefined ? 1000 : options.retryDelayMs;
  assertDelayMs(retryDelayMs, "retryDelayMs", "Invalid subscription");
  assertFunction(options.onError, "onError", "subscription", false);
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0)) {
    throw new ValidationError("Invalid subscription", [
      { path: ["name"], message: `must be a non-empty string, got ${kindOf(options.name)}` },
    ]);
  }
  // As the store's own `telemetry` option is checked: "false" (a string) would leave spans on unnoticed.
  if (options.telemetry !== undefined && typeof options.telemetry !== "boolean") {
    throw new ValidationError("Invalid subscription", [
      { path: ["telemetry"], message: `must be a boolean, got ${kindOf(options.telemetry)}` },
    ]);
  }
  const signal = options.signal;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function")
  ) {
    throw new ValidationError("Invalid subscription", [
      { path: ["signal"], message: `must be an AbortSignal, got ${kindOf(signal)}` },
    ]);
  }
  const name = options.name ?? "subscribeToAll";
  const report = options.onError ?? logSubscriptionError(options.name);
  // An onError that throws is logged: it must neither end the loop nor reject stop().
  const onError = (error: unknown, event: EventEnvelope | undefined) => callHook("onError", report, error, event);
  const traced = options.telemetry !== false;

  let position = after;
  // A signal that has fired already: the subscription starts stopped, and reads nothing.
  let stopped = signal?.aborted === true;
  let dirty = false;
  // The highest position a wake-up told of since the last read began: an event committed through the
  // store, which a read may not reach yet (PostgreSQL's readers stop below transactions in flight).
  let committed = 0;
  let wakeNow: (() => void) | undefined;
  const wake = (position?: number) => {
    dirty = true;
    if (position !== undefined && position > committed) committed = position;
    wakeNow?.();
  };
  const unregister = stopped ? () => false : register(wake);
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (dirty || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeNow = undefined;
        resolve();
      }
      wakeNow = done;
    });

  const loop = (async () => {
    while (!stopped) {
      dirty = false;
      let handled = 0;
      let failed = false;
      let last: EventEnvelope | undefined;
      try {
        for await (const stored of source.readAll({ after: position, maxCount: batchSize })) {
          if (stopped) break;
          let event = stored;
          try {
            const expanded = expand === undefined ? stored : expand(stored);
            const tracer = traced ? activeTracer() : undefined;
            const handle = (each: EventEnvelope) =>
              tracer === undefined
                ? options.handler(each)
                : processEvent(tracer, each, "eventflows", options.name, () => options.handler(each), true);
            if (isList(expanded)) {
              for (const each of expanded) {
                event = each;
                await handle(each);
                countConsumed("subscription", each);
              }
            } else {
              event = expanded;
              await handle(expanded);
              countConsumed("subscription", expanded);
            }
          } catch (error) {
            countConsumed("subscription", event, { error });
            onError(error, event);
            failed = true;
            break;
          }
          position = stored.globalPosition ?? position;
          last = stored;
          handled++;
        }
      } catch (error) {
        onError(error, undefined);
        failed = true;
      }
      recordSubscriptionLag(name, last, !failed && handled < batchSize);
      if (committed <= position) committed = 0; // reached (or none told of)
      if (failed) {
        dirty = false;
        await pause(retryDelayMs);
      } else if (handled < batchSize && committed > 0 && source.getLastGlobalPosition !== undefined) {
        // Woken for an event the read did not reach: a transaction in flight elsewhere hides it. Read
        // again as soon as it is readable (short polls of the readers' bound) rather than at the next
        // poll; for at most pollIntervalMs, as the poll would wait, and a wake-up or stop() ends the
        // wait sooner. Past that, back to polling: a transaction left open may hide it for long.
        try {
          await readablePosition(
            source as Required<FeedSource>,
            committed,
            Date.now() + pollIntervalMs,
            () => stopped || dirty,
          );
        } catch {
          await pause(pollIntervalMs); // the next read reports the failure
        }
        // Told once: the next read goes as far as readers reach (an event it then skips, of a stream
        // deleted meanwhile, say, is not waited for again). A wake-up during the wait tells anew.
        if (!dirty) committed = 0;
      } else if (handled < batchSize) await pause(pollIntervalMs);
    }
  })();

  const onAbort = () => void stop();
  const stop = async () => {
    stopped = true;
    // A signal often outlives its subscriptions (one shutdown signal for a process): left on it, the
    // listener would hold every stopped subscription's loop and handler until the signal fires.
    signal?.removeEventListener?.("abort", onAbort);
    wakeNow?.();
    unregister();
    await loop;
  };
  if (!stopped) signal?.addEventListener("abort", onAbort, { once: true });

  return {
    get position() {
      return position;
    },
    stop,
  };
}

function isList(value: EventEnvelope | readonly EventEnvelope[]): value is readonly EventEnvelope[] {
  return Array.isArray(value);
}
