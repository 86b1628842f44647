import { isServiceError, ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { StoreSubscription } from "../event-store/subscription.js";
import type { EventEnvelope } from "../events/envelope.js";
import { morePartsFollow } from "../evolution/split-ids.js";
import { functionIssues, integerOptionIssues, objectIssues, unknownKeyIssues } from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import { LiveHubClosedError, TooManyLiveClientsError } from "./errors.js";
import { type LiveFilter, matchesFilter, readFilter } from "./filter.js";

/**
 * Why a live connection ended: `slow-consumer` (its buffer filled: it read slower than events came),
 * `closed` (closed by the server side's code or the client went away), `shutdown` (the hub closed),
 * `error` (reading the store failed: while catching up, or under the routes serving it).
 */
export type LiveEndReason = "slow-consumer" | "closed" | "shutdown" | "error";

export type LiveItem<E extends EventEnvelope = EventEnvelope> =
  | {
      readonly kind: "event";
      readonly event: E;
      /**
       * True when another part of the same stored event follows (an upcaster split it, and the parts
       * share its global position): the event's position is no resume point yet. A live route names a
       * position to resume after (SSE `id`, a client's `from`) only with the last part it sends.
       */
      readonly more?: true;
    }
  | { readonly kind: "end"; readonly reason: LiveEndReason };

export interface LiveHubOptions {
  /** The store whose feed is fanned out: one `subscribeToAll` for all connections, `readAll` to catch one up. */
  readonly store: EventStore;
  /** Connections served at once; one more is refused with {@link TooManyLiveClientsError}. Defaults to 1,000. */
  readonly maxClients?: number;
  /**
   * Events buffered per connection (after its filter) while it is slower than the feed. A
   * connection whose buffer is full is ended with `slow-consumer`: memory per client never grows
   * past this. Defaults to 1,000.
   */
  readonly bufferSize?: number;
  /** Events read per query while a connection catches up from an older position. Defaults to 100. */
  readonly batchSize?: number;
  /** How often the shared subscription looks for events appended by other processes. Defaults to 500 ms. */
  readonly pollIntervalMs?: number;
}

export interface LiveConnectOptions<E extends EventEnvelope = EventEnvelope> {
  readonly filter?: LiveFilter;
  /** Start after this global position (resume). Absent: only events appended from now on. */
  readonly after?: number;
  /**
   * Per-event authorization: `false` withholds the event from this connection (it is skipped, not
   * an error). Runs in the shared fan-out, so keep it synchronous and cheap: decide what a principal
   * may see when it subscribes, and close over that.
   */
  readonly allow?: (event: E) => boolean;
}

const LIVE_HUB_OPTIONS = [
  "store",
  "maxClients",
  "bufferSize",
  "batchSize",
  "pollIntervalMs",
] as const satisfies readonly (keyof LiveHubOptions)[];
const LIVE_CONNECT_OPTIONS = ["filter", "after", "allow"] as const satisfies readonly (keyof LiveConnectOptions)[];

/** One subscriber's view of the feed: pull its events with `next`, in global order. */
export interface LiveConnection<E extends EventEnvelope = EventEnvelope> {
  /** The global position of the last event this connection has been given (or passed over by its filter). */
  readonly position: number;
  /**
   * The next event, or the end. Resolves `undefined` after `idleMs` without one (send a heartbeat).
   * After an end item every call gives the same end.
   */
  next(idleMs?: number): Promise<LiveItem<E> | undefined>;
  /** Why it ended, once it has (its buffer is freed then); `undefined` while open. */
  readonly ended: LiveEndReason | undefined;
  /** Resolves with the reason when the connection ends: race it against a write that may never drain. */
  readonly done: Promise<LiveEndReason>;
  /** Ends the connection and frees its buffer; a waiting `next` resolves with the end. Idempotent. */
  close(reason?: LiveEndReason): void;
}

/**
 * Fans one store's feed out to many live subscribers: one shared `subscribeToAll` (started with the
 * first connection, stopped with the last), each connection with its filter, its authorization and
 * a bounded buffer. A connection resuming from an older position first catches up through
 * `readAll`, one page at a time as it is read, then joins the shared fan-out.
 */
export class LiveHub {
  readonly #store: EventStore;
  readonly #maxClients: number;
  readonly #bufferSize: number;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #connections = new Set<Connection>();
  readonly #live = new Set<Connection>();
  #subscription: StoreSubscription | undefined;
  #starting: Promise<void> | undefined;
  /** The connection whose call started the shared subscription: its loop runs in that call's context. */
  #owner: Connection | undefined;
  /** Bumped at each start: a stopped subscription's late deliveries are ignored. */
  #generation = 0;
  /** The shared subscription was stopped while connections remained: restart after `#position`. */
  #orphaned = false;
  /** The global position of the last event the shared subscription handed out. */
  #position = 0;
  /** `#position` at the last stall check (see `restartIfStalled`). */
  #checkedAt = -1;
  #lastCheckMs = 0;
  #closed = false;

  constructor(options: LiveHubOptions) {
    if (typeof options?.store?.subscribeToAll !== "function") {
      throw new ValidationError("Invalid live hub options", [
        { path: ["store"], message: "store must be an EventStore" },
      ]);
    }
    const issues = [
      // A misspelt key was dropped and its default served: `maxClient: 10` allowed 1,000 connections.
      ...unknownKeyIssues(options, LIVE_HUB_OPTIONS),
      ...integerOptionIssues(options.maxClients, "maxClients", 1_000_000),
      ...integerOptionIssues(options.bufferSize, "bufferSize", 1_000_000),
      ...integerOptionIssues(options.batchSize, "batchSize", 10_000),
      ...integerOptionIssues(options.pollIntervalMs, "pollIntervalMs", 3_600_000),
    ];
    if (issues.length > 0) throw new ValidationError("Invalid live hub options", issues);
    this.#store = options.store;
    this.#maxClients = options.maxClients ?? 1000;
    this.#bufferSize = options.bufferSize ?? 1000;
    this.#batchSize = options.batchSize ?? 100;
    this.#pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  /** Connections open now. */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Throws what `connect` would now for the hub's own state (closed, or `maxClients` connections
   * open), and connects nothing: for a HEAD request, answered with the status a GET would get.
   * @throws {TooManyLiveClientsError} `maxClients` connections are open.
   * @throws {LiveHubClosedError} the hub is closed.
   */
  assertCanConnect(): void {
    if (this.#closed) throw new LiveHubClosedError();
    if (this.#connections.size >= this.#maxClients) throw new TooManyLiveClientsError(this.#maxClients);
  }

  /**
   * Opens a connection.
   * @throws {TooManyLiveClientsError} `maxClients` connections are open.
   * @throws {LiveHubClosedError} the hub is closed.
   * @throws {ValidationError} options that are not an object, an option key that is none of its own, `after`
   * not a non-negative integer, `allow` not a function, or a `filter` that `checkFilter` refuses.
   */
  async connect<E extends EventEnvelope = EventEnvelope>(
    options: LiveConnectOptions<E> = {},
  ): Promise<LiveConnection<E>> {
    const notObject = objectIssues(options, [], true);
    if (notObject.length > 0) throw new ValidationError("Invalid live subscription", notObject);
    // A misspelt `after` followed new events only; an `allow` that is no function withheld every
    // event; a filter checkFilter refuses matched every event (or, a list given as a string, by substring).
    const filter = options.filter === undefined ? undefined : readFilter(options.filter, ["filter"]);
    const issues = [
      ...unknownKeyIssues(options, LIVE_CONNECT_OPTIONS),
      ...functionIssues(options.allow, "allow"),
      ...(filter?.issues ?? []),
    ];
    if (options.after !== undefined && (!Number.isSafeInteger(options.after) || options.after < 0)) {
      issues.push({ path: ["after"], message: "after must be a non-negative integer" });
    }
    if (issues.length > 0) throw new ValidationError("Invalid live subscription", issues);
    this.assertCanConnect();
    const connection = new Connection(this, {
      ...(filter === undefined ? {} : { filter: filter.checked }),
      ...(options.allow === undefined ? {} : { allow: options.allow as LiveConnectOptions["allow"] }),
    });
    this.#connections.add(connection);
    try {
      await this.#start(connection);
    } catch (error) {
      this.#connections.delete(connection);
      this.#stopIfIdle();
      throw error;
    }
    connection.position = options.after ?? this.#position;
    // At or past the feed: live at once. Behind it: the connection catches up first (see `next`).
    if (connection.position >= this.#position) this.#goLive(connection);
    return connection as unknown as LiveConnection<E>;
  }

  /** Ends every connection (`shutdown`) and stops the shared subscription. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const connection of [...this.#connections]) connection.close("shutdown");
    await this.#stop();
  }

  /** Internal: the connection joins the shared fan-out if it has caught up; true when it did. */
  tryLive(connection: Connection): boolean {
    if (connection.position < this.#position || !this.#connections.has(connection)) return false;
    this.#goLive(connection);
    return true;
  }

  /** Internal: the connection ended. */
  remove(connection: Connection): void {
    this.#connections.delete(connection);
    this.#live.delete(connection);
    if (connection === this.#owner && this.#connections.size > 0 && this.#subscription !== undefined) {
      this.#rehome();
      return;
    }
    this.#stopIfIdle();
  }

  /**
   * Internal: called by a connection about to wait for events, in its own request's context. If
   * the shared subscription was stopped because its owner left, restart it here, after the last
   * position handed out: nothing is lost or repeated.
   */
  resume(connection: Connection): Promise<void> {
    if (!this.#orphaned || this.#closed || !this.#connections.has(connection)) return Promise.resolve();
    return this.#start(connection);
  }

  /**
   * Internal: called by a live connection whose wait for events timed out (its heartbeat), in its
   * own request's context. If the store's head is past what the shared subscription has handed out,
   * and that did not move since the last such check, the subscription is stalled: on workerd its
   * owner's request can be cancelled without the hub ever hearing that the client left (no abort,
   * no body cancel), and the subscription's loop dies with it. Restart it here, after the last
   * position handed out (nothing lost or repeated). True when it was restarted.
   */
  async restartIfStalled(connection: Connection): Promise<boolean> {
    if (this.#subscription === undefined || this.#starting !== undefined || this.#closed) return false;
    // One store read per few poll intervals for the whole hub, however many connections idle.
    const now = Date.now();
    if (now - this.#lastCheckMs < this.#pollIntervalMs * 4) return false;
    this.#lastCheckMs = now;
    const handedOut = this.#position;
    let head: number;
    try {
      head = await this.#store.getLastGlobalPosition();
    } catch (error) {
      // The store is briefly unreachable: that is no stall, and no reason to end this connection
      // (the caller sends its heartbeat); the next check asks again.
      getLogger().warn("live hub: reading the store's head for the stall check failed", { error });
      return false;
    }
    const stalled = head > handedOut && handedOut === this.#checkedAt;
    this.#checkedAt = handedOut;
    if (!stalled || this.#position !== handedOut || !this.#connections.has(connection)) return false;
    getLogger().warn("live hub: the shared subscription made no progress for a heartbeat; restarting it");
    this.#rehome();
    await this.resume(connection);
    return true;
  }

  /**
   * The owner of the shared subscription left while others listen. Its loop (its poll timer, its
   * wait for the next append) belongs to the owner's call: on workerd, where each request is its
   * own I/O context, the runtime cancels those when that request ends, and the fan-out would stop
   * for everyone. So stop it, and wake the live connections: the first to run restarts it in its
   * own context (see `resume`). Elsewhere this costs one restart when the owner leaves.
   */
  #rehome(): void {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    this.#owner = undefined;
    this.#generation += 1;
    this.#orphaned = true;
    void subscription?.stop();
    for (const connection of this.#live) connection.nudge();
  }

  get bufferSize(): number {
    return this.#bufferSize;
  }

  /** Internal: one page of catch-up, read as stored then upcast by the store like any read. */
  async readPage(after: number): Promise<EventEnvelope[]> {
    const page: EventEnvelope[] = [];
    for await (const event of this.#store.readAll({ after, maxCount: this.#batchSize })) page.push(event);
    return page;
  }

  get batchSize(): number {
    return this.#batchSize;
  }

  #goLive(connection: Connection): void {
    // Events up to its position it already has: the shared feed may still bring some (it runs behind reads).
    connection.skipThrough = connection.position;
    this.#live.add(connection);
  }

  #start(owner: Connection): Promise<void> {
    if (this.#subscription !== undefined) return Promise.resolve();
    this.#starting ??= (async () => {
      // Yield first: a restart has nothing else to await, and its `finally` must run after this assignment.
      await undefined;
      try {
        // Restarted for remaining connections: carry on from what they were given.
        if (!this.#orphaned) this.#position = await this.#store.getLastGlobalPosition();
        const generation = ++this.#generation;
        this.#subscription = this.#store.subscribeToAll({
          after: this.#position,
          pollIntervalMs: this.#pollIntervalMs,
          name: "live",
          telemetry: false,
          handler: (event) => {
            if (generation === this.#generation) this.#fanOut(event);
          },
          onError: (error) => {
            if (generation === this.#generation) this.#failed(error);
          },
        });
        this.#owner = owner;
        this.#orphaned = false;
      } finally {
        this.#starting = undefined;
      }
      // Connections may have left while it started, the one it started for included (`remove` does
      // not stop a starting subscription): a subscription nobody owns would run in a finished
      // request's context, which workerd has cancelled, and later connections would wait on it forever.
      if (this.#connections.size === 0) await this.#stop();
      else if (!this.#connections.has(owner)) this.#rehome();
    })();
    return this.#starting;
  }

  /**
   * The shared subscription could not read on. A store briefly unavailable is retried by it; anything
   * else (an unreadable row, an upcaster that throws) fails again at the same position, for ever: the
   * live connections end with `error`, as a connection's catch-up read that meets it ends its own.
   * Before, they were left waiting with heartbeats only, and heard of nothing after it.
   */
  #failed(error: unknown): void {
    if (isServiceError(error) && error.retryable) {
      getLogger().warn("live hub: reading the feed failed; retrying", { error });
      return;
    }
    getLogger().error("live hub: the feed cannot be read on; ending the live connections", { error });
    for (const connection of [...this.#live]) connection.close("error");
  }

  #fanOut(event: EventEnvelope): void {
    this.#position = Math.max(this.#position, event.globalPosition ?? this.#position);
    for (const connection of this.#live) connection.offer(event);
  }

  #stopIfIdle(): void {
    if (this.#connections.size === 0 && this.#starting === undefined) void this.#stop();
  }

  async #stop(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    this.#owner = undefined;
    this.#orphaned = false;
    this.#generation += 1;
    this.#live.clear();
    await subscription?.stop();
  }
}

class Connection implements LiveConnection {
  position = 0;
  skipThrough = 0;
  readonly #hub: LiveHub;
  readonly #filter: LiveFilter | undefined;
  readonly #allow: ((event: EventEnvelope) => boolean) | undefined;
  #queue: EventEnvelope[] = [];
  #head = 0;
  #end: LiveEndReason | undefined;
  #live = false;
  #wake: (() => void) | undefined;
  #resolveDone: ((reason: LiveEndReason) => void) | undefined;
  readonly done = new Promise<LiveEndReason>((resolve) => {
    this.#resolveDone = resolve;
  });

  constructor(hub: LiveHub, options: LiveConnectOptions) {
    this.#hub = hub;
    this.#filter = options.filter;
    this.#allow = options.allow;
  }

  /** From the shared fan-out: buffer it if it is this connection's, or end the connection when full. */
  offer(event: EventEnvelope): void {
    if (this.#end !== undefined) return;
    const at = event.globalPosition ?? 0;
    if (at <= this.skipThrough) return;
    this.#live = true;
    this.position = Math.max(this.position, at);
    if (!this.#wants(event)) return;
    if (this.#queue.length - this.#head >= this.#hub.bufferSize) {
      this.close("slow-consumer");
      return;
    }
    this.#queue.push(event);
    this.#wake?.();
  }

  /** Internal: wake a waiting `next` (the hub's subscription needs restarting). */
  nudge(): void {
    this.#wake?.();
  }

  async next(idleMs?: number): Promise<LiveItem | undefined> {
    for (;;) {
      if (this.#head < this.#queue.length) {
        const event = this.#queue[this.#head] as EventEnvelope;
        this.#queue[this.#head] = undefined as unknown as EventEnvelope;
        this.#head += 1;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) this.#compact();
        return morePartsFollow(event) ? { kind: "event", event, more: true } : { kind: "event", event };
      }
      if (this.#end !== undefined) return { kind: "end", reason: this.#end };
      if (!this.#live && !this.#hub.tryLive(this)) {
        await this.#catchUp();
        continue;
      }
      this.#live = true;
      await this.#hub.resume(this);
      if (this.#end !== undefined || this.#head < this.#queue.length) continue;
      const woken = await this.#wait(idleMs);
      if (!woken) {
        if (await this.#hub.restartIfStalled(this)) continue;
        return undefined;
      }
    }
  }

  get ended(): LiveEndReason | undefined {
    return this.#end;
  }

  close(reason: LiveEndReason = "closed"): void {
    if (this.#end !== undefined) return;
    this.#end = reason;
    this.#resolveDone?.(reason);
    this.#queue = [];
    this.#head = 0;
    this.#hub.remove(this);
    this.#wake?.();
  }

  async #catchUp(): Promise<void> {
    let page: EventEnvelope[];
    try {
      page = await this.#hub.readPage(this.position);
    } catch (error) {
      getLogger().error("live subscription catch-up read failed", { error });
      this.close("error");
      return;
    }
    if (this.#end !== undefined) return;
    for (const event of page) {
      this.position = Math.max(this.position, event.globalPosition ?? this.position);
      if (this.#wants(event)) this.#queue.push(event);
    }
    // An empty page while the shared feed is ahead: the store has not shown that commit to this
    // reader yet; wait a moment rather than spin.
    if (page.length === 0 && !this.#hub.tryLive(this)) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #wants(event: EventEnvelope): boolean {
    if (this.#filter !== undefined && !matchesFilter(this.#filter, event)) return false;
    if (this.#allow === undefined) return true;
    try {
      return this.#allow(event) === true;
    } catch (error) {
      // A failing authorization withholds the event: it never opens the door.
      getLogger().error("live subscription allow callback failed", { error });
      return false;
    }
  }

  #wait(idleMs: number | undefined): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = idleMs === undefined ? undefined : setTimeout(() => done(false), idleMs);
      const done = (woken: boolean) => {
        if (timer !== undefined) clearTimeout(timer);
        this.#wake = undefined;
        resolve(woken);
      };
      this.#wake = () => done(true);
    });
  }

  #compact(): void {
    this.#queue = this.#queue.slice(this.#head);
    this.#head = 0;
  }
}
