/**
 * Live event streams over HTTP: `GET /events/stream` (Server-Sent Events) and `GET /events/ws`
 * (WebSocket), served from a {@link LiveHub} that fans one store subscription out to every client.
 * Authorization is the HTTP dispatcher's auth hook (kind `"live"`, type `"events"`), then a
 * per-subscription decision; errors are the dispatcher's problem+json.
 */
import { type Context, Hono } from "hono";
import {
  callHook,
  type EventEnvelope,
  filterFromQuery,
  functionIssues,
  getLogger,
  LiveErrorCode,
  type LiveFilter,
  type LiveHub,
  MAX_DELAY_MS,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { configurationFault } from "../http/errors.js";
import { headResponse } from "../http/head.js";
import {
  type AuthHook,
  authorize,
  type ErrorInfo,
  errorResponse,
  ForbiddenError,
  type FromContext,
  MethodNotAllowedError,
  type Principal,
  type TenancyRoutes,
  tenancyIssues,
  tenantScope,
} from "../http/index.js";
import { isMarkedEventFlowsError } from "../http/problem-details.js";
import { parseQuery, searchOf } from "../http/query-string.js";
import { assertOriginAllowed, originsIssues } from "./live-origin.js";
import { SSE_HEADERS, sseBody } from "./live-sse.js";
import { liveSocketEvents, type UpgradeWebSocket } from "./live-websocket.js";

/** What a principal asked to watch. */
export interface LiveSubscriptionRequest {
  readonly filter: LiveFilter;
  /** The global position it resumes after; `undefined` for new events only. */
  readonly after: number | undefined;
  readonly request: Request;
  readonly context: Context;
}

/**
 * May this principal watch this subscription? `false` refuses it (403); `true` allows every event
 * the filter matches; a function decides per event (`false` withholds that event). Throw
 * `ForbiddenError`/`UnauthorizedError` to say why. The per-event function runs in the shared
 * fan-out: keep it synchronous and cheap (decide what the principal may see here, close over it).
 */
export type LiveAuthorize = (
  principal: Principal | undefined,
  subscription: LiveSubscriptionRequest,
) => boolean | ((event: EventEnvelope) => boolean) | Promise<boolean | ((event: EventEnvelope) => boolean)>;

export interface LiveRoutesOptions {
  /**
   * The hub to serve from: one per process (share it between requests), over the store. With
   * `tenancy`, one per tenant over that tenant's store: `(c, tenant) => tenant.services.hub`.
   */
  readonly hub: FromContext<LiveHub, Context>;
  /**
   * Multi-tenancy, as on the command routes: the caller's tenant from the auth hook's principal picks
   * the hub, so a subscriber only ever follows its own tenant's feed, from any position it asks. `hub`
   * must then be a function of the tenant: one hub shared by every tenant is refused.
   */
  readonly tenancy?: TenancyRoutes<Context>;
  /** The same auth hook as the command routes; asked with kind `"live"`, type `"events"`. None: open to all. */
  readonly auth?: AuthHook<Context>;
  /** Per-subscription (and per-event) authorization after the auth hook. None: every event the filter matches. */
  readonly authorize?: LiveAuthorize;
  /** Where the two routes are, relative to the mount. Defaults to `/events` (`/events/stream`, `/events/ws`). */
  readonly path?: string;
  /**
   * The runtime's Hono WebSocket helper (`upgradeWebSocket` from `hono/bun`, `hono/deno`, or
   * `@hono/node-ws`). None: no WebSocket route. Not `hono/cloudflare-workers`: its helper never calls
   * `onOpen`, where the pump starts; on Workers, WebSockets go to a Durable Object (`LiveSubscribers`).
   */
  readonly upgradeWebSocket?: UpgradeWebSocket;
  /** Idle time before a heartbeat (an SSE comment, a WebSocket `heartbeat` message), in ms. Defaults to 5,000. */
  readonly heartbeatMs?: number;
  /**
   * WebSocket: the origins (`https://app.example.com`) of other sites' pages that may subscribe, or
   * `["*"]` for any. A browser sends its cookies with a WebSocket handshake to any site, and CORS does
   * not apply, so an upgrade whose `Origin` is neither the server's own host nor listed is a 403.
   * Clients that send no `Origin` (not browsers) are not concerned. None: the server's own only.
   */
  readonly origins?: readonly string[];
  /** WebSocket: unsent bytes a socket may hold before the pump waits for it. Defaults to 1 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * Told of every subscription refused with a 5xx that is not the hub's own 503 (an `auth` or `authorize`
   * that threw something unexpected, a `hub` function that failed), with the error the response does not
   * disclose. Defaults to an error line on the library's logger.
   */
  readonly onError?: (error: unknown, info: ErrorInfo<Context>) => void;
}

const FROM = /^\d{1,16}$/;
/** The query parameters the live routes read. */
const LIVE_PARAMETERS: ReadonlySet<string> = new Set(["stream", "category", "type", "from"]);
const LIVE_OPTIONS = [
  "hub",
  "tenancy",
  "auth",
  "authorize",
  "path",
  "upgradeWebSocket",
  "origins",
  "heartbeatMs",
  "maxBufferedBytes",
  "onError",
] as const satisfies readonly (keyof LiveRoutesOptions)[];

/**
 * Builds a Hono app with the live routes; mount it beside the command routes with
 * `app.route("/api", liveRoutes({ hub, auth }))`. Query parameters: `stream`, `category`, `type`
 * (repeated or comma-separated) filter; `from` resumes after a global position (SSE: the
 * `Last-Event-ID` header wins, as EventSource sends it on reconnect).
 *
 * @throws {ValidationError} invalid options.
 */
export function liveRoutes(options: LiveRoutesOptions): Hono {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid live routes options", [{ path: [], message: "options must be an object" }]);
  }
  const path = options.path ?? "/events";
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  // A misspelt key was dropped: `auht` served every stream to anyone, `authorise` every event.
  const issues = unknownKeyIssues(options, LIVE_OPTIONS);
  // A wrong kind of value here would be a 500 on every request instead of one error at startup.
  const hub = options.hub as unknown;
  const isHub = typeof (hub as { connect?: unknown } | undefined)?.connect === "function";
  if (hub === undefined) issues.push({ path: ["hub"], message: "hub is required (a LiveHub)" });
  else if (typeof hub !== "function" && !isHub) {
    issues.push({ path: ["hub"], message: "hub must be a LiveHub or a function giving one" });
  }
  if (typeof path !== "string" || !path.startsWith("/")) {
    issues.push({ path: ["path"], message: "path must be a string starting with /" });
  }
  for (const key of ["auth", "authorize", "upgradeWebSocket", "onError"] as const)
    issues.push(...functionIssues(options[key], key));
  issues.push(...tenancyIssues(options.tenancy));
  issues.push(...originsIssues(options.origins));
  // One hub follows one store's feed: shared by every tenant, it would serve each caller another tenant's events.
  if (options.tenancy !== undefined && hub !== undefined && typeof hub !== "function") {
    issues.push({ path: ["hub"], message: "with tenancy, hub must be a function of the tenant (one hub per tenant)" });
  }
  // Past the timer's range setTimeout fires at once: a heartbeat every millisecond, for every connection.
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 10 || heartbeatMs > MAX_DELAY_MS) {
    issues.push({ path: ["heartbeatMs"], message: `heartbeatMs must be an integer from 10 to ${MAX_DELAY_MS}` });
  }
  if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < 1) {
    issues.push({ path: ["maxBufferedBytes"], message: "maxBufferedBytes must be a positive integer" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid live routes options", issues);
  const base = path === "/" ? "" : path;
  // A 5xx says nothing of its cause: the cause goes here (as the command and admin routes report theirs).
  const refused = (c: Context, error: unknown): Response => {
    const response = errorResponse(error);
    // The hub's own 503s (full, closed) are its load shedding, answered with Retry-After: not failures.
    const code = isMarkedEventFlowsError(error) ? error.code : undefined;
    if (response.status >= 500 && code !== LiveErrorCode.TooManyClients && code !== LiveErrorCode.HubClosed) {
      callHook("onError", options.onError ?? defaultOnError, error, { request: c.req.raw, context: c });
    }
    return response;
  };

  /**
   * Auth hook, tenant, filter, resume point and authorization, then the hub and what to connect it
   * with; throws what the response says. The tenant before the query: a caller of no tenant (or of
   * one not served) is refused as such, not told what is wrong with its filter first.
   */
  const admit = async (c: Context, lastEventId: string | undefined) => {
    const request = c.req.raw;
    const principal =
      options.auth === undefined
        ? undefined
        : await authorize(options.auth, { kind: "live", type: "events", request, context: c });
    const tenant =
      options.tenancy === undefined
        ? undefined
        : await tenantScope(options.tenancy, principal, { kind: "live", type: "events", request, context: c });
    const search = searchOf(request.url);
    // Escapes of bytes that are not UTF-8 (`%ED%A0%80`) are refused, as on the query routes:
    // URLSearchParams reads them as U+FFFD, which names another stream, category or type.
    parseQuery(search, (name) => LIVE_PARAMETERS.has(name));
    const parameters = new URLSearchParams(search);
    const filter = filterFromQuery(parameters);
    const given = parameters.getAll("from");
    const from = lastEventId ?? given[0];
    const after = from === undefined ? undefined : Number(from);
    // Sixteen digits may be past 2^53: refused here, so that HEAD (which connects nothing) answers as GET does.
    // Given twice (`from=5&from=0`) it names no one position: refused, as the command routes refuse a repeated scalar.
    if (given.length > 1 || (from !== undefined && (!FROM.test(from) || !Number.isSafeInteger(after)))) {
      throw new ValidationError("Invalid live subscription", [
        {
          path: ["from"],
          message: "from (or Last-Event-ID) must be one global position: a non-negative integer, given once",
        },
      ]);
    }
    const decision =
      options.authorize === undefined
        ? true
        : await options.authorize(principal, { filter, after, request, context: c });
    if (decision === false || (decision !== true && typeof decision !== "function")) throw new ForbiddenError();
    let hub: LiveHub;
    try {
      hub = typeof options.hub === "function" ? options.hub(c, tenant) : options.hub;
    } catch (error) {
      throw configurationFault(error, "live hub", "making the hub");
    }
    return { hub, subscription: { filter, after, allow: decision === true ? undefined : decision } };
  };
  const open = async (c: Context, lastEventId: string | undefined) => {
    const { hub, subscription } = await admit(c, lastEventId);
    return hub.connect(subscription);
  };

  const app = new Hono();
  app.get(`${base}/stream`, async (c) => {
    try {
      const lastEventId = c.req.header("last-event-id");
      // HEAD (Hono routes it here): the same checks and headers, the hub's included (closed, full: 503),
      // and no connection, which nothing would read.
      if (c.req.method === "HEAD") {
        const { hub } = await admit(c, lastEventId === "" ? undefined : lastEventId);
        hub.assertCanConnect();
        return new Response(null, { headers: SSE_HEADERS });
      }
      const connection = await open(c, lastEventId === "" ? undefined : lastEventId);
      return new Response(sseBody(connection, heartbeatMs, c.req.raw.signal), { headers: SSE_HEADERS });
    } catch (error) {
      return c.req.method === "HEAD" ? headResponse(refused(c, error)) : refused(c, error);
    }
  });
  const upgrade = options.upgradeWebSocket;
  if (upgrade !== undefined) {
    app.get(`${base}/ws`, async (c) => {
      // A HEAD (Hono routes it here) cannot be upgraded (RFC 6455 asks for GET): as a GET without the header.
      if (c.req.method === "HEAD" || c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        const refused = errorResponse(
          new ValidationError("Invalid live subscription", [
            { path: [], message: "subscribe with a WebSocket upgrade (Upgrade: websocket)" },
          ]),
        );
        return c.req.method === "HEAD" ? headResponse(refused) : refused;
      }
      let connection: Awaited<ReturnType<typeof open>>;
      try {
        // Before the auth hook: a page of another site gets nothing, not even whether its cookie is valid.
        assertOriginAllowed(c.req.raw, options.origins);
        connection = await open(c, undefined);
      } catch (error) {
        return refused(c, error);
      }
      try {
        // The helper calls `next` when the runtime refuses the upgrade (Bun's does, for a bad
        // Sec-WebSocket-Key or Sec-WebSocket-Version): nothing after this route runs for it.
        const response = await upgrade(() => liveSocketEvents(connection, heartbeatMs, maxBufferedBytes))(
          c,
          async () => {},
        );
        if (response !== undefined) return response; // Bun answers 200 (ignored once upgraded), workerd 101
        // Not upgraded: the request's fault, a 400 problem as a GET without the upgrade gets (it was
        // the application's 404 page, or an empty 200), and no connection left in the hub.
        connection.close();
        return errorResponse(
          new ValidationError("Invalid live subscription", [
            {
              path: ["headers"],
              message:
                "the WebSocket upgrade was refused: send a valid Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
            },
          ]),
        );
      } catch (error) {
        connection.close();
        return refused(c, error);
      }
    });
  }
  // Any other method: 405 with Allow, as on the command routes, not the application's 404 page.
  const refuse = (c: Context) => errorResponse(new MethodNotAllowedError(c.req.method, ["GET", "HEAD"]));
  app.all(`${base}/stream`, refuse);
  if (upgrade !== undefined) app.all(`${base}/ws`, refuse);
  return app;
}

function defaultOnError(error: unknown, info: { readonly request: Request }): void {
  getLogger().error("live subscription failed with a server error", { method: info.request.method, error });
}
