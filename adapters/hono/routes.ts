/**
 * The Hono routes: the framework-free dispatcher of ../http mounted on a Hono app, plus the OpenAPI
 * document built from the same schemas. Everything a request goes through (routing, limits,
 * validation, auth, idempotency, correlation, errors) is the dispatcher's; this file only hands it
 * Hono's request and context and says where the routes are mounted.
 */
import { type Context, Hono } from "hono";
import { isValidationError, type MessageMap, unknownKeyIssues, ValidationError } from "../../src/index.js";
import {
  createHttpDispatcher,
  type DocumentRoute,
  type AuthHook as HttpAuthHook,
  type AuthRequest as HttpAuthRequest,
  type CommandRoutes as HttpCommandRoutes,
  type HttpDispatcherOptions,
  type ErrorInfo as HttpErrorInfo,
  type FromContext as HttpFromContext,
  type HealthOptions as HttpHealthOptions,
  type QueryRoutes as HttpQueryRoutes,
  type TenancyRoutes as HttpTenancyRoutes,
  type Mount,
  pathOf,
} from "../http/index.js";
import { type DocumentSpec, infoAndServersIssues, type OpenApiOptions, openApiDocument } from "./openapi.js";

export type { PayloadSchema, Principal, RouteDefinition, RouteSchema } from "../http/index.js";

/** A value, or a function of the request context that gives it (Workers build clients from `c.env`). */
export type FromContext<T> = HttpFromContext<T, Context>;
export type CommandRoutes<C extends MessageMap> = HttpCommandRoutes<C, Context>;
export type QueryRoutes<Q extends MessageMap> = HttpQueryRoutes<Q, Context>;
export type AuthRequest = HttpAuthRequest<Context>;
/**
 * Decides before dispatch: return a `Principal` (or `true`, allowed without an identity) to allow,
 * `false` to refuse (403), or throw `UnauthorizedError` (401) or `ForbiddenError` (403) to say why.
 */
export type AuthHook = HttpAuthHook<Context>;
export type HealthOptions = HttpHealthOptions<Context>;
export type ErrorInfo = HttpErrorInfo<Context>;
/** The `tenancy` option: the caller's tenant from the auth hook's principal (see docs/guide/multi-tenancy.md). */
export type TenancyRoutes = HttpTenancyRoutes<Context>;

export interface EventFlowsRoutesOptions<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>
  extends Omit<HttpDispatcherOptions<C, Q, Context>, "document"> {
  /**
   * The OpenAPI document route; `false` leaves it out. Defaults to `GET /openapi.json`. With
   * `auth: true` the auth hook decides who may read it.
   */
  readonly openapi?: (OpenApiOptions & { readonly auth?: boolean }) | false;
}

// A misspelt key was dropped: `evnts` left the event schemas out, `auht` served the document to anyone.
const OPENAPI_OPTIONS = [
  "info",
  "path",
  "servers",
  "securitySchemes",
  "security",
  "events",
  "auth",
] as const satisfies readonly (keyof Exclude<EventFlowsRoutesOptions["openapi"], false | undefined>)[];

/**
 * Builds a Hono app with the command, query, health and OpenAPI routes; mount it where you like
 * with `app.route("/api", eventFlowsRoutes({ … }))`. The routes, their checks and their errors are
 * the HTTP dispatcher's (`createHttpDispatcher` in `@eventflows/core/http`).
 *
 * @throws {ValidationError} invalid options: a schema that is not a valibot schema, a bad limit.
 */
