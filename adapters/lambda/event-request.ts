/**
 * Translating between API Gateway HTTP API events (payload format 2.0) and web `Request`/`Response`,
 * so a request goes through the same web-standard dispatcher as in every other HTTP adapter: the
 * event becomes a `Request` (cookies back into one `Cookie` header, base64 bodies decoded), and the
 * dispatcher's `Response` becomes the structured result (`Set-Cookie` headers as `cookies`, bodies
 * that are not text as base64).
 */
import { isWellFormedUnicode, ValidationError } from "../../src/index.js";
import { MethodNotAllowedError } from "../http/index.js";
import type { ApiGatewayProxyEventV2, ApiGatewayProxyResultV2 } from "./api-gateway-types.js";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// The Fetch standard's forbidden methods: a `Request` cannot carry them (Node's throws, Bun's differ).
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const encoder = new TextEncoder();

/**
 * The request API Gateway received, rebuilt from the event.
 * @throws {ValidationError} a header value that is not Latin-1 text (HTTP headers cannot carry it),
 * a body that is not valid base64, a path that makes no URL.
 * @throws {MethodNotAllowedError} a method a `Request` cannot carry (`TRACE`, `CONNECT`, not a token),
 * with an empty `allow`: the caller knows the route and what it allows.
 */
export function requestFromEvent(event: ApiGatewayProxyEventV2): Request {
  assertHttpApiEvent(event);
  const host = hostOf(event);
  if (!event.rawPath.startsWith("/")) {
    // Glued after the host, a path without its slash would extend the host (`@x` makes credentials).
    throw new ValidationError("Invalid request", [{ path: ["rawPath"], message: 'the path must start with "/"' }]);
  }
  // A raw `#` would start a fragment and drop the rest of the query; as %23 it is the same character
  // to the query's reader, so every parameter the client sent stays in the query.
  const query = event.rawQueryString ? `?${event.rawQueryString.replaceAll("#", "%23")}` : "";
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined || value === null) continue;
    try {
      headers.set(name, value);
    } catch {
      // Headers throws a TypeError for a value with characters above U+00FF or a malformed name.
      throw new ValidationError("Invalid request header", [
        { path: ["headers", clip(name)], message: "a header must have a token name and a Latin-1 (ISO-8859-1) value" },
      ]);
    }
  }
  if (event.cookies !== undefined && event.cookies.length > 0) {
    try {
      headers.set("cookie", event.cookies.join("; "));
    } catch {
      throw new ValidationError("Invalid request header", [
        { path: ["headers", "cookie"], message: "a cookie must be Latin-1 (ISO-8859-1) text" },
      ]);
    }
  }
  // Methods are case-sensitive (RFC 9110): `post` is not POST. It ran as POST here, where Node refuses
  // it (400) and Bun closes the connection; a Request would upper-case it itself, so it is refused first.
  const method = event.requestContext.http.method;
  if (FORBIDDEN_METHODS.has(method) || !TOKEN.test(method) || method !== method.toUpperCase()) {
    throw new MethodNotAllowedError(method, []);
  }
  const hasBody = event.body !== undefined && event.body !== null && method !== "GET" && method !== "HEAD";
  let url: URL;
  try {
    url = new URL(`https://${host}${event.rawPath}${query}`);
  } catch {
    throw new ValidationError("Invalid request", [{ path: ["rawPath"], message: "the path and host make no URL" }]);
  }
  return new Request(url, {
    method,
    headers,
    body: hasBody ? bodyBytes(event.body as string, event.isBase64Encoded) : null,
  });
}

