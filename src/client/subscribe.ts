import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import { checkFilter, filterToQuery, type LiveFilter } from "../live/filter.js";
import { LiveClientErrorCode, LiveStreamError } from "./errors.js";
import { parseSse } from "./sse-parser.js";

/** Request headers by name (a plain object: `HeadersInit` is a DOM type, and Node's types lack it). */
export type LiveHeaders = Readonly<Record<string, string>>;

export interface LiveBackoff {
  /** First wait before reconnecting, in ms. Defaults to 500. */
  readonly initialMs?: number;
  /** Longest wait, in ms. Defaults to 30,000. */
  readonly maxMs?: number;
}

export interface LiveClientOptions<E extends EventEnvelope = EventEnvelope> {
  /**
   * Where the live routes are mounted, up to their path: `https://api.example.com/api/events`
   * (the client adds `/stream` or `/ws`).
   */
  readonly url: string | URL;
  /** `"sse"` (the default: over `fetch`, so it can send headers) or `"websocket"`. */
  readonly transport?: "sse" | "websocket";
  readonly filter?: LiveFilter;
  /** Start after this global position. Absent: events appended from now on. */
  readonly from?: number;
  /** Handles each event, in global order; the next waits for it. A throw reconnects from the last event handled. */
  readonly onEvent: (event: E) => void | Promise<void>;
  /** Told of each failure; the client reconnects after it unless the server refused (401, 403, 400, 404). */
  readonly onError?: (error: LiveStreamError) => void;
  /** Told when the server ends the stream (`slow-consumer`, `shutdown`…); the client then reconnects. */
  readonly onEnd?: (reason: string) => void;
  /** SSE only: request headers (an `Authorization`), or a function giving them per connection. */
  readonly headers?: LiveHeaders | (() => LiveHeaders | Promise<LiveHeaders>);
  /** WebSocket only: subprotocols, where a browser can carry a token (`WebSocket` cannot send headers). */
  readonly protocols?: string | string[];
  readonly backoff?: LiveBackoff;
  /** No bytes for this long (the server sends heartbeats) means a dead connection: reconnect. Defaults to 30,000 ms. */
  readonly idleTimeoutMs?: number;
  /** Defaults to `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Defaults to `globalThis.WebSocket`. */
  readonly WebSocket?: typeof WebSocket;
}

export interface LiveClientSubscription {
  /** The global position of the last event handled: where a reconnect resumes. */
  readonly position: number | undefined;
  /** Resolves when the subscription has stopped for good (closed, or refused by the server). */
  readonly closed: Promise<void>;
  /** Stops: no reconnect; resolves once the event in hand (if any) is handled. */
  close(): Promise<void>;
}

/** What a Durable Object's `open` message adds (see `LiveSubscribers` of `@eventflows/core/sqlite`). */
interface FlowControl {
  readonly position?: unknown;
  readonly ackEvery?: unknown;
  readonly pingMs?: unknown;
}

/** A ping the runtime answers with a heartbeat for a hibernated Durable Object. */
const PING = '{"kind":"ping"}';

/** Connections refused for good: retrying cannot help. */
const REFUSED = new Set([400, 401, 403, 404, 405]);

/**
 * Subscribes to a server's live event stream (`liveRoutes` of `@eventflows/core/hono`): events in
 * global order, each handled before the next; on a drop, reconnects with exponential backoff (with
 * jitter) and resumes after the last event handled, so none is lost or repeated.
 */
