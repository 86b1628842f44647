/**
 * Turning an API Gateway HTTP API event into a web `Request`, so that the request goes through the
 * same web-standard code (body limits, media types, correlation) as in every other HTTP adapter.
 */
import { ValidationError } from "../../src/index.js";
import type { ApiGatewayProxyEventV2 } from "./api-gateway-types.js";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The request API Gateway received, rebuilt from the event. */
export function requestFromEvent(event: ApiGatewayProxyEventV2): Request {
  const host = event.requestContext.domainName || "localhost";
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers.set(name, value);
  }
  if (event.cookies !== undefined && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "));
  const method = event.requestContext.http.method.toUpperCase();
  const hasBody = event.body !== undefined && event.body !== null && method !== "GET" && method !== "HEAD";
  return new Request(`https://${host}${event.rawPath}${query}`, {
    method,
    headers,
    body: hasBody ? bodyBytes(event.body as string, event.isBase64Encoded) : null,
  });
}

function bodyBytes(body: string, base64: boolean): Uint8Array<ArrayBuffer> {
  if (!base64) return new TextEncoder().encode(body);
  const compact = body.replace(/\s+/g, "");
  if (compact.length % 4 === 1 || !BASE64.test(compact)) {
    throw new ValidationError("Malformed request body", [{ path: [], message: "the body is not valid base64" }]);
  }
  const binary = atob(compact);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