/** The structured result for a `Response`: text bodies as they are, others base64; `Set-Cookie` as `cookies`. */
export async function resultFromResponse(response: Response): Promise<ApiGatewayProxyResultV2> {
  const r = response as Partial<Response> | null | undefined;
  if (
    typeof r?.status !== "number" ||
    typeof r.headers?.forEach !== "function" ||
    typeof r.headers.getSetCookie !== "function" ||
    typeof r.arrayBuffer !== "function"
  ) {
    throw new ValidationError("Invalid response", [{ path: ["response"], message: "must be a web Response" }]);
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  const result: { -readonly [K in keyof ApiGatewayProxyResultV2]: ApiGatewayProxyResultV2[K] } = {
    statusCode: response.status,
    headers,
  };
  if (cookies.length > 0) result.cookies = cookies;
  if (response.body === null) return result;
  const type = response.headers.get("content-type");
  const encoding = response.headers.get("content-encoding");
  if (isText(type) && (encoding === null || encoding.toLowerCase() === "identity")) {
    const text = await response.text();
    // An empty text body (a 204 built with one) is no body at all.
    if (text !== "") result.body = text;
    return result;
  }
  result.body = base64(new Uint8Array(await response.arrayBuffer()));
  result.isBase64Encoded = true;
  return result;
}

function isText(contentType: string | null): boolean {
  if (contentType === null) return true;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return (
    type.startsWith("text/") ||
    type === "application/json" ||
    type.endsWith("+json") ||
    type === "application/xml" ||
    type.endsWith("+xml") ||
    type === "application/javascript"
  );
}

function bodyBytes(body: string, isBase64: boolean): Uint8Array<ArrayBuffer> {
  if (!isBase64) {
    // A lone surrogate has no UTF-8 form: encoding made it U+FFFD and the command ran with it, where
    // the same text base64-encoded, or sent as bytes to Node or Bun, is refused as not UTF-8.
    if (!isWellFormedUnicode(body)) {
      throw new ValidationError("Malformed request body", [{ path: [], message: "the body is not valid UTF-8" }]);
    }
    return encoder.encode(body);
  }
  // Both patterns are one character class each: linear in the body's length, whatever it holds.
  const compact = body.replace(/[\t\n\r ]+/g, "");
  const malformed = () =>
    new ValidationError("Malformed request body", [{ path: [], message: "the body is not valid base64" }]);
  if (compact.length % 4 === 1 || !BASE64.test(compact)) throw malformed();
  let binary: string;
  try {
    binary = atob(compact);
  } catch {
    // Padding the alphabet check lets through but atob refuses ("A=", "AB=", "=="): a DOMException.
    throw malformed();
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  // In chunks: spreading a whole large body into one call would exceed the argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

// Characters that end a URL's host or put credentials before it: a host holding one would move text of
// its own into the path, the query or the fragment, or make a URL a Request refuses (credentials).
const NOT_IN_HOST = /[/?#@\\]/;

/**
 * The host for the request's URL: API Gateway's domain name, else the Host header (an event without
 * a domain name, from a test or a custom invoker), else `localhost`.
 * @throws {ValidationError} a host that is more than a host, naming where it came from.
 */
function hostOf(event: ApiGatewayProxyEventV2): string {
  const domainName = event.requestContext.domainName;
  if (domainName) return checkedHost(domainName, ["requestContext", "domainName"]);
  const header = event.headers?.host;
  if (header === undefined || header === null || header === "") return "localhost";
  return checkedHost(String(header), ["headers", "host"]);
}

function checkedHost(host: string, path: readonly string[]): string {
  if (NOT_IN_HOST.test(host)) {
    throw new ValidationError("Invalid request", [
      { path: [...path], message: "must be a host name and port only (no credentials, path, query or fragment)" },
    ]);
  }
  // Checked alone, so that a host the URL parser refuses (a space, a port over 65535) is named, not rawPath.
  try {
    new URL(`https://${host}/`);
  } catch {
    throw new ValidationError("Invalid request", [{ path: [...path], message: "must be a valid host name and port" }]);
  }
  return host;
}

function clip(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

/**
 * An API Gateway HTTP API event of payload format 2.0, as far as the translation reads it: checked
 * before it is read, so that another event (format 1.0, an SQS batch, a string) is a ValidationError
 * saying so, not a TypeError.
 */
export function assertHttpApiEvent(event: unknown): asserts event is ApiGatewayProxyEventV2 {
  const e = event as Partial<ApiGatewayProxyEventV2> | null;
  if (
    typeof e !== "object" ||
    e === null ||
    typeof e.rawPath !== "string" ||
    typeof e.requestContext?.http?.method !== "string"
  ) {
    throw new ValidationError("Not an API Gateway HTTP API event", [
      {
        path: [],
        message:
          'expected payload format 2.0 (rawPath, requestContext.http.method): set the integration\'s payloadFormatVersion to "2.0"',
      },
    ]);
  }
  const issues = [];
  if (e.headers !== undefined && e.headers !== null && (typeof e.headers !== "object" || Array.isArray(e.headers))) {
    issues.push({ path: ["headers"], message: "must be an object of header names to values" });
  }
  if (e.cookies !== undefined && !(Array.isArray(e.cookies) && e.cookies.every((c) => typeof c === "string"))) {
    issues.push({ path: ["cookies"], message: "must be an array of strings" });
  }
  // Both are read as text (the stage against rawPath, the domain name into the URL).
  for (const key of ["stage", "domainName"] as const) {
    const value = e.requestContext?.[key];
    if (value !== undefined && value !== null && typeof value !== "string") {
      issues.push({ path: ["requestContext", key], message: "must be a string" });
    }
  }
  // Read by truthiness, a string "false" would have a plain body decoded as base64.
  if (e.isBase64Encoded !== undefined && e.isBase64Encoded !== null && typeof e.isBase64Encoded !== "boolean") {
    issues.push({ path: ["isBase64Encoded"], message: "must be a boolean" });
  }
  for (const key of ["rawQueryString", "body"] as const) {
    if (e[key] !== undefined && e[key] !== null && typeof e[key] !== "string") {
      issues.push({ path: [key], message: "must be a string" });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid API Gateway HTTP API event", issues);
}
