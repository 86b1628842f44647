import { ErrorCode, EventCorruptError, EventFlowsError, type Issue, ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { callHook } from "../internal/hooks.js";
import {
  assertObject,
  functionIssues,
  integerOptionIssues,
  objectIssues,
  unknownKeyIssues,
} from "../internal/validate.js";
import { checkFilter, filterToQuery, type LiveFilter } from "../live/filter.js";
import { redactedCause } from "../logging/redaction.js";
import { abortableSleep } from "../projections/progress.js";
import { LiveClientErrorCode, LiveStreamError } from "./errors.js";
import { DEFAULT_MAX_SSE_MESSAGE_LENGTH, parseSse } from "./sse-parser.js";

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
  /** Told of each failure; the client reconnects after it unless the server refused (400, 401, 403, 404, 405). */
  readonly onError?: (error: LiveStreamError) => void;
  /**
   * Told when the server ends the stream, with its reason: `slow-consumer`, `shutdown`, `error` (the
   * server failed reading the store: SSE's `end` message, WebSocket's close 1011); the client then reconnects.
   * Over WebSocket only the closes 4008, 1001 and 1011 are such ends, each with the reason it stands for:
   * any other close (1000, or another 4xxx from a proxy) is a drop, reported to `onError`.
   */
  readonly onEnd?: (reason: string) => void;
  /** SSE only: request headers (an `Authorization`), or a function giving them per connection. */
  readonly headers?: LiveHeaders | (() => LiveHeaders | Promise<LiveHeaders>);
  /** WebSocket only: subprotocols (HTTP tokens), where a browser can carry a token (`WebSocket` cannot send headers). */
  readonly protocols?: string | string[];
  readonly backoff?: LiveBackoff;
  /** No bytes for this long (the server sends heartbeats) means a dead connection: reconnect. Defaults to 30,000 ms. */
  readonly idleTimeoutMs?: number;
  /**
   * SSE: the longest message read, in characters (its data, or a line not yet ended); a longer one
   * drops the connection as `LIVE_DISCONNECTED`, so that a server that never ends a line cannot grow
   * the client's memory without bound. Defaults to 33,554,432 (32 Mi).
   */
  readonly maxMessageLength?: number;
  /**
   * Defaults to `globalThis.fetch`. A plain function type, not `typeof fetch`: in Bun's types that also asks
   * for `fetch.preconnect`, which no function of one's own (Hono's `app.request`, a test double) has.
   */
  readonly fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Defaults to `globalThis.WebSocket`; on Node 20, which has none, pass `ws`'s. */
  readonly WebSocket?: LiveSocketConstructor;
}

/**
 * What the client uses of a WebSocket. A structural type, not `typeof WebSocket`: `ws`'s class (Node 20 has no
 * global one) has no `dispatchEvent` and no static `CONNECTING`, and was refused without a cast.
 */
export interface LiveSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: "error", listener: () => void): void;
  addEventListener(type: "close", listener: (event: { readonly code: number; readonly reason: string }) => void): void;
}

export type LiveSocketConstructor = new (url: string | URL, protocols?: string | string[]) => LiveSocket;

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

/** The keys of {@link LiveClientOptions}: any other is refused (a misspelt `from` followed new events only). */
const LIVE_CLIENT_OPTIONS = [
  "url",
  "transport",
  "filter",
  "from",
  "onEvent",
  "onError",
  "onEnd",
  "headers",
  "protocols",
  "backoff",
  "idleTimeoutMs",
  "maxMessageLength",
  "fetch",
  "WebSocket",
] as const satisfies readonly (keyof LiveClientOptions)[];

/**
 * The WebSocket close codes the library's servers end a stream with (the Hono live routes' `LIVE_CLOSE_CODES`,
 * a Durable Object's LiveSubscribers), and the reason each stands for: onEnd gets that reason, never the
 * close's own text. Any other code, 4xxx included, is a drop (`LIVE_DISCONNECTED`).
 */
