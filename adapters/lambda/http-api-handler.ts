import {
  callHook,
  functionIssues,
  getLogger,
  type MessageMap,
  type MessageMetadata,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { headResponse } from "../http/head.js";
import {
  type AuthHook,
  correlationFrom,
  createHttpDispatcher,
  DISPATCHER_OPTIONS,
  errorResponse,
  type HttpDispatcherOptions,
  MethodNotAllowedError,
  type Mount,
  type Principal,
  RouteNotFoundError,
} from "../http/index.js";
import type { ApiGatewayProxyEventV2, ApiGatewayProxyResultV2, LambdaContext } from "./api-gateway-types.js";
import { assertHttpApiEvent, requestFromEvent, resultFromResponse } from "./event-request.js";

/** What the dispatcher's per-request values (auth hook, bus factories) receive on Lambda. */
export interface HttpApiRequestContext {
  readonly event: ApiGatewayProxyEventV2;
  readonly lambda: LambdaContext | undefined;
}

// `document` stays: the handler serves a prebuilt OpenAPI document as the dispatcher does (only the
// builder, `openapi`, is Hono's). `metadata` and `onError` are replaced below: they take the event.
export interface HttpApiHandlerOptions<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>
  extends Omit<HttpDispatcherOptions<C, Q, HttpApiRequestContext>, "metadata" | "onError"> {
  /**
   * A prefix before the routes, e.g. `"/api"`. Without it, a named stage's prefix (`/prod` when the
   * stage is `prod`) is taken off `rawPath`, as API Gateway adds it on its default endpoint.
   */
  readonly basePath?: string;
  /**
   * Adds to the metadata of every command and query (a tenant from a JWT claim, say), below the
   * principal's and the correlation's; a `userId` in it is dropped: who calls is the auth hook's to say.
   */
  readonly metadata?: (event: ApiGatewayProxyEventV2, context: LambdaContext | undefined) => MessageMetadata;
  /**
   * Told of every failure that becomes a 5xx, with the event, for logging: the client only ever
   * sees a generic problem. Defaults to an error line on the library's logger.
   */
  readonly onError?: (error: unknown, event: ApiGatewayProxyEventV2) => void;
}

export type HttpApiHandler = (
  event: ApiGatewayProxyEventV2,
  context?: LambdaContext,
) => Promise<ApiGatewayProxyResultV2>;

/**
 * Who the authorizer says is calling: the JWT `sub` claim, else a Cognito identity pool's identity id,
 * else the IAM caller's ARN, as the principal's `userId` (so it reaches the metadata and scopes
 * idempotency keys); `true` (allowed, no identity) when the route has no authorizer. The default auth
 * hook of {@link createHttpApiHandler}.
 */
export const authorizerPrincipal: AuthHook<HttpApiRequestContext> = (given): Principal | true => {
  const event = (given as { context?: { event?: unknown } } | null | undefined)?.context?.event;
  assertHttpApiEvent(event);
  const authorizer = event.requestContext.authorizer;
  const subject = authorizer?.jwt?.claims?.sub;
  if (typeof subject === "string" && subject !== "") return { userId: subject };
  // An identity pool's users all sign with one role's session (CognitoIdentityCredentials): the
  // session's ARN would make them one caller, sharing idempotency keys. Their identity ids differ.
  const identity = authorizer?.iam?.cognitoIdentity?.identityId;
  if (typeof identity === "string" && identity !== "") return { userId: identity };
  const arn = authorizer?.iam?.userArn;
  return typeof arn === "string" && arn !== "" ? { userId: arn } : true;
};

/**
 * A Lambda handler for an API Gateway HTTP API (payload format 2.0): the event becomes a web
 * `Request` for the HTTP dispatcher, whose `Response` becomes the result. It has every route and
 * check of the Hono routes (`POST {basePath}/commands/{type}`, `GET|POST {basePath}/queries/{type}`,
 * `/health/live`, `/health/ready`; declared types only, schema validation, the auth hook,
 * `Idempotency-Key`s, correlation ids, problem+json errors): see `createHttpDispatcher`.
 *
 * Only the command and query types given a schema are exposed: a handler registered on a bus
 * without one answers 404, so internal commands stay internal.
 *
 * @example
 * export const handler = createHttpApiHandler({
 *   commands: { bus: commands, schemas: { PlaceOrder: placeOrderSchema } },
 *   queries: { bus: queries, schemas: { GetOrder: getOrderSchema } },
 * });
 * @throws {ValidationError} invalid options: a bare bus instead of `{ bus, schemas }`, a bad limit or base path.
 */
export function createHttpApiHandler<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>(
  options: HttpApiHandlerOptions<C, Q>,
): HttpApiHandler {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: [], message: `options must be an object, got ${options === null ? "null" : typeof options}` },
    ]);
  }
  // The handler's own keys beside the dispatcher's: a misspelt `basepath` is named among them, not
  // refused as a routes option from a list without `basePath`.
  const unknown = unknownKeyIssues(options, [...DISPATCHER_OPTIONS, "basePath"]);
  if (unknown.length > 0) throw new ValidationError("Invalid HTTP API handler options", unknown);
  const basePath = normalizeBasePath(options.basePath);
  // Wrapped below before the dispatcher sees them, so checked here: the dispatcher would find functions.
  const notCallable = [...functionIssues(options.metadata, "metadata"), ...functionIssues(options.onError, "onError")];
  if (notCallable.length > 0) throw new ValidationError("Invalid HTTP API handler options", notCallable);
  if (options.commands === undefined && options.queries === undefined) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: [], message: "give commands: { bus, schemas }, queries: { bus, schemas }, or both" },
    ]);
  }
  for (const kind of ["commands", "queries"] as const) {
    const routes = options[kind] as { execute?: unknown; schemas?: unknown } | undefined;
    if (routes !== undefined && (typeof routes.execute === "function" || typeof routes.schemas !== "object")) {
      throw new ValidationError("Invalid HTTP API handler options", [
        {
          path: [kind],
          message: `${kind} must be { bus, schemas }: only the types given a schema are exposed over HTTP`,
        },
      ]);
    }
  }
  const userOnError = options.onError ?? defaultOnError;
  const userMetadata = options.metadata;
  const { basePath: _base, metadata: _metadata, onError: _onError, ...shared } = options;
  const dispatcher = createHttpDispatcher<C, Q, HttpApiRequestContext>({
    ...shared,
    auth: options.auth ?? authorizerPrincipal,
    ...(userMetadata === undefined
      ? {}
      : { metadata: (_request, context) => userMetadata(context.event, context.lambda) }),
    onError: (error, info) => userOnError(error, (info.context as HttpApiRequestContext).event),
  });
  const correlationHeader = dispatcher.settings.correlationHeader;
  const trust = options.trustClientCorrelation ?? true;

  return async (event, lambda) => {
    assertHttpApiEvent(event);
    const mount = mountOf(event, basePath);
    let request: Request;
    try {
      request = requestFromEvent(event);
    } catch (error) {
      let refused = error;
      if (isMethodNotAllowedError(error)) {
        const allow = mount === undefined ? undefined : dispatcher.allowed(mount.path);
        refused = allow === undefined ? notFound() : new MethodNotAllowedError(error.method, allow);
      }
      const response = errorResponse(refused, {
        [correlationHeader]: refusalCorrelation(event, correlationHeader, trust),
      });
      if (response.status >= 500) callHook("onError", userOnError, error, event);
      return resultFromResponse(await headless(event, response));
    }
    // The dispatcher answers HEAD without the content; so are the refusals made before it.
    const response =
      mount === undefined
        ? await headless(
            event,
            errorResponse(notFound(), { [correlationHeader]: refusalCorrelation(event, correlationHeader, trust) }),
          )
        : await dispatcher.handle(request, { event, lambda }, mount);
    return resultFromResponse(response);
  };
}

