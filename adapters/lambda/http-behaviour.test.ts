/**
 * The shared HTTP behaviour suite run through the Lambda handler: each `Request` becomes an API
 * Gateway HTTP API event (on a named stage, so the stage prefix is in `rawPath`, as on the default
 * endpoint), and the handler's result becomes a `Response` again.
 */

import { httpBehaviourSuite } from "../http/behaviour-suite.fixture.test.ts";
import type { CartCommands, CartQueries } from "../http/cart-domain.fixture.test.ts";
import documented from "./fixtures/http-api-v2-event.json";
import {
  type ApiGatewayProxyEventV2,
  type ApiGatewayProxyResultV2,
  createHttpApiHandler,
  type HttpApiHandlerOptions,
} from "./index.js";

const STAGE = "prod";
// ignoreBOM: API Gateway passes a text body on as it came, a leading BOM included; decoding it away
// here sent the handler another body than the other adapters get.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The event API Gateway would send for `request`: text bodies as text, other bytes base64. */
export async function eventFromRequest(request: Request, stage = STAGE): Promise<ApiGatewayProxyEventV2> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    if (name !== "cookie") headers[name] = value;
  });
  const cookie = request.headers.get("cookie");
  const bytes = new Uint8Array(await request.arrayBuffer());
  let body: string | undefined;
  let isBase64Encoded = false;
  if (bytes.length > 0) {
    try {
      body = utf8.decode(bytes);
    } catch {
      body = btoa(String.fromCharCode(...bytes));
      isBase64Encoded = true;
    }
  }
  const rawPath = stage === "$default" ? url.pathname : `/${stage}${url.pathname}`;
  const base = structuredClone(documented) as unknown as ApiGatewayProxyEventV2;
  const { authorizer: _authorizer, ...context } = base.requestContext;
  return {
    ...base,
    rawPath,
    rawQueryString: url.search.slice(1),
    headers,
    ...(cookie === null ? { cookies: undefined } : { cookies: cookie.split("; ") }),
    ...(body === undefined ? { body: undefined } : { body }),
    isBase64Encoded,
    requestContext: { ...context, stage, http: { ...context.http, method: request.method, path: rawPath } },
  } as ApiGatewayProxyEventV2;
}

/** The `Response` a client would get for a handler's result. */
export function responseFromResult(result: ApiGatewayProxyResultV2): Response {
  const headers = new Headers(result.headers as Record<string, string>);
  for (const cookie of result.cookies ?? []) headers.append("set-cookie", cookie);
  const body =
    result.body === undefined
      ? null
      : result.isBase64Encoded
        ? Uint8Array.from(atob(result.body), (c) => c.charCodeAt(0))
        : result.body;
  return new Response(body, { status: result.statusCode, headers });
}

httpBehaviourSuite("Lambda HTTP API handler", (options) => {
  const handler = createHttpApiHandler(options as HttpApiHandlerOptions<CartCommands, CartQueries>);
  return async (request) => responseFromResult(await handler(await eventFromRequest(request)));
});
