import {
  checkFilter,
  type EventEnvelope,
  type EventStore,
  type LiveFilter,
  matchesFilter,
  ValidationError,
} from "../../src/index.js";

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
}

export interface LiveSubscribersOptions {
  /** Events read from the store per query while catching a subscriber up. Defaults to 100. */
  readonly batchSize?: number;
}

/** Tags the object's sockets that are live subscriptions (the object may hold other sockets). */
const TAG = "eventflows-live";

/**
 * What each socket carries across hibernation: the position of the last event sent to it (or
 * passed over by its filter), and its filter.
 */
interface Attachment {
  readonly position: number;
  readonly filter?: LiveFilter;
}

type WebSocketPairLike = new () => { 0: HibernatableWebSocketLike; 1: HibernatableWebSocketLike };

/**
 * Pushes a Durable Object's new events to its live subscribers over WebSockets accepted with the
 * hibernation API: while nothing is appended the object may be evicted from memory and the
 * subscribers stay connected, at no duration cost. Each socket remembers (in its attachment) the
 * position of the last event sent to it, so a delivery after hibernation, or one racing a
 * subscriber's catch-up, sends every socket exactly the events after that position, in order.
 * Make one per object, over the store it serves, and pass it to {@link handleEventStoreRequest}.
 */
export class LiveSubscribers {
  readonly #ctx: DurableObjectStateLike;
  readonly #store: EventStore;
  readonly #batchSize: number;
  /** Deliveries run one after another, so two never send the same socket the same event. */
  #delivering: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectStateLike, store: EventStore, options: LiveSubscribersOptions = {}) {
    if (typeof ctx?.acceptWebSocket !== "function" || typeof ctx.getWebSockets !== "function") {
      throw new ValidationError("Invalid live subscribers options", [
        { path: ["ctx"], message: "ctx must be the Durable Object's state (this.ctx), with the WebSocket API" },
      ]);
    }
    const batchSize = options.batchSize ?? 100;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw new ValidationError("Invalid live subscribers options", [
        { path: ["batchSize"], message: "batchSize must be an integer from 1 to 10,000" },
      ]);
    }
    this.#ctx = ctx;
    this.#store = store;
    this.#batchSize = batchSize;
  }

  /** How many subscribers are connected. */
  get count(): number {
    return this.#ctx.getWebSockets(TAG).length;
  }

  /**
   * Accepts a subscriber (a WebSocket upgrade request) starting after the global position `after`,
   * and starts sending it what it missed: the events `filter` matches (all without one), each as a
   * `{"kind":"event","event":…}` message, the format of the Hono live routes, so a Worker can pass
   * a browser's upgrade (after its auth hook) straight to the object.
   * @throws {ValidationError} not an upgrade request, `after` is not a non-negative integer, a bad filter.
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
    const pair = new Pair();
    const server = pair[1];
    this.#ctx.acceptWebSocket(server, [TAG]);
    server.serializeAttachment({
      position: after,
      ...(checked === undefined ? {} : { filter: checked }),
    } satisfies Attachment);
    this.notify();
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
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
    // Subscribers at the same position share one read.
    const pages = new Map<number, Promise<EventEnvelope[]>>();
    const page = (after: number) => {
      let read = pages.get(after);
      if (read === undefined) {
        read = collect(this.#store.readAll({ after, maxCount: this.#batchSize, raw: true }));
        pages.set(after, read);
      }
      return read;
    };
    for (const socket of this.#ctx.getWebSockets(TAG)) {
      const attachment = attachmentOf(socket);
      const filter = attachment.filter;
      let position = attachment.position;
      for (;;) {
        const events = await page(position);
        if (events.length === 0) break;
        try {
          // Events go as stored: the client upcasts them with its own registry, as it does reads.
          for (const event of events) {
            if (filter === undefined || matchesFilter(filter, event))
              socket.send(JSON.stringify({ kind: "event", event }));
          }
        } catch {
          break; // closed meanwhile: the subscriber reconnects from the position it handled
        }
        position = events[events.length - 1]?.globalPosition ?? position;
        socket.serializeAttachment({ position, ...(filter === undefined ? {} : { filter }) } satisfies Attachment);
        if (events.length < this.#batchSize) break;
      }
    }
  }
}

function attachmentOf(socket: HibernatableWebSocketLike): Attachment {
  return (socket.deserializeAttachment() as Attachment | null) ?? { position: 0 };
}

async function collect(events: AsyncIterable<EventEnvelope>): Promise<EventEnvelope[]> {
  const list: EventEnvelope[] = [];
  for await (const event of events) list.push(event);
  return list;
}

function logDeliveryFailure(error: unknown): void {
  // Stored events are not lost: the next append delivers again from each socket's position.
  console.error("[eventflows] pushing events to live subscribers failed", error);
}