const SERVER_ENDS: ReadonlyMap<number, string> = new Map([
  [4008, "slow-consumer"],
  [1001, "shutdown"],
  [1011, "error"],
]);

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
  // Not echoed: a string here is likely the URL, a token in its query.
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ValidationError("Invalid live subscription options", [
      { path: [], message: "options must be an object: { url, onEvent, ... }" },
    ]);
  }
  // What is not an object is no filter (a number read as one matched every event): refused with the rest.
  if (options.filter !== undefined && options.filter !== null)
    assertObject(options.filter, ["filter"], "live subscription options");
  const filter = checkFilter(options.filter ?? {});
  checkOptions(options);
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_SSE_MESSAGE_LENGTH;
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
  /** Whether the connection in hand handled an event: a drop after that reconnects at once. */
  let handled = false;
  /** How long the server asked to wait before the next request (`Retry-After` with a 503 or 429), in ms. */
  let asked: number | undefined;
  /**
   * The parts of a split event share its position, and the server marks all but the last (`more`).
   * `partial` is the position of an event handled only in part when its connection dropped, `partsDone`
   * how many of its parts: the reconnect resumes before it (`position` moves with a last part only),
   * and the parts that come again are not handled twice.
   */
  let partial: number | undefined;
  let partsDone = 0;
  /** The position of the last event the connection in hand delivered, and that part's index. */
  let lastAt: number | undefined;
  let lastIndex = 0;

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

  /**
   * Handles an event unless it is at or before the last one handled (a resume point is exclusive,
   * and a server that sends one again, or out of order, does not get it handled twice), or a part of
   * a split event handled before a drop. `more`: another part of the same stored event follows.
   */
  const handle = async (event: E, more: boolean) => {
    // What the server sends is handed to onEvent as an envelope: `null`, a number or a list is none.
    if (typeof event !== "object" || event === null || Array.isArray(event)) {
      throw new LiveStreamError(
        LiveClientErrorCode.Disconnected,
        "The live stream sent an event that is not an object",
      );
    }
    const at = event.globalPosition;
    // The position becomes the resume point (`from`): one that is no position would make every
    // reconnect a 400, and the subscription end for good; without one, a reconnect could not resume
    // after the event, which would be handled again. Such an event drops the connection instead.
    if (!(typeof at === "number" && Number.isSafeInteger(at) && at >= 0)) {
      throw new LiveStreamError(
        LiveClientErrorCode.Disconnected,
        "The live stream sent an event whose globalPosition is not a non-negative integer",
      );
    }
    if (position !== undefined && at <= position) return;
    const index = at === lastAt ? lastIndex + 1 : 0;
    lastAt = at;
    lastIndex = index;
    if (at === partial && index < partsDone) return;
    try {
      await options.onEvent(event);
    } catch (error) {
      throw new HandlerFailure(error);
    }
    if (more) {
      partial = at;
      partsDone = index + 1;
    } else {
      position = at;
      partial = undefined;
    }
    handled = true;
  };

  /** One SSE connection; resolves when it ends. */
  const overSse = async (signal: AbortSignal): Promise<void> => {
    const doFetch = options.fetch ?? globalThis.fetch;
    // From the headers on: a headers function that never settles (a token refresh hanging), or a server
    // that never answers, is as dead as one that stops sending; and close() must not wait for either.
    const idle = watchIdle(idleTimeoutMs, () => current.abort());
    try {
      const given = options.headers;
      const extra =
        typeof given === "function"
          ? await settledOrAborted(Promise.resolve().then(given), signal, () => {
              return new LiveStreamError(
                LiveClientErrorCode.Disconnected,
                `The headers function did not settle within idleTimeoutMs (${idleTimeoutMs} ms)`,
              );
            })
          : given;
      const headers = requestHeaders(extra);
      headers.set("accept", "text/event-stream");
      // Followed, a redirect sent the request and its headers (an API key) to wherever `location` points and
      // took that host's events for the server's (fetch drops only Authorization on the way to another origin).
      const response = await doFetch(address("/stream"), { headers, signal, redirect: "manual" });
      // A browser shows a redirect not followed as an opaque answer of status 0.
      if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
        await response.body?.cancel().catch(() => {});
        throw new LiveStreamError(
          LiveClientErrorCode.Disconnected,
          "The live stream answered a redirect, not followed: set url to where it leads",
          response.status === 0 ? undefined : response.status,
        );
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel().catch(() => {});
        // A server shedding load (the hub's 503 at maxClients) says when to come back: not sooner.
        if (!response.ok) asked = retryAfterMs(response.headers.get("retry-after"));
        throw refusal(response.status);
      }
      // A page (a proxy's, an app's fallback) is no event stream: say so rather than read it as an empty one.
      const type = response.headers.get("content-type");
      if (type !== null && !/^\s*text\/event-stream\s*(;|$)/i.test(type)) {
        await response.body.cancel().catch(() => {});
        throw new LiveStreamError(
          LiveClientErrorCode.Disconnected,
          `The live stream answered ${response.status} without the text/event-stream content type`,
          response.status,
        );
      }
      idle.reset();
      for await (const message of parseSse(response.body, idle.reset, maxMessageLength)) {
        if (message.event === "open") {
          opened(message.data);
          continue;
        }
        if (message.event === "end") {
          ended(endReason(message.data));
          return;
        }
        if (message.event !== "message") continue;
        // While onEvent runs nothing is read, whatever the server sends: its time is not the connection's idleness.
        idle.stop();
        const event = eventOf(message.data) as E;
        // The server names a part's position as the stream's id only with the last part of its event:
        // an event whose position is not the stream's last id has more parts to come.
        await handle(event, message.id !== undefined && message.id !== String(event?.globalPosition));
        idle.reset();
      }
      // Our server ends a stream only with its `end` message: one that just stops was cut off on the
      // way (a proxy, a restart), a drop onError hears of, as a network error would be.
      throw new LiveStreamError(
        LiveClientErrorCode.Disconnected,
        "The live stream ended without the server's end message",
      );
    } finally {
      idle.stop();
    }
  };

  /** One WebSocket connection; resolves when it closes. */
  const overWebSocket = (signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const Socket: LiveSocketConstructor = options.WebSocket ?? globalThis.WebSocket;
      const url = address("/ws");
      // A secure URL stays secure: `wss:` given is kept, not turned into `ws:`.
      url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
      const socket = new Socket(url, options.protocols);
      let chain: Promise<void> = Promise.resolve();
      let failed: unknown;
      // The connection ends when the client ends it, not when the runtime's close event comes: that
      // waits for the server's close reply (about 30 s from a silent or half-open peer), and Node 22's
      // WebSocket fires only an error, never a close, when it cannot connect or is refused.
      let done = false;
      // Ended first, then closed: a socket that fires its error from inside close() (still connecting)
      // would otherwise end the connection as 1006, hiding the client's own reason (4000, idle).
      const drop = (code: number, reason: string) => {
        end(code);
        socket.close(code, reason);
      };
      const idle = watchIdle(idleTimeoutMs, () => drop(4000, "idle"));
      const abort = () => drop(1000, "closed");
      signal.addEventListener("abort", abort, { once: true });
      // A Durable Object's LiveSubscribers asks for flow control in its `open` message: an
      // acknowledgement every `ackEvery` events handled, a ping every `pingMs` (it sends no heartbeats
      // itself, so that it can hibernate). The Hono live routes ask for neither.
      let ackEvery = 0;
      let received = 0;
      /** The error a Durable Object's LiveSubscribers sent before its 1011 close: the unreadable row it met. */
      let serverError: EventFlowsError | undefined;
      let pinger: ReturnType<typeof setInterval> | undefined;
      const send = (text: string) => {
        if (socket.readyState === 1) socket.send(text);
      };
      socket.addEventListener("message", (message) => {
        if (done) return;
        idle.reset();
        chain = chain.then(async () => {
          if (failed !== undefined) return;
          try {
            const parsed = eventOf(String(message.data)) as (FlowControl & { kind: string; event?: E }) | null;
            if (typeof parsed !== "object" || parsed === null) return;
            if (parsed.kind === "open") {
              if (Number.isSafeInteger(parsed.ackEvery) && (parsed.ackEvery as number) > 0)
                ackEvery = parsed.ackEvery as number;
              const pingMs = parsed.pingMs;
              // Its answer is what keeps the idle watch from dropping a quiet connection: at least
              // twice per idleTimeoutMs, however rarely the server asks.
              if (pinger === undefined && Number.isSafeInteger(pingMs) && (pingMs as number) >= 10)
                pinger = setInterval(() => send(PING), Math.min(pingMs as number, Math.max(10, idleTimeoutMs / 2)));
              return opened(parsed);
            }
            if (parsed.kind === "error") {
              serverError = wireError((parsed as { error?: unknown }).error) ?? serverError;
              return;
            }
            if (parsed.kind !== "event" || parsed.event === undefined) return;
            await handle(parsed.event, (parsed as { more?: unknown }).more === true);
            received += 1;
            if (ackEvery > 0 && received % ackEvery === 0) send(`{"kind":"ack","received":${received}}`);
          } catch (error) {
            failed = error;
            drop(1000, "handler failed");
          }
        });
      });
      // An error is the connection's end (1006, abnormal), whether a close follows or not; listening also
      // keeps EventEmitter-based sockets (`ws`) from throwing.
      socket.addEventListener("error", () => end(1006));
      socket.addEventListener("close", (event) => end(event.code));
      const end = (code: number) => {
        if (done) return;
        done = true;
        signal.removeEventListener("abort", abort);
        idle.stop();
        if (pinger !== undefined) clearInterval(pinger);
        void chain.then(() => {
          if (failed !== undefined) return reject(failed);
          // The error the server sent (a Durable Object's unreadable row) goes to onError first, as the
          // cause of the drop it ended with: onEnd's reason alone does not say which row.
          const cause = serverError === undefined ? undefined : { cause: serverError };
          const reason = SERVER_ENDS.get(code);
          // The server's ends (4008 slow-consumer, 1001 shutdown, 1011 error: it failed reading the
          // store) go to onEnd, as the SSE `end` message does, the same failure the same callback,
          // with the reason the code stands for, not the close's text.
          if (reason !== undefined) {
            if (cause !== undefined && !signal.aborted) {
              report(
                new LiveStreamError(
                  LiveClientErrorCode.Disconnected,
                  `The live stream's server reported an error (${serverError?.code}) and closed (${code})`,
                  undefined,
                  cause,
                ),
              );
            }
            ended(reason);
          }
          // Any other close is a drop the server did not explain, 1000 included (a proxy's), and so is
          // any other 4xxx (a proxy's, a gateway's): the library's servers send none. The client's own
          // closes (close(), a failed handler) are known by the abort and `failed`.
          else if (!signal.aborted) {
            report(
              new LiveStreamError(
                LiveClientErrorCode.Disconnected,
                `The live stream closed (${code})`,
                undefined,
                cause,
              ),
            );
          }
          resolve();
        });
      };
    });

  const closed = (async () => {
    let attempt = 0;
    while (!stopped) {
      handled = false;
      asked = undefined;
      lastAt = undefined;
      try {
        await (transport === "websocket" ? overWebSocket : overSse)(current.signal);
      } catch (error) {
        if (stopped) break;
        const failure =
          error instanceof LiveStreamError
            ? error
            : error instanceof HandlerFailure
              ? new LiveStreamError(LiveClientErrorCode.Disconnected, "The onEvent handler failed", undefined, {
                  cause: error.error,
                })
              : new LiveStreamError(LiveClientErrorCode.Disconnected, "The live stream failed", undefined, {
                  cause: redactedCause(error),
                });
        report(failure);
        if (failure.code === LiveClientErrorCode.Refused) break;
      }
      if (stopped) break;
      // At once after a connection that handled an event, however it ended (a network error
      // included); else backing off. Events the server sent again do not count: they made no progress.
      attempt = handled ? 0 : attempt + 1;
      // A fresh controller: the dropped connection's may be aborted (its idle timeout), which would skip the wait.
      current = new AbortController();
      // Full jitter: many clients dropped at once do not come back at once.
      const backoff = attempt === 0 ? 0 : Math.random() * Math.min(maxMs, initialMs * 2 ** (attempt - 1));
      // At least what the server asked for, but never past maxMs: the wait stays bounded.
      const wait = Math.max(backoff, Math.min(asked ?? 0, maxMs));
      // The core's sleep: it rejects on abort (close), which ends the wait as the loop wants.
      await abortableSleep(wait, current.signal, "live reconnect").catch(() => {});
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

/** `work`, or `reason()` as soon as `signal` aborts (the work itself is left to settle, unheeded). */
function settledOrAborted<T>(work: Promise<T>, signal: AbortSignal, reason: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(reason());
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

/** The application's onEvent threw (or rejected) this: its own error, passed on as it is. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

/**
 * The request's headers. Names or values the Fetch API refuses throw a TypeError that quotes them
 * (Node's: "Headers.append: "Bearer <token>" is an invalid header value."): reported without it.
 */
function requestHeaders(extra: LiveHeaders | undefined): Headers {
  try {
    return new Headers(extra);
  } catch {
    throw new LiveStreamError(LiveClientErrorCode.Disconnected, INVALID_HEADERS);
  }
}

const INVALID_HEADERS = "headers must be HTTP header names and values the Fetch API accepts";

function refusal(status: number): LiveStreamError {
  return REFUSED.has(status)
    ? new LiveStreamError(LiveClientErrorCode.Refused, `The server refused the live subscription (${status})`, status)
    : new LiveStreamError(LiveClientErrorCode.Disconnected, `The live stream answered ${status}`, status);
}

/**
 * The wait a `Retry-After` header asks for, in ms: delta-seconds or an HTTP date; undefined without
 * one, or with one that is neither.
 */
function retryAfterMs(value: string | null): number | undefined {
  const text = value?.trim() ?? "";
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * An SSE message's data as JSON. Not the parser's error: on Node it quotes the text, and an event's
 * data may hold what onError must not hand on (a token, personal data).
 */
function eventOf(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new LiveStreamError(LiveClientErrorCode.Disconnected, "The live stream sent an event that is not JSON");
  }
}

/** The longest code and message kept of an `error` message a server sends: what it says stays bounded. */
const MAX_WIRE_CODE = 64;
const MAX_WIRE_MESSAGE = 1024;

/**
 * The typed error of a Durable Object's `{"kind":"error","error":{code,message,fields}}` message (the
 * shape its replies carry): an `EventCorruptError` with its stream and version when the fields name them,
 * else an `EventFlowsError` with the code and message. Undefined for anything else: it is no error of ours.
 */
function wireError(value: unknown): EventFlowsError | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { code, message, fields } = value as { code?: unknown; message?: unknown; fields?: unknown };
  if (typeof code !== "string" || !/^[A-Z][A-Z0-9_]*$/.test(code) || code.length > MAX_WIRE_CODE) return undefined;
  if (typeof message !== "string") return undefined;
  const text = message.length > MAX_WIRE_MESSAGE ? `${message.slice(0, MAX_WIRE_MESSAGE)}…` : message;
  const f = (typeof fields === "object" && fields !== null ? fields : {}) as Record<string, unknown>;
  let error: EventFlowsError;
  if (
    code === ErrorCode.EventCorrupt &&
    typeof f.streamId === "string" &&
    f.streamId.length <= MAX_WIRE_MESSAGE &&
    Number.isSafeInteger(f.version) &&
    typeof f.reason === "string" &&
    f.reason.length <= MAX_WIRE_MESSAGE
  ) {
    error = new EventCorruptError(f.streamId, f.version as number, f.reason);
  } else {
    error = new EventFlowsError(code, text);
  }
  // The server's own wording, which the rebuilt error's constructor would compose differently.
  Object.defineProperty(error, "message", { value: text, configurable: true, writable: true });
  return error;
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

/**
 * Options a subscription could only fail on, again and again: a negative or NaN backoff or idle
 * timeout reconnected in a busy loop, an unparsable URL or a missing `WebSocket` was retried forever
 * as a disconnect, a bad `from` was sent to be refused. Refused here, once, with a `ValidationError`.
 */
function checkOptions(options: LiveClientOptions<never>): void {
  // A misspelt key was dropped and its default taken: `form: 42` subscribed to new events only.
  const issues: Issue[] = [
    ...unknownKeyIssues(options, LIVE_CLIENT_OPTIONS),
    ...unknownKeyIssues(options.backoff, ["initialMs", "maxMs"], ["backoff"]),
  ];
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    issues.push({ path: ["url"], message: "url must be an absolute URL (https://api.example.com/api/events)" });
  }
  const transport = options.transport;
  const schemes = transport === "websocket" ? ["http:", "https:", "ws:", "wss:"] : ["http:", "https:"];
  // fetch refuses them on Node and in browsers, its TypeError quoting the URL, password and all, to
  // onError at every retry: refused here, without echoing them.
  if (url !== undefined && (url.username !== "" || url.password !== "")) {
    issues.push({ path: ["url"], message: "url must not hold credentials (user:password@): send them in headers" });
  }
  if (url !== undefined && !schemes.includes(url.protocol)) {
    issues.push({
      path: ["url"],
      message: `url must be an ${schemes.length === 2 ? "http(s)" : "http(s) or ws(s)"} URL`,
    });
  }
  if (transport !== undefined && transport !== "sse" && transport !== "websocket") {
    issues.push({ path: ["transport"], message: 'transport must be "sse" or "websocket"' });
  }
  if (options.from !== undefined && (!Number.isSafeInteger(options.from) || options.from < 0)) {
    issues.push({ path: ["from"], message: "from must be a global position: a non-negative integer" });
  }
  issues.push(...functionIssues(options.onEvent, "onEvent", true));
  // Hooks that are no functions would be "called" on every failure, for ever: refused once, here.
  issues.push(...functionIssues(options.onError, "onError"), ...functionIssues(options.onEnd, "onEnd"));
  if (options.backoff !== null) issues.push(...objectIssues(options.backoff, "backoff"));
  issues.push(
    ...integerOptionIssues(options.backoff?.initialMs, "backoff.initialMs", 3_600_000),
    ...integerOptionIssues(options.backoff?.maxMs, "backoff.maxMs", 3_600_000),
    ...integerOptionIssues(options.idleTimeoutMs, "idleTimeoutMs", 3_600_000),
    ...integerOptionIssues(options.maxMessageLength, "maxMessageLength", 1024 * 1024 * 1024),
  );
  if (transport === "websocket" && options.protocols !== undefined) issues.push(...protocolIssues(options.protocols));
  // Given as they are (not a function giving them per connection): checked once, without echoing them.
  if (transport !== "websocket" && options.headers !== undefined && typeof options.headers !== "function") {
    try {
      new Headers(options.headers);
    } catch {
      issues.push({ path: ["headers"], message: INVALID_HEADERS });
    }
  }
  if (transport === "websocket" && typeof (options.WebSocket ?? globalThis.WebSocket) !== "function") {
    issues.push({ path: ["WebSocket"], message: "this runtime has no global WebSocket: pass one (Node 20: ws)" });
  }
  if (transport !== "websocket" && typeof (options.fetch ?? globalThis.fetch) !== "function") {
    issues.push({ path: ["fetch"], message: "fetch must be a function" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid live subscription options", issues);
}

/** A subprotocol is an HTTP token (RFC 6455 4.1): what WebSocket accepts, once each. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Subprotocols `WebSocket` would refuse with a SyntaxError on every connection (a token with a space,
 * a comma or base64's `=` and `/`, an empty one, one given twice): retried for ever as drops.
 */
function protocolIssues(protocols: unknown): Issue[] {
  const list = typeof protocols === "string" ? [protocols] : protocols;
  const message = "protocols must be a token or a list of distinct tokens (letters, digits and !#$%&'*+-.^_`|~)";
  if (!Array.isArray(list)) return [{ path: ["protocols"], message }];
  const valid = list.every((value) => typeof value === "string" && TOKEN.test(value));
  return valid && new Set(list).size === list.length ? [] : [{ path: ["protocols"], message }];
}