export function eventFlowsRoutes<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>(
  options: EventFlowsRoutesOptions<C, Q>,
): Hono {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid routes options", [
      { path: [], message: `options must be an object, got ${options === null ? "null" : typeof options}` },
    ]);
  }
  const { openapi, ...rest } = options;
  // The dispatcher checks the rest; `document` is its option, which these routes build from `openapi`.
  const issues = unknownKeyIssues(openapi === false ? undefined : openapi, OPENAPI_OPTIONS, ["openapi"]);
  if (typeof openapi === "object" && openapi !== null) issues.push(...infoAndServersIssues(openapi, ["openapi"]));
  if ("document" in rest)
    issues.push({ path: ["document"], message: "is not an option: the document route is openapi" });
  if (issues.length > 0) throw new ValidationError("Invalid routes options", issues);
  let spec: DocumentSpec | undefined;
  let document: DocumentRoute | undefined;
  if (openapi !== false) {
    const documents = new Map<string, string>();
    document = {
      path: openapi?.path ?? "/openapi.json",
      // As given: the dispatcher refuses an auth that is not a boolean, or true without a hook.
      auth: openapi?.auth,
      // The document names the path it is served under, so it is right wherever the app is mounted.
      document: (base) => {
        let text = documents.get(base);
        if (text === undefined) {
          text = JSON.stringify(openApiDocument(spec as DocumentSpec, openapi ?? {}, base));
          if (documents.size < 16) documents.set(base, text);
        }
        return text;
      },
    };
  }
  const dispatcher = asOpenApiOption(() =>
    createHttpDispatcher<C, Q, Context>(document === undefined ? rest : { ...rest, document }),
  );
  spec = { routes: dispatcher.routes.map((route) => route.description), ...dispatcher.settings };

  const app = new Hono();
  for (const pattern of dispatcher.patterns) {
    const depth = pattern.split("/").length - 1;
    // Every method: the dispatcher answers the ones a route does not take with 405 and `Allow`.
    app.all(pattern, (c) => {
      const request = c.req.raw;
      // Middleware read the body already: Hono keeps a copy, which the dispatcher reads instead.
      if (request.bodyUsed) return rereadBody(c).then((copy) => dispatcher.handle(copy, c, mountOf(copy.url, depth)));
      return dispatcher.handle(request, c, mountOf(request.url, depth));
    });
  }
  return app;
}

/** Mounts {@link eventFlowsRoutes} on `app` under `path` and returns `app`. */
export function mountEventFlows<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>(
  // biome-ignore lint/suspicious/noExplicitAny: any app, whatever its env and schema
  app: Hono<any, any, any>,
  path: string,
  options: EventFlowsRoutesOptions<C, Q>,
): typeof app {
  app.route(path, eventFlowsRoutes(options));
  return app;
}

async function rereadBody(c: Context): Promise<Request> {
  const request = c.req.raw;
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: await c.req.arrayBuffer(),
  });
}

// Hono matched the route: its last `depth` segments are the routes' path, what precedes is the mount.
function mountOf(url: string, depth: number): Mount {
  const path = pathOf(url);
  let index = path.length;
  for (let i = 0; i < depth && index > 0; i++) index = path.lastIndexOf("/", index - 1);
  return { base: path.slice(0, Math.max(index, 0)), path: path.slice(Math.max(index, 0)) };
}

/**
 * The dispatcher's `document` route is these routes' `openapi` option: its problems are named so,
 * and so is the option list an unknown key is told. The message is made again from the renamed
 * issues: the dispatcher's spelt them out under `document`.
 */
function asOpenApiOption<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!isValidationError(error)) throw error;
    let renamed = false;
    const issues = error.issues.map((issue) => {
      if (issue.path[0] === "document") {
        renamed = true;
        return { ...issue, path: ["openapi", ...issue.path.slice(1)] };
      }
      if (issue.path.length === 1 && issue.message.startsWith(UNKNOWN_OPTION)) {
        renamed = true;
        return { ...issue, message: issue.message.replace(", document,", ", openapi,") };
      }
      return issue;
    });
    if (!renamed) throw error;
    // Its title: what precedes the issues the message spells out (titles hold no ": ").
    throw new ValidationError(error.message.slice(0, error.message.indexOf(": ")), issues);
  }
}

// How `unknownKeyIssues` begins an unknown key's issue, before the list of the options.
const UNKNOWN_OPTION = "is not an option (the options are ";
