import {
  assertKnownOptions,
  checkFilter,
  type EventEnvelope,
  type EventStore,
  type LiveFilter,
  matchesFilter,
  TooManyLiveClientsError,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { LIVE_HEARTBEAT, LIVE_PING, parseClientMessage } from "./live-protocol.js";
import { toWireError } from "./object-wire.js";

/** A WebSocket as workerd gives it to a Durable Object under the hibernation API. */
export interface HibernatableWebSocketLike {
  send(message: string): void;
  close(code?: number, reason?: string): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

/** The part of a Durable Object's `ctx` (DurableObjectState) live subscriptions use. */
export interface DurableObjectStateLike {
  acceptWebSocket(socket: HibernatableWebSocketLike, tags?: string[]): void;
  getWebSockets(tag?: string): HibernatableWebSocketLike[];
  /** workerd's: answers a request message with a response message without waking the object. */
  setWebSocketAutoResponse?(pair?: unknown): void;
}

export interface LiveSubscribersOptions {
  /** Events read from the store per query while catching a subscriber up. Defaults to 100. */
  readonly batchSize?: number;
  /**
   * How much one such read holds: its events' messages, in UTF-8 bytes of JSON (as sent). It ends before the
   * event that would pass this (one larger event goes alone), so a delivery's memory is bounded
   * whatever the events' sizes. Defaults to 4 MiB.
   */
  readonly maxBatchBytes?: number;
  /**
   * Subscribers connected at once; one more is refused with {@link TooManyLiveClientsError}
   * (`handleEventStoreRequest` answers 503 with `Retry-After`). Defaults to 1,000.
   */
  readonly maxSubscribers?: number;
  /**
   * Events sent to a subscriber that it has not acknowledged yet. A subscriber at this bound is sent
   * nothing more until it acknowledges (the store holds what it has not been sent: no memory grows);
   * one that stays there `ackTimeoutMs` is closed with 4008 `slow-consumer`. Defaults to 1,000.
   */
  readonly maxUnacknowledged?: number;
  /** How long a subscriber may leave a full window unacknowledged before it is dropped, in ms. Defaults to 10,000. */
  readonly ackTimeoutMs?: number;
  /** How often subscribers are asked to ping (the `open` message's `pingMs`), in ms. Defaults to 10,000. */
  readonly pingMs?: number;
}

/** Tags the object's sockets that are live subscriptions (the object may hold other sockets). */
const TAG = "eventflows-live";

/**
 * What each socket carries across hibernation: the position of the last event sent to it (or
 * passed over by its filter), its filter, how many events it was sent and has acknowledged on this
 * connection, and, while its window is full, since when (no acknowledgement has come since).
 */
interface Attachment {
  readonly position: number;
  readonly filter?: LiveFilter;
  readonly sent: number;
  readonly acked: number;
  readonly pausedAt?: number;
}

/** The close code and reason of a subscriber dropped for not keeping up, as the Hono live routes close one. */
const SLOW_CONSUMER = { code: 4008, reason: "slow-consumer" } as const;
/** ... and of one whose events the store failed to read. */
const STORE_FAILED = { code: 1011, reason: "error" } as const;

type PairLike = new (request: string, response: string) => unknown;

type WebSocketPairLike = new () => { 0: HibernatableWebSocketLike; 1: HibernatableWebSocketLike };

const LIVE_SUBSCRIBERS_OPTIONS = Object.keys({
  batchSize: true,
  maxBatchBytes: true,
  maxSubscribers: true,
  maxUnacknowledged: true,
  ackTimeoutMs: true,
  pingMs: true,
} satisfies Record<keyof LiveSubscribersOptions, true>);

/**
 * Pushes a Durable Object's new events to its live subscribers over WebSockets accepted with the
 * hibernation API: while nothing is appended the object may be evicted from memory and the
 * subscribers stay connected, at no duration cost. Each socket remembers (in its attachment) the
 * position of the last event sent to it, so a delivery after hibernation, or one racing a
 * subscriber's catch-up, sends every socket exactly the events after that position, in order.
 * Make one per object, over the store it serves, and pass it to {@link handleEventStoreRequest};
 * forward the object's `webSocketMessage` to {@link LiveSubscribers.message}.
 *
 * Flow control: workerd's server-side WebSocket tells nothing of what it has not sent yet (no
 * `bufferedAmount`), so the bound is the client's acknowledgements. The `open` message gives
 * `ackEvery`; the client answers `{"kind":"ack","received":n}` (events received on this connection)
 * after handling that many. A subscriber `maxUnacknowledged` events behind is paused (the store, not
 * memory, holds the rest) and, if it stays silent `ackTimeoutMs` from then, dropped with 4008 `slow-consumer`.
 */
export class LiveSubscribers {
  readonly #ctx: DurableObjectStateLike;
  readonly #store: EventStore;
  readonly #batchSize: number;
  readonly #maxBatchBytes: number;
  readonly #maxSubscribers: number;
  readonly #window: number;
  readonly #ackTimeoutMs: number;
  readonly #pingMs: number;
  /** Deliveries run one after another, so two never send the same socket the same event. */
  #delivering: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectStateLike, store: EventStore, given?: LiveSubscribersOptions | null) {
    const options = given ?? {};
    if (typeof ctx?.acceptWebSocket !== "function" || typeof ctx.getWebSockets !== "function") {
      throw new ValidationError("Invalid live subscribers options", [
        { path: ["ctx"], message: "ctx must be the Durable Object's state (this.ctx), with the WebSocket API" },
      ]);
    }
    // A misspelt `maxSubscriber` kept the default limit without a word.
    assertKnownOptions(given, LIVE_SUBSCRIBERS_OPTIONS, "live subscribers options");
    const limits = [
      ["batchSize", options.batchSize ?? 100, 10_000],
      ["maxBatchBytes", options.maxBatchBytes ?? 4 * 1024 * 1024, 1024 * 1024 * 1024],
      ["maxSubscribers", options.maxSubscribers ?? 1000, 32_768],
      ["maxUnacknowledged", options.maxUnacknowledged ?? 1000, 1_000_000],
      ["ackTimeoutMs", options.ackTimeoutMs ?? 10_000, 3_600_000],
      ["pingMs", options.pingMs ?? 10_000, 3_600_000],
    ] as const;
    const issues = limits
      .filter(([, value, max]) => !Number.isSafeInteger(value) || value < 1 || value > max)
      .map(([name, , max]) => ({
        path: [name],
        message: `${name} must be an integer from 1 to ${max.toLocaleString("en")}`,
      }));
    if (issues.length > 0) throw new ValidationError("Invalid live subscribers options", issues);
    this.#ctx = ctx;
    this.#store = store;
    [this.#batchSize, this.#maxBatchBytes, this.#maxSubscribers, this.#window, this.#ackTimeoutMs, this.#pingMs] =
      limits.map(([, value]) => value) as [number, number, number, number, number, number];
    // Heartbeats without waking the object: the runtime itself answers a subscriber's ping, even
    // while the object hibernates. A server-sent heartbeat would need an alarm that wakes the object
    // every few seconds for as long as anyone is connected, billed as duration: the cost hibernation
    // exists to avoid. The client pings every `pingMs` and counts a silent connection as dropped.
    const Pair = (globalThis as { WebSocketRequestResponsePair?: PairLike }).WebSocketRequestResponsePair;
    if (Pair !== undefined) ctx.setWebSocketAutoResponse?.(new Pair(LIVE_PING, LIVE_HEARTBEAT));
  }

  /** How many subscribers are connected. */
  get count(): number {
    return this.#ctx.getWebSockets(TAG).length;
  }

  /**
   * Accepts a subscriber (a WebSocket upgrade request) starting after the global position `after`,
   * and starts sending it what it missed: the events `filter` matches (all without one), each as a
   * `{"kind":"event","event":…}` message, the format of the Hono live routes, so a Worker can pass
   * a browser's upgrade (after its auth hook) straight to the object. The first message is
   * `{"kind":"open","position":after,"ackEvery":…,"pingMs":…}`.
   * @throws {ValidationError} not an upgrade request, `after` is not a non-negative integer, a bad filter.
   * @throws {TooManyLiveClientsError} `maxSubscribers` are connected.
   */
  accept(request: Request, after: number, filter?: LiveFilter): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      throw new ValidationError("Invalid subscription request", [
        { path: [], message: "subscribe with a WebSocket upgrade (Upgrade: websocket)" },
      ]);
    }
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new ValidationError("Invalid subscription request", [
        { path: ["after"], message: "after must be a non-negative integer" },
      ]);
    }
    const checked = filter === undefined ? undefined : checkFilter(filter);
    const Pair = (globalThis as { WebSocketPair?: WebSocketPairLike }).WebSocketPair;
    if (Pair === undefined) {
      throw new ValidationError("Live subscriptions need workerd", [
        { path: [], message: "WebSocketPair is not available in this runtime" },
      ]);
    }
    if (this.count >= this.#maxSubscribers) throw new TooManyLiveClientsError(this.#maxSubscribers);
    const pair = new Pair();
    const server = pair[1];
    // Before the socket is accepted: an attachment the runtime refuses (workerd keeps 2,048 bytes a
    // socket) refuses the subscription, instead of leaving an accepted socket no one holds.
    try {
      server.serializeAttachment({
        position: after,
        ...(checked === undefined ? {} : { filter: checked }),
        sent: 0,
        acked: 0,
      } satisfies Attachment);
    } catch {
      throw new ValidationError("Invalid subscription request", [
        {
          path: ["filter"],
          message:
            "the filter is too large for the socket's attachment (2,048 bytes on workerd): list fewer or shorter entries",
        },
      ]);
    }
    this.#ctx.acceptWebSocket(server, [TAG]);
    // Acknowledging every half window keeps a client that keeps up from ever being paused.
    const ackEvery = Math.max(1, Math.floor(this.#window / 2));
    server.send(JSON.stringify({ kind: "open", position: after, ackEvery, pingMs: this.#pingMs }));
    this.notify();
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
  }

  /**
   * A message from a subscriber (call it from the object's `webSocketMessage`): an acknowledgement
   * moves its window, and sends it more if it was paused. Returns false for a socket or message
   * that is not a live subscription's, so the object can handle its own.
   */
  message(socket: HibernatableWebSocketLike, data: string | ArrayBuffer): boolean {
    const attachment = socket.deserializeAttachment() as Attachment | null;
    const received = parseClientMessage(data);
    if (attachment === null || typeof attachment.sent !== "number" || received === undefined) return false;
    // A count the server never sent is a client's mistake: it must not open the window wider.
    const acked = Math.min(attachment.sent, Math.max(attachment.acked, received));
    // One that acknowledges nothing new is no acknowledgement: a paused client repeating it must
    // neither put off its ackTimeoutMs nor start a delivery to every subscriber with each message.
    if (acked === attachment.acked) return true;
    // Not paused any more: the clock starts again when its window next fills.
    const { pausedAt: _, ...moving } = attachment;
    socket.serializeAttachment({ ...moving, acked } satisfies Attachment);
    if (attachment.sent - attachment.acked >= this.#window) this.notify();
    return true;
  }

  /**
   * Starts a delivery without waiting for it; a failure is logged, and the next delivery sends
   * again from each subscriber's position. {@link handleEventStoreRequest} calls it after each append.
   */
  notify(): void {
    this.deliver().catch(logDeliveryFailure);
  }

  /**
   * Sends every subscriber the events after its position, and resolves when they are sent. Call it
   * (or {@link LiveSubscribers.notify}) after appending to the store another way than through
   * {@link handleEventStoreRequest}.
   */
  deliver(): Promise<void> {
    const run = this.#delivering.then(() => this.#deliverAll());
    this.#delivering = run.catch(() => {});
    return run;
  }

  async #deliverAll(): Promise<void> {
    // Subscribers at the same position share one read, and each event's message is made once.
    const pages = new Map<number, Promise<Batch>>();
    const page = (after: number) => {
      let read = pages.get(after);
      if (read === undefined) {
        read = batchOf(this.#store.readAll({ after, maxCount: this.#batchSize, raw: true }), this.#maxBatchBytes);
        pages.set(after, read);
      }
      return read;
    };
    for (const socket of this.#ctx.getWebSockets(TAG)) {
      const start = attachmentOf(socket);
      const { filter, acked, pausedAt } = start;
      let { position, sent } = start;
      let paused = false;
      let failed = false;
      for (;;) {
        let batch: Batch;
        try {
          batch = await page(position);
        } catch (error) {
          // An event after its position cannot be read (a row another tool wrote, say): this subscriber
          // is told and ended, the others go on; it reconnects from its position and meets it again.
          endWithError(socket, error);
          failed = true;
          break;
        }
        if (batch.events.length === 0) break;
        try {
          // Events go as stored: the client upcasts them with its own registry, as it does reads.
          for (const [event, message] of batch.events) {
            if (filter === undefined || matchesFilter(filter, event)) {
              if (sent - acked >= this.#window) {
                paused = true;
                break;
              }
              socket.send(message);
              sent += 1;
            }
            position = event.globalPosition ?? position;
          }
        } catch {
          break; // closed meanwhile: the subscriber reconnects from the position it handled
        }
        if (paused || !(batch.more || batch.events.length === this.#batchSize)) break;
      }
      if (failed) continue;
      // The clock starts when the window fills, not at the last acknowledgement: after a quiet spell
      // (nothing to acknowledge) a burst filled the window and closed a client that kept up, at once.
      const since = paused ? (pausedAt ?? Date.now()) : undefined;
      socket.serializeAttachment({
        position,
        ...(filter === undefined ? {} : { filter }),
        sent,
        acked,
        ...(since === undefined ? {} : { pausedAt: since }),
      } satisfies Attachment);
      // Full window, no acknowledgement for too long: a client that stopped reading, not one catching up.
      if (paused && pausedAt !== undefined && Date.now() - pausedAt >= this.#ackTimeoutMs) {
        try {
          socket.close(SLOW_CONSUMER.code, SLOW_CONSUMER.reason);
        } catch {
          // already closing
        }
      }
    }
  }
}

/**
 * Ends a subscriber whose events could not be read: an `error` message carrying the typed error as
 * the object's replies carry one (our errors name no internals; anything else is an opaque
 * INTERNAL), then close code 1011 `error`, as the live routes end a stream whose read failed.
 */
function endWithError(socket: HibernatableWebSocketLike, error: unknown): void {
  logDeliveryFailure(error);
  try {
    socket.send(JSON.stringify({ kind: "error", error: toWireError(error, "subscribe") }));
    socket.close(STORE_FAILED.code, STORE_FAILED.reason);
  } catch {
    // already closing
  }
}

function attachmentOf(socket: HibernatableWebSocketLike): Attachment {
  const attachment = socket.deserializeAttachment() as Partial<Attachment> | null;
  return {
    position: attachment?.position ?? 0,
    ...(attachment?.filter === undefined ? {} : { filter: attachment.filter }),
    sent: attachment?.sent ?? 0,
    acked: attachment?.acked ?? 0,
    ...(typeof attachment?.pausedAt === "number" ? { pausedAt: attachment.pausedAt } : {}),
  };
}

/** Events read for a delivery, each with its `event` message; `more` when the byte bound ended the read early. */
interface Batch {
  readonly events: readonly (readonly [EventEnvelope, string])[];
  readonly more: boolean;
}

/** Reads events until the next one's message would pass `maxBytes` UTF-8 bytes (the first always comes). */
async function batchOf(read: AsyncIterable<EventEnvelope>, maxBytes: number): Promise<Batch> {
  const events: [EventEnvelope, string][] = [];
  let size = 0;
  for await (const event of read) {
    const message = JSON.stringify({ kind: "event", event });
    const bytes = utf8Length(message);
    if (events.length > 0 && size + bytes > maxBytes) return { events, more: true };
    events.push([event, message]);
    size += bytes;
  }
  return { events, more: false };
}

function logDeliveryFailure(error: unknown): void {
  // Stored events are not lost: the next append delivers again from each socket's position.
  console.error("[eventflows] pushing events to live subscribers failed", error);
}
