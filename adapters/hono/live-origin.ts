/**
 * Which pages may open the live WebSocket route. A browser sends its cookies with a WebSocket
 * handshake to any site, and CORS does not apply to WebSockets, so a page of another origin could
 * otherwise read the events of whoever visits it, where the auth hook reads a cookie. The browser
 * names the page in `Origin`; clients that are not browsers send none and are not concerned.
 */
import type { Issue } from "../../src/index.js";
import { ForbiddenError } from "../http/index.js";

/** Anyone: the check is off (the auth hook does not read anything a browser sends on its own). */
export const ANY_ORIGIN = "*";

/** Issues of the `origins` option: absent, or a list of `scheme://host[:port]` origins, or `["*"]`. */
export function originsIssues(origins: unknown): Issue[] {
  if (origins === undefined) return [];
  if (!Array.isArray(origins)) return [{ path: ["origins"], message: "origins must be an array of origins" }];
  return origins.flatMap((origin, index) =>
    origin === ANY_ORIGIN || isOrigin(origin)
      ? []
      : [{ path: ["origins", index], message: 'each origin must be scheme://host[:port] as browsers send it, or "*"' }],
  );
}

function isOrigin(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** The URL's host; none when the URL is none (Bun's `request.url` of a request without a `Host`). */
function urlHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/**
 * Refuses (403) a WebSocket upgrade whose `Origin` is neither listed nor the server's own. The own
 * origin is judged by host alone (the `Host` the browser sent): behind a proxy that ends TLS, the
 * request's URL says `http` where the page's origin says `https`.
 * @throws {ForbiddenError} the page that asked is of another origin.
 */
export function assertOriginAllowed(request: Request, origins: readonly string[] | undefined): void {
  const origin = request.headers.get("origin");
  if (origin === null || origins?.includes(ANY_ORIGIN) || origins?.includes(origin)) return;
  const host = request.headers.get("host") ?? urlHost(request.url);
  if (isOrigin(origin) && new URL(origin).host === host) return;
  throw new ForbiddenError("WebSocket subscriptions from pages of another origin are refused");
}
