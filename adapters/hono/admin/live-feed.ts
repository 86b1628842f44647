/**
 * `api/live`: the global feed as Server-Sent Events for the operations UI, from the same `LiveHub`
 * the live routes serve (the admin routes' auth hook has already admitted the request: an operator
 * sees every event). The page's `EventSource` resumes with `Last-Event-ID` as any SSE client does.
 */
import type { Context } from "hono";
import { type LiveHub, ValidationError } from "../../../src/index.js";
import { SSE_HEADERS, sseBody } from "../live-sse.js";
import { singleParam } from "./params.js";

/** A heartbeat comment after this long idle keeps proxies from closing a quiet page's stream. */
const HEARTBEAT_MS = 15_000;
const POSITION = /^\d{1,16}$/;

/**
 * `headers` are the admin routes' own (CSP and the rest), with the SSE ones, but for caching: the
 * stream carries event data, so it is `no-store` (and `no-transform`) as every admin answer is, where
 * the SSE headers' `no-cache` let a cache keep it (outside audit).
 * @throws {ValidationError} `from` (or `Last-Event-ID`) is not a global position.
 * @throws {TooManyLiveClientsError} the hub serves its `maxClients` already (503).
 * @throws {LiveHubClosedError} the hub is closed (503).
 */
export async function liveFeed(
  c: Context,
  hub: LiveHub,
  params: URLSearchParams,
  headers: Readonly<Record<string, string>>,
): Promise<Response> {
  const lastEventId = c.req.header("last-event-id");
  const from =
    lastEventId === undefined || lastEventId === "" ? (singleParam(params, "from") ?? undefined) : lastEventId;
  if (from !== undefined && (!POSITION.test(from) || !Number.isSafeInteger(Number(from)))) {
    throw new ValidationError("Invalid live feed request", [
      { path: ["from"], message: "from (or Last-Event-ID) must be a global position: a non-negative integer" },
    ]);
  }
  // HEAD: the same checks and headers, the hub's included (closed, full: 503), and no connection,
  // which nothing would read.
  if (c.req.method === "HEAD") {
    hub.assertCanConnect();
    return new Response(null, { headers: liveHeaders(headers) });
  }
  const connection = await hub.connect({ after: from === undefined ? undefined : Number(from) });
  return new Response(sseBody(connection, HEARTBEAT_MS, c.req.raw.signal, true), {
    headers: liveHeaders(headers),
  });
}

function liveHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return { ...headers, ...SSE_HEADERS, "cache-control": "no-store, no-transform" };
}
