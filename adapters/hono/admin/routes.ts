/**
 * `adminRoutes`: the operations UI as a Hono sub-app, served only behind the auth hook. One page
 * (HTML, CSS and a script, all static) and a JSON API under `api/`; reads are GET, the two actions
 * (replay into a projection, resume a saga) are POST with a CSRF header. Every response carries a
 * CSP that allows scripts and styles from this origin only, so injected markup could not run even
 * if the page ever rendered it (it renders event data as text).
 */
import { type Context, Hono } from "hono";
import { callHook, getLogger, isTenantIsolationError } from "../../../src/index.js";
import { headResponse } from "../../http/head.js";
import {
  type AnyTenantScope,
  authorize,
  errorResponse,
  ForbiddenError,
  MethodNotAllowedError,
  pathOf,
  RouteNotFoundError,
  readJsonBody,
  tenantScope,
} from "../../http/index.js";
import { parseQuery, searchOf } from "../../http/query-string.js";
import type { AuthRequest } from "../routes.js";
import * as api from "./api.js";
import { AdminNotFoundError } from "./errors.js";
import { liveFeed } from "./live-feed.js";
import { type AdminRoutesOptions, type AdminSettings, adminSettings, resolve } from "./options.js";
import { ADMIN_PAGE } from "./page.js";
import { ADMIN_SCRIPT } from "./script.js";
import { ADMIN_STYLE } from "./style.js";

/** The header every POST of the page carries: a cross-site form cannot send it, a cross-site fetch needs CORS for it. */
export const ADMIN_CSRF_HEADER = "x-eventflows-admin";

/** The largest JSON body an admin action takes. */
const BODY_LIMIT = 64 * 1024;

/** The query parameters the API reads (api.ts, live-feed.ts). */
const ADMIN_PARAMETERS: ReadonlySet<string> = new Set([
  "after",
  "to",
  "limit",
  "prefix",
  "id",
  "from",
  "stream",
  "version",
]);

export const ADMIN_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

/** What the auth hook is told the request does (`AuthRequest.type` with kind `"admin"`). */
export type AdminAction = "read" | "replay" | "resume";

interface AdminRoute {
  readonly method: "GET" | "POST";
  readonly action: AdminAction;
  readonly run: (
    c: Context,
    settings: AdminSettings,
    params: URLSearchParams,
    tenant: AnyTenantScope | undefined,
  ) => Promise<Response> | Response;
}

const get = (run: AdminRoute["run"]): AdminRoute => ({ method: "GET", action: "read", run });

const routes: Readonly<Record<string, AdminRoute>> = {
  "/": get(() => text(ADMIN_PAGE, "text/html; charset=utf-8")),
  "/admin.js": get(() => text(ADMIN_SCRIPT, "text/javascript; charset=utf-8")),
  "/admin.css": get(() => text(ADMIN_STYLE, "text/css; charset=utf-8")),
  "/api/config": get((c, s, _p, t) =>
    json({
      live: s.live !== undefined,
      pollIntervalMs: s.pollIntervalMs,
      projections: resolve(s.projections, c, t).length > 0,
      sagas: s.sagas !== undefined,
      traceLinks: s.traceUrl !== undefined,
    }),
  ),
  "/api/live": get(async (c, s, params, t) => {
    if (s.live === undefined) throw new RouteNotFoundError();
    return liveFeed(c, resolve(s.live, c, t), params, ADMIN_SECURITY_HEADERS);
  }),
  "/api/feed": get(async (c, s, params, t) => json(await api.feed(resolve(s.store, c, t), params))),
  "/api/streams": get(async (c, s, params, t) => json(await api.streams(resolve(s.store, c, t), params))),
  "/api/stream": get(async (c, s, params, t) => json(await api.stream(resolve(s.store, c, t), params))),
  "/api/event": get(async (c, s, params, t) => json(await api.event(resolve(s.store, c, t), params, s.traceUrl))),
  "/api/projections": get(async (c, s, _p, t) => json(await api.projections(resolve(s.projections, c, t)))),
  "/api/projections/replay": {
    method: "POST",
    action: "replay",
    run: async (c, s, _p, t) =>
      json(await api.replayInto(resolve(s.store, c, t), resolve(s.projections, c, t), await body(c.req.raw))),
  },
  "/api/sagas": get(async (c, s, _p, t) =>
    json(await api.sagas(s.sagas === undefined ? undefined : resolve(s.sagas, c, t))),
  ),
  "/api/sagas/resume": {
    method: "POST",
    action: "resume",
    run: async (c, s, _p, t) =>
      json(await api.resume(s.sagas === undefined ? undefined : resolve(s.sagas, c, t), await body(c.req.raw))),
  },
};

/**
 * The operations UI: mount it where you like (`app.route("/admin", adminRoutes({ … }))`); nothing
 * serves it unless you do. Every request, the page and its assets included, first goes through
 * `auth` (required) with kind `"admin"`; refused requests get 401 or 403 and nothing else.
 *
 * @throws {ValidationError} no `auth` or `store`, a `traceUrl` that is not an http(s) URL with `{traceId}`.
 */
