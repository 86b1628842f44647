import {
  assertFunction,
  assertKnownOptions,
  type EventEnvelope,
  type LiveFilter,
  type StoreSubscription,
  type SubscribeToAllOptions,
  ValidationError,
} from "../../src/index.js";
import { ackMessage, LIVE_PING } from "./live-protocol.js";
import { badReply, fromWireError, isWireReply } from "./object-wire.js";

/** The client's end of a WebSocket in workerd (`response.webSocket`). */
export interface ClientWebSocketLike {
  accept(): void;
  send(message: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close" | "error", listener: () => void): void;
}

/** How a live subscription is followed: {@link SubscribeToAllOptions} without polling, and a filter. */
export type SubscribeLiveOptions<E extends EventEnvelope = EventEnvelope> = Omit<
  SubscribeToAllOptions<E>,
  "pollIntervalMs" | "batchSize"
> & {
  /** Only the events of these streams, categories or types (the object filters before sending). */
  readonly filter?: LiveFilter;
};

type Expand = (stored: EventEnvelope) => EventEnvelope | readonly EventEnvelope[];

const LIVE_OPTIONS = [
  "handler",
  "after",
  "retryDelayMs",
  "onError",
  "signal",
  "name",
  "telemetry",
  "filter",
] as const satisfies readonly (keyof SubscribeLiveOptions)[];

/**
 * Follows an object's feed over a WebSocket the object pushes events into. Events are handled one
 * at a time in the order they arrive, which is global-position order; one already handled (at or
 * below `position`) is skipped. A handler that throws, or a connection that drops, closes the
 * socket and connects again after `retryDelayMs` from the last handled position, so the failed
 * event comes again: at least once, in order, never skipping. It speaks the object's flow control:
 * an acknowledgement after every `ackEvery` events handled, a ping every `pingMs` (both from the
 * object's `open` message), and a connection silent for three pings counts as dropped.
 */
export function startLiveSubscription(
  connect: (after: number) => Promise<ClientWebSocketLike>,
  options: SubscribeLiveOptions,
  expand: Expand | undefined,
  decrypt?: (stored: EventEnvelope) => Promise<EventEnvelope>,
): StoreSubscription {
  // As subscribeToAll refuses one: a misspelt `retryDelay` kept the default, and `pollIntervalMs` (a
  // polling option, which a pushed stream has no use for) was taken without a word.
  assertKnownOptions(options, LIVE_OPTIONS, "subscription");
  assertFunction(options?.handler, "handler", "subscription");
  // Only a missing key takes its default, as in subscribeToAll: `after: null` (a checkpoint read back
  // as NULL) would follow the feed from its start.
  const after = options.after === undefined ? 0 : options.after;
  const retryDelayMs = options.retryDelayMs === undefined ? 1000 : options.retryDelayMs;
  for (const [name, value, max] of [
    ["after", after, Number.MAX_SAFE_INTEGER],
    ["retryDelayMs", retryDelayMs, 3_600_000],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > max) {
      throw new ValidationError("Invalid subscription", [
        { path: [name], message: `${name} must be an integer from 0 to ${max}` },
      ]);
    }
  }
  const onError =
    options.onError ?? ((error: unknown) => console.error("[eventflows] live subscription failed", error));

  let position = after;
  let stopped = false;
  let socket: ClientWebSocketLike | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The handling in progress: stop() waits for it. */
  let handling: Promise<void> = Promise.resolve();
  /** Each connection's number: messages and closes of a connection given up on are ignored. */
  let generation = 0;

  const handle = async (stored: EventEnvelope) => {
    if ((stored.globalPosition ?? 0) <= position) return;
    // Personal fields are decrypted before upcasting, as on every other read path; a failure is handled
    // as a handler's: reported, and the event comes again on the next connection.
    const plain = decrypt === undefined ? stored : await decrypt(stored);
    const expanded = expand === undefined ? plain : expand(plain);
    for (const event of Array.isArray(expanded) ? expanded : [expanded as EventEnvelope]) {
      await options.handler(event);
    }
    position = stored.globalPosition ?? position;
  };

  const reconnectLater = (current: number) => {
    if (stopped || current !== generation) return;
    generation += 1;
    socket?.close(1000, "reconnecting");
    socket = undefined;
    retryTimer = setTimeout(open, retryDelayMs);
  };

  async function open(): Promise<void> {
    retryTimer = undefined;
    if (stopped) return;
    const current = ++generation;
    let opened: ClientWebSocketLike;
    try {
      opened = await connect(position);
    } catch (error) {
      onError(error, undefined);
      return reconnectLater(current);
    }
    if (stopped || current !== generation) {
      opened.close(1000, "stopped");
      return;
    }
    socket = opened;
    /** Events received on this connection and handled; acknowledged every `ackEvery`. */
    let received = 0;
    let ackEvery = 0;
    let pinger: ReturnType<typeof setInterval> | undefined;
    let lastHeard = Date.now();
    const send = (message: string) => {
      try {
        opened.send(message);
      } catch {
        // closing: the close listener reconnects
      }
    };
    opened.addEventListener("message", ({ data }) => {
      lastHeard = Date.now();
      handling = handling.then(async () => {
        if (stopped || current !== generation) return;
        let event: EventEnvelope | undefined;
        try {
          // `{"kind":"event","event":…}`; `open` sets the flow control; a heartbeat carries nothing.
          const message = JSON.parse(String(data)) as {
            kind?: string;
            event?: EventEnvelope;
            error?: unknown;
            ackEvery?: unknown;
            pingMs?: unknown;
          };
          if (message.kind === "open") {
            if (Number.isSafeInteger(message.ackEvery)) ackEvery = message.ackEvery as number;
            const pingMs = message.pingMs;
            if (pinger === undefined && Number.isSafeInteger(pingMs) && (pingMs as number) > 0) {
              pinger = setInterval(() => {
                // A connection given up on (stopped, reconnecting) stops its own pinger.
                if (stopped || current !== generation) return void clearInterval(pinger);
                if (Date.now() - lastHeard > 3 * (pingMs as number)) return void dropped();
                send(LIVE_PING);
              }, pingMs as number);
            }
            return;
          }
          // The object could not read what comes next (`LiveSubscribers` closes the socket after it):
          // its typed error goes to onError, and the subscription connects again from its position.
          if (message.kind === "error") {
            const reply = { ok: false, error: message.error };
            throw isWireReply(reply) && !reply.ok ? fromWireError(reply.error) : badReply("subscribe");
          }
          if (message.kind !== "event" || message.event === undefined) return;
          event = message.event;
          await handle(event);
          received += 1;
          if (ackEvery > 0 && received % ackEvery === 0) send(ackMessage(received));
        } catch (error) {
          onError(error, event);
          reconnectLater(current);
        }
      });
    });
    const dropped = () => {
      if (pinger !== undefined) clearInterval(pinger);
      pinger = undefined;
      handling = handling.then(() => reconnectLater(current));
    };
    opened.addEventListener("close", dropped);
    opened.addEventListener("error", dropped);
    opened.accept();
  }

  const abort = () => void subscription.stop();
  options.signal?.addEventListener("abort", abort, { once: true });
  const subscription: StoreSubscription = {
    get position() {
      return position;
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        options.signal?.removeEventListener("abort", abort);
        if (retryTimer !== undefined) clearTimeout(retryTimer);
        socket?.close(1000, "stopped");
        socket = undefined;
      }
      await handling;
    },
  };
  if (options.signal?.aborted) void subscription.stop();
  else void open();
  return subscription;
}