export function subscribeLive<E extends EventEnvelope = EventEnvelope>(
  options: LiveClientOptions<E>,
): LiveClientSubscription {
  const filter = checkFilter(options.filter ?? {});
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const transport = options.transport ?? "sse";
  // The application's hooks are called through callHook: one that throws is logged, and the
  // subscription goes on reconnecting (it neither dies nor leaves `closed` rejected or pending).
  const onError = options.onError;
  const report = (error: LiveStreamError) => {
    if (onError !== undefined) callHook("live onError", onError, error);
  };
  const ended = (reason: string) => {
    if (options.onEnd !== undefined) callHook("live onEnd", options.onEnd, reason);
  };
  let position = options.from;
  let stopped = false;
  /** Aborts the connection in hand (and a backoff wait). */
  let current = new AbortController();

  const address = (path: string) => {
    // Query parameters the caller put in `url` (a token, say) are kept.
    const url = new URL(options.url);
    url.pathname = `${url.pathname.replace(/\/$/, "")}${path}`;
    filterToQuery(filter, url.searchParams);
    if (position !== undefined) url.searchParams.set("from", String(position));
    return url;
  };

  /**
   * The server says where the stream starts: a subscription for new events only resumes from there
   * if it drops before its first event, rather than from the head it would then be given.
   */
  const opened = (data: string | { position?: unknown }) => {
    let at: unknown;
    try {
      at = (typeof data === "string" ? (JSON.parse(data) as { position?: unknown }) : data).position;
    } catch {
      return;
    }
    if (position === undefined && typeof at === "number" && Number.isSafeInteger(at) && at >= 0) position = at;
  };

  /** Handles an event unless the connection already gave it (a resume point is exclusive). */
  const handle = async (event: E, resumedAfter: number | undefined) => {
    const at = event.globalPosition;
    if (at !== undefined && resumedAfter !== undefined && at <= resumedAfter) return;
    await options.onEvent(event);
    if (at !== undefined) position = at;
  };

  /** One SSE connection; resolves when it ends, true if it delivered anything. */
  const overSse = async (signal: AbortSignal): Promise<boolean> => {
    const doFetch = options.fetch ?? globalThis.fetch;
    const extra = typeof options.headers === "function" ? await options.headers() : options.headers;
    const headers = new Headers(extra);
    headers.set("accept", "text/event-stream");
    const resumedAfter = position;
    const response = await doFetch(address("/stream"), { headers, signal });
    if (!response.ok || response.body === null) {
      await response.body?.cancel().catch(() => {});
      throw refusal(response.status);
    }
    let delivered = false;
    const idle = watchIdle(idleTimeoutMs, () => current.abort());
    try {
      for await (const message of parseSse(response.body, idle.reset)) {
        if (message.event === "open") {
          opened(message.data);
          continue;
        }
        if (message.event === "end") {
          ended(endReason(message.data));
          return delivered;
        }
        if (message.event !== "message") continue;
        await handle(JSON.parse(message.data) as E, resumedAfter);
        delivered = true;
      }
      return delivered;
    } finally {
      idle.stop();
    }
  };

  /** One WebSocket connection; resolves when it closes, true if it delivered anything. */
  const overWebSocket = (signal: AbortSignal): Promise<boolean> =>
    new Promise<boolean>((resolve, reject) => {
      const Socket = options.WebSocket ?? globalThis.WebSocket;
      const url = address("/ws");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const resumedAfter = position;
      const socket = new Socket(url, options.protocols);
      let delivered = false;
      let chain: Promise<void> = Promise.resolve();
      let failed: unknown;
      const idle = watchIdle(idleTimeoutMs, () => socket.close(4000, "idle"));
      const abort = () => socket.close(1000, "closed");
      signal.addEventListener("abort", abort, { once: true });
      // A Durable Object's LiveSubscribers asks for flow control in its `open` message: an
      // acknowledgement every `ackEvery` events handled, a ping every `pingMs` (it sends no heartbeats
      // itself, so that it can hibernate). The Hono live routes ask for neither.
      let ackEvery = 0;
      let received = 0;
      let pinger: ReturnType<typeof setInterval> | undefined;
      const send = (text: string) => {
        if (socket.readyState === 1) socket.send(text);
      };
      socket.addEventListener("message", (message) => {
        idle.reset();
        chain = chain.then(async () => {
          if (failed !== undefined) return;
          try {
            const parsed = JSON.parse(String(message.data)) as FlowControl & { kind: string; event?: E };
            if (parsed.kind === "open") {
              if (Number.isSafeInteger(parsed.ackEvery) && (parsed.ackEvery as number) > 0)
                ackEvery = parsed.ackEvery as number;
              const pingMs = parsed.pingMs;
              if (pinger === undefined && Number.isSafeInteger(pingMs) && (pingMs as number) >= 10)
                pinger = setInterval(() => send(PING), pingMs as number);
              return opened(parsed);
            }
            if (parsed.kind !== "event" || parsed.event === undefined) return;
            await handle(parsed.event, resumedAfter);
            delivered = true;
            received += 1;
            if (ackEvery > 0 && received % ackEvery === 0) send(`{"kind":"ack","received":${received}}`);
          } catch (error) {
            failed = error;
            socket.close(1000, "handler failed");
          }
        });
      });
      // A close always follows an error; listening keeps EventEmitter-based sockets (`ws`) from throwing.
      socket.addEventListener("error", () => {});
      socket.addEventListener("close", (event) => {
        signal.removeEventListener("abort", abort);
        idle.stop();
        if (pinger !== undefined) clearInterval(pinger);
        void chain.then(() => {
          if (failed !== undefined) return reject(failed);
          if (event.code >= 4000 && event.code !== 4000) ended(event.reason);
          else if (event.code === 1001) ended(event.reason || "shutdown");
          else if (!signal.aborted && event.code !== 1000) {
            report(new LiveStreamError(LiveClientErrorCode.Disconnected, `The live stream closed (${event.code})`));
          }
          resolve(delivered);
        });
      });
    });

  const closed = (async () => {
    let attempt = 0;
    while (!stopped) {
      current = new AbortController();
      try {
        const delivered = await (transport === "websocket" ? overWebSocket : overSse)(current.signal);
        attempt = delivered ? 0 : attempt + 1;
      } catch (error) {
        if (stopped) break;
        const failure =
          error instanceof LiveStreamError
            ? error
            : new LiveStreamError(LiveClientErrorCode.Disconnected, "The live stream failed", undefined, {
                cause: error,
              });
        report(failure);
        if (failure.code === LiveClientErrorCode.Refused) break;
        attempt += 1;
      }
      if (stopped) break;
      // Full jitter: many clients dropped at once do not come back at once.
      const wait = attempt === 0 ? 0 : Math.random() * Math.min(maxMs, initialMs * 2 ** (attempt - 1));
      await abortableSleep(wait, current.signal);
    }
    stopped = true;
  })();

  return {
    get position() {
      return position;
    },
    closed,
    async close() {
      stopped = true;
      current.abort();
      await closed;
    },
  };
}

function refusal(status: number): LiveStreamError {
  return REFUSED.has(status)
    ? new LiveStreamError(LiveClientErrorCode.Refused, `The server refused the live subscription (${status})`, status)
    : new LiveStreamError(LiveClientErrorCode.Disconnected, `The live stream answered ${status}`, status);
}

function endReason(data: string): string {
  try {
    const reason = (JSON.parse(data) as { reason?: unknown }).reason;
    return typeof reason === "string" ? reason : "ended";
  } catch {
    return "ended";
  }
}

function watchIdle(ms: number, onIdle: () => void): { reset: () => void; stop: () => void } {
  let timer = setTimeout(onIdle, ms);
  return {
    reset: () => {
      clearTimeout(timer);
      timer = setTimeout(onIdle, ms);
    },
    stop: () => clearTimeout(timer),
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
