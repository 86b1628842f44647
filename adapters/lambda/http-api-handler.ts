import {
  type CommandBus,
  HandlerNotFoundError,
  type MessageBus,
  type MessageMetadata,
  type QueryBus,
  ulid,
  ValidationError,
} from "../../src/index.js";
import {
  CORRELATION_HEADER,
  correlationFrom,
  DEFAULT_BODY_LIMIT,
  MethodNotAllowedError,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  problem,
  problemFor,
  problemHeaders,
  readJsonBody,
} from "../http/index.js";
import type { ApiGatewayProxyEventV2, ApiGatewayProxyResultV2, LambdaContext } from "./api-gateway-types.js";
import { requestFromEvent } from "./event-request.js";

export interface HttpApiHandlerOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any message map; the handler routes by name at run time
  readonly commands?: CommandBus<any>;
  // biome-ignore lint/suspicious/noExplicitAny: any message map; the handler routes by name at run time
  readonly queries?: QueryBus<any>;
  /**
   * A prefix before `/commands` and `/queries`, e.g. `"/api"`. With a named stage (not `$default`),
   * `rawPath` starts with the stage name: include it here (`"/prod"`).
   */
  readonly basePath?: string;
  /** Largest accepted request body in bytes, after base64 decoding. Defaults to 1 MiB. */
  readonly bodyLimit?: number;
  /** Adds to the metadata of every command and query (a tenant from a JWT claim, say). */
  readonly metadata?: (event: ApiGatewayProxyEventV2, context: LambdaContext | undefined) => MessageMetadata;
  /**
   * Told of every failure that becomes a 5xx, with the event, for logging: the client only ever
   * sees a generic problem. Defaults to `console.error`.
   */
  readonly onError?: (error: unknown, event: ApiGatewayProxyEventV2) => void;
}

export type HttpApiHandler = (
  event: ApiGatewayProxyEventV2,
  context?: LambdaContext,
) => Promise<ApiGatewayProxyResultV2>;

type Route = { readonly kind: "command" | "query"; readonly type: string };

const NOT_FOUND = "NOT_FOUND";

/**
 * A Lambda handler for an API Gateway HTTP API (payload format 2.0) that runs commands and queries:
 *
 * - `POST {basePath}/commands/{type}` with a JSON body: the command's payload;
 * - `GET {basePath}/queries/{type}?a=1&b=2`: the query string is the payload (repeated parameters
 *   become lists); `POST {basePath}/queries/{type}` takes a JSON body instead.
 *
 * A result is returned as JSON with status 200 (204 when the handler returns nothing). Failures are
 * RFC 9457 problem details: invalid input 400, unknown type or route 404, wrong method 405, version
 * conflict 409, body too large 413, anything else 500 without its message.
 *
 * @example
 * export const handler = createHttpApiHandler({ commands, queries });
 */
export function createHttpApiHandler(options: HttpApiHandlerOptions): HttpApiHandler {
  const basePath = normalizeBasePath(options.basePath);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: ["bodyLimit"], message: "bodyLimit must be a positive integer" },
    ]);
  }
  if (options.commands === undefined && options.queries === undefined) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: [], message: "give a command bus, a query bus, or both" },
    ]);
  }
  const onError = options.onError ?? defaultOnError;

  return async (event, context) => {
    assertHttpApiEvent(event);
    let correlationId: string | undefined;
    try {
      const request = requestFromEvent(event);
      const correlation = correlationFrom(request.headers);
      correlationId = correlation.correlationId;
      const route = routeOf(event.rawPath, basePath);
      if (route === undefined) {
        return problemResult(problem(404, NOT_FOUND, "No route matches this path"), {}, correlationId);
      }
      const bus: MessageBus | undefined = route.kind === "command" ? options.commands : options.queries;
      if (bus === undefined) throw new HandlerNotFoundError(route.kind, clip(route.type));
      const method = event.requestContext.http.method.toUpperCase();
      const allow = route.kind === "command" ? ["POST"] : ["GET", "POST"];
      if (!allow.includes(method)) throw new MethodNotAllowedError(method, allow);
      const payload =
        method === "GET" ? queryPayload(event.rawQueryString) : (await readJsonBody(request, bodyLimit)).value;
      const metadata: MessageMetadata = {
        ...options.metadata?.(event, context),
        ...correlation,
        ...callerOf(event),
      };
      // No body means an empty payload: commands without data are common, and a schema still checks it.
      const result = await bus.execute(route.type, payload ?? {}, { metadata });
      const headers = { [CORRELATION_HEADER]: correlationId };
      if (result === undefined) return { statusCode: 204, headers };
      return {
        statusCode: 200,
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(result),
      };
    } catch (error) {
      const details = problemFor(error);
      if (details.status >= 500) reportSafely(onError, error, event);
      return problemResult(details, problemHeaders(error, details), correlationId ?? ulid());
    }
  };
}