export function adminRoutes(options: AdminRoutesOptions): Hono {
  const settings = adminSettings(options);
  const app = new Hono();
  app.all("*", async (c) => {
    const { base, path } = mountOf(c);
    const route = routes[path === "" ? "/" : path];
    try {
      const asked: AuthRequest = { kind: "admin", type: route?.action ?? "read", request: c.req.raw, context: c };
      const principal = await authorize(settings.auth, asked);
      // The tenant is known before anything is routed: an operator without one gets nothing, not even the page.
      const tenant = settings.tenancy === undefined ? undefined : await tenantScope(settings.tenancy, principal, asked);
      // The page's URLs are relative to the mount with its slash: `/admin` goes to `/admin/`.
      if (path === "")
        return new Response(null, { status: 308, headers: { ...ADMIN_SECURITY_HEADERS, location: `${base}/` } });
      if (route === undefined) throw new RouteNotFoundError();
      // HEAD answers as GET does, without the content (RFC 9110 9.3.2).
      const head = c.req.method === "HEAD" && route.method === "GET";
      if (c.req.method !== route.method && !head) {
        throw new MethodNotAllowedError(c.req.method, route.method === "GET" ? ["GET", "HEAD"] : [route.method]);
      }
      if (route.method === "POST") checkCsrf(c.req.raw);
      const search = searchOf(c.req.url);
      // Escapes of bytes that are not UTF-8 (`%FF`, `%ED%A0%80`) are refused, as on the query and live
      // routes: URLSearchParams reads them as U+FFFD, which names another stream.
      parseQuery(search, (name) => ADMIN_PARAMETERS.has(name));
      const response = await route.run(c, settings, new URLSearchParams(search), tenant);
      return head ? await headResponse(response) : response;
    } catch (error) {
      const response = errorResponse(hideOtherTenants(error), ADMIN_SECURITY_HEADERS);
      // Another tenant's event met on a read is the store's fault: its isolation error is told to onError
      // (as the command routes report it, a 500 there), answered as missing. The 404 itself is no fault.
      const crossed = crossedTenants(error);
      if (response.status >= 500 || crossed !== undefined) {
        // Through callHook: a hook that throws is logged, and the operator still gets the problem answer.
        callHook("onError", settings.onError ?? defaultOnError, crossed ?? error, { request: c.req.raw, context: c });
      }
      // A problem's detail names what was asked for (a stream id, a projection): escaped as answers are.
      const escaped = new Response(escapeMarkup(await response.text()), {
        status: response.status,
        headers: response.headers,
      });
      return c.req.method === "HEAD" ? await headResponse(escaped) : escaped;
    }
  });
  return app;
}

/**
 * A tenant's store that met another tenant's event where the API did not already answer it as a
 * missing stream or event (the feed, a replay over a shared table) answers 404 too, saying nothing.
 */
function hideOtherTenants(error: unknown): unknown {
  return isTenantIsolationError(error) ? new AdminNotFoundError("event", "of this tenant there") : error;
}

/** The isolation error `error` is or wraps (a missing stream or event answered for it), if any. */
function crossedTenants(error: unknown): unknown {
  return [error, (error as Error | null | undefined)?.cause].find(isTenantIsolationError);
}

function checkCsrf(request: Request): void {
  if (request.headers.get(ADMIN_CSRF_HEADER) !== "1") {
    throw new ForbiddenError(`Send the ${ADMIN_CSRF_HEADER}: 1 header with admin actions`);
  }
  // Browsers say where a request comes from; a page of another site never gets to act here.
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none")
    throw new ForbiddenError("Cross-site admin actions are refused");
}

async function body(request: Request): Promise<unknown> {
  return (await readJsonBody(request, BODY_LIMIT)).value;
}

function json(data: unknown): Response {
  return text(escapeMarkup(JSON.stringify(data)), "application/json; charset=utf-8");
}

/** `<` as `\u003c` in JSON text: the JSON stays JSON, and no sniffing reader could find markup in it. */
function escapeMarkup(jsonText: string): string {
  return jsonText.replaceAll("<", "\\u003c");
}

function text(content: string, type: string): Response {
  return new Response(content, { headers: { ...ADMIN_SECURITY_HEADERS, "content-type": type } });
}

/** Where the sub-app is mounted (from the route Hono matched, `/admin/*`) and the path under it. */
function mountOf(c: Context): { base: string; path: string } {
  const matched = c.req.routePath;
  const pattern = matched.endsWith("/*") ? matched.slice(0, -2) : "";
  const depth = pattern === "" ? 0 : pattern.split("/").length - 1;
  const raw = pathOf(c.req.url);
  let index = 0;
  for (let i = 0; i < depth; i++) {
    const next = raw.indexOf("/", index + 1);
    index = next === -1 ? raw.length : next;
    if (next === -1) break;
  }
  return { base: raw.slice(0, index), path: raw.slice(index) };
}

function defaultOnError(error: unknown, info: { readonly request: Request }): void {
  getLogger().error("admin request failed with a server error", { method: info.request.method, error });
}