/**
 * The correlation id of a refusal made before the dispatcher (an event no request can be made of, a
 * path outside the base path): the caller's, as the dispatcher would take it, else a fresh one. A
 * `trustClientCorrelation` function needs a request, which there is none of: a fresh one then.
 */
function refusalCorrelation(event: ApiGatewayProxyEventV2, header: string, trust: unknown): string {
  const given = event.headers?.[header];
  if (trust === true && typeof given === "string") {
    try {
      return correlationFrom(new Headers({ [header]: given }), header).correlationId;
    } catch {
      // Not one the dispatcher would take (or no header value at all): a fresh id, as it would give.
    }
  }
  return crypto.randomUUID();
}

function headless(event: ApiGatewayProxyEventV2, response: Response): Response | Promise<Response> {
  return event.requestContext.http.method.toUpperCase() === "HEAD" ? headResponse(response) : response;
}

function isMethodNotAllowedError(error: unknown): error is MethodNotAllowedError {
  return error instanceof MethodNotAllowedError;
}

function notFound(): RouteNotFoundError {
  return new RouteNotFoundError();
}

// The routes' part of rawPath: after the base path, or after a named stage's prefix.
function mountOf(event: ApiGatewayProxyEventV2, basePath: string | undefined): Mount | undefined {
  const rawPath = event.rawPath;
  let base = basePath;
  if (base === undefined) {
    const stage = event.requestContext.stage;
    base = stage && stage !== "$default" && rawPath.startsWith(`/${stage}/`) ? `/${stage}` : "";
  }
  if (base !== "" && !rawPath.startsWith(`${base}/`)) return undefined;
  return { base, path: rawPath.slice(base.length) };
}

function normalizeBasePath(basePath: string | undefined): string | undefined {
  if (basePath === undefined) return undefined;
  if (basePath === "" || basePath === "/") return "";
  if (typeof basePath !== "string" || !basePath.startsWith("/") || basePath.includes("?") || basePath.includes("#")) {
    throw new ValidationError("Invalid HTTP API handler options", [
      { path: ["basePath"], message: 'basePath must be a path starting with "/"' },
    ]);
  }
  return basePath.endsWith("/") ? basePath.slice(0, -1) : basePath;
}

function defaultOnError(error: unknown, event: ApiGatewayProxyEventV2): void {
  // The method only: a raw path may carry ids, and the dispatcher's own span names the route.
  getLogger().error(`${event.requestContext.http.method} request failed`, {
    method: event.requestContext.http.method,
    error,
  });
}