// A type named in a path is echoed in the 404: clipped, so the problem names it without mirroring input.
function clip(type: string): string {
  return type.length > 64 ? `${type.slice(0, 64)}…` : type;
}

function problemResult(
  details: ProblemDetails,
  headers: Record<string, string>,
  correlationId: string | undefined,
): ApiGatewayProxyResultV2 {
  return {
    statusCode: details.status,
    headers: {
      ...headers,
      "content-type": PROBLEM_CONTENT_TYPE,
      ...(correlationId === undefined ? {} : { [CORRELATION_HEADER]: correlationId }),
    },
    body: JSON.stringify(details),
  };
}

function routeOf(rawPath: string, basePath: string): Route | undefined {
  if (basePath !== "" && !rawPath.startsWith(`${basePath}/`)) return undefined;
  const rest = rawPath.slice(basePath.length).split("/");
  // ["", "commands", "{type}"]: exactly two segments after the base path.
  if (rest.length !== 3 || rest[0] !== "") return undefined;
  const kind = rest[1] === "commands" ? "command" : rest[1] === "queries" ? "query" : undefined;
  const encoded = rest[2] ?? "";
  if (kind === undefined || encoded === "") return undefined;
  let type: string;
  try {
    type = decodeURIComponent(encoded);
  } catch {
    throw new ValidationError("Invalid path", [
      { path: ["path", "type"], message: "the type is not valid URL encoding" },
    ]);
  }
  return { kind, type };
}

function queryPayload(rawQueryString: string): Record<string, unknown> {
  // A null-prototype object: `__proto__` in a URL stays a plain key.
  const payload: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    const existing = payload[key];
    if (existing === undefined) payload[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else payload[key] = [existing, value];
  }
  return payload;
}

/** Who is calling, as an authorizer established it: the JWT subject or the IAM caller. */
function callerOf(event: ApiGatewayProxyEventV2): { userId?: string } {
  const authorizer = event.requestContext.authorizer;
  const subject = authorizer?.jwt?.claims?.sub;
  if (typeof subject === "string" && subject !== "") return { userId: subject };
  const arn = authorizer?.iam?.userArn;
  return typeof arn === "string" && arn !== "" ? { userId: arn } : {};
}

function normalizeBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === "" || basePath === "/") return "";
  if (!basePath.startsWith("/") || basePath.includes("?") || basePath.includes("#")) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: ["basePath"], message: 'basePath must be a path starting with "/"' },
    ]);
  }
  return basePath.endsWith("/") ? basePath.slice(0, -1) : basePath;
}

function assertHttpApiEvent(event: unknown): asserts event is ApiGatewayProxyEventV2 {
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
}

function defaultOnError(error: unknown, event: ApiGatewayProxyEventV2): void {
  console.error(`[eventflows] ${event.requestContext.http.method} ${event.rawPath} failed`, error);
}

function reportSafely(
  onError: (error: unknown, event: ApiGatewayProxyEventV2) => void,
  error: unknown,
  event: ApiGatewayProxyEventV2,
): void {
  try {
    onError(error, event);
  } catch (hookError) {
    console.error("[eventflows] the onError hook itself threw", hookError);
  }
}
