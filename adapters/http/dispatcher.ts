/**
 * The HTTP dispatcher: one framework-free `Request` in, `Response` out, for every HTTP adapter. The
 * Hono routes mount it, the Lambda handler translates API Gateway events onto it; it alone parses,
 * routes, limits, validates, authorizes, keeps idempotency keys, correlates and maps errors.
 */
import type { Span } from "@opentelemetry/api";
import { safeParse, safeParseAsync } from "valibot";
import {
  type AnySchema,
  activeTracer,
  callHook,
  functionIssues,
  getLogger,
  HandlerNotFoundError,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  type Issue,
  isHandlerNotFoundError,
  MAX_DELAY_MS,
  type MessageBus,
  type MessageKind,
  type MessageMap,
  type MessageMetadata,
  ServiceError,
  toIssue,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { CORRELATION_HEADER, correlationFrom, type RequestCorrelation } from "./correlation.js";
import type {
  AnyTenantScope,
  AuthHook,
  AuthRequest,
  ErrorInfo,
  FromContext,
  HealthOptions,
  HttpDispatcherOptions,
  IdempotencyOptions,
  MetricsRoute,
  Principal,
} from "./dispatcher-options.js";
import { configurationFault, ForbiddenError, MethodNotAllowedError, RouteNotFoundError } from "./errors.js";
import { headResponse } from "./head.js";
import {
  busProbe,
  checkReadiness,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_READINESS_CACHE_MS,
  notReadyProblem,
  type Probe,
  type ProbeResult,
  type ReadinessReport,
  readinessCache,
  storeProbe,
} from "./health.js";
import {
  IDEMPOTENCY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyKeyFrom,
  principalIdentity,
  requestFingerprint,
  runOnce,
  scopedIdempotencyKey,
  storedResponse,
} from "./idempotency.js";
import { errorResponse, isMarkedEventFlowsError, problemResponse } from "./problem-details.js";
import { searchOf } from "./query-string.js";
import { DEFAULT_BODY_LIMIT, DEFAULT_JSON_DEPTH_LIMIT, readJsonBody } from "./request-body.js";
import { clipType, type Route, routeTable } from "./route-table.js";
import { tenancyIssues, tenantScope } from "./tenancy.js";
import { recordRequestError, tracedRequest } from "./tracing.js";

/** Where the routes are mounted, as the adapter knows it: the raw path before them, and the raw path after. */
export interface Mount {
  /** `""` at the root, else the raw path prefix (`"/api"`). */
  readonly base: string;
  /** The raw (still percent-encoded) path relative to `base`: `"/commands/PlaceOrder"`. */
  readonly path: string;
}

export interface HttpDispatcher<X = unknown> {
  /**
   * Answers one request. `mount` says which part of the URL's path is the routes'; without it the
   * whole path is (routes at the root).
   */
  handle(request: Request, context: X, mount?: Mount): Promise<Response>;
  /** The methods a path (relative to the mount) takes, or `undefined` when no route has that path. */
  allowed(path: string): readonly string[] | undefined;
  /** Every path the dispatcher answers, as route patterns (`/commands/:type`), for adapters that register routes. */
  readonly patterns: readonly string[];
  /** The declared command and query routes, for documents describing them. */
  readonly routes: readonly Route[];
  /** The settings a document describes: body and depth limits, correlation header, whether idempotency and auth apply. */
  readonly settings: {
    readonly bodyLimit: number;
    /** How deeply a JSON body's arrays and objects may nest (`jsonDepthLimit`). */
    readonly depthLimit: number;
    readonly correlationHeader: string;
    readonly idempotency: boolean;
    readonly auth: boolean;
    readonly health: boolean;
    /** The health routes run the auth hook (`health.auth` with an auth hook). */
    readonly healthAuth: boolean;
    /** Requests run in the caller's tenant: 401 and 403 without an auth hook too, and 429 over a tenant's quota. */
    readonly tenancy: boolean;
  };
}

// Every option the dispatcher takes: any other key (a misspelt `auth`) is refused, not dropped.
export const DISPATCHER_OPTIONS = [
  "commands",
  "queries",
  "auth",
  "idempotency",
  "bodyLimit",
  "jsonDepthLimit",
  "correlationHeader",
  "trustClientCorrelation",
  "health",
  "document",
  "metrics",
  "tenancy",
  "metadata",
  "onError",
  "telemetry",
] as const satisfies readonly (keyof HttpDispatcherOptions)[];
const HEALTH_OPTIONS = [
  "store",
  "bus",
  "probes",
  "timeoutMs",
  "cacheMs",
  "auth",
] as const satisfies readonly (keyof HealthOptions)[];

const JSON_TYPE = "application/json";
const NO_STORE = { "cache-control": "no-store" } as const;
const COMMAND_METHODS = ["POST"] as const;
// HEAD answers as GET does, without the content (RFC 9110 9.3.2): wherever GET is served.
const QUERY_METHODS = ["GET", "HEAD", "POST"] as const;
const READ_METHODS = ["GET", "HEAD"] as const;

type Target =
  | { readonly route: "message"; readonly kind: MessageKind; readonly type: string }
  | { readonly route: "live" | "ready" | "document" | "metrics" | "none" };

/**
 * Builds the dispatcher. Routes, relative to where it is mounted:
 *
 * - `POST /commands/:type`: the JSON body is the command's payload.
 * - `GET /queries/:type` (query string) and `POST /queries/:type` (JSON body).
 * - `GET /health/live`, `GET /health/ready` (unless `health: false`), and the `document` and
 *   `metrics` routes if given.
 *
 * `HEAD` is answered wherever `GET` is, as `GET` would be without the content (errors too). Any
 * other method on these paths is 405 problem+json with `Allow`. A command or query request is
 * checked in this order, and stops at the first problem: method (405), correlation header (400), auth
 * hook (401/403), type declared (404), `Idempotency-Key` header and caller identity (400), media type
 * (415), size (413), nesting depth and JSON (400), schema (400), idempotency record (409/422), then dispatch.
 *
 * @throws {ValidationError} invalid options: a schema that is not a valibot schema, a bad limit.
 */
export function createHttpDispatcher<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap, X = unknown>(
  options: HttpDispatcherOptions<C, Q, X>,
): HttpDispatcher<X> {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid routes options", [
      { path: [], message: `options must be an object, got ${typeName(options)}` },
    ]);
  }
  const bodyLimit = positiveInteger(options.bodyLimit, DEFAULT_BODY_LIMIT, "bodyLimit");
  const depthLimit = positiveInteger(options.jsonDepthLimit, DEFAULT_JSON_DEPTH_LIMIT, "jsonDepthLimit");
  const correlationHeader = headerName(options.correlationHeader);
  const hookProblems = [
    ...unknownKeyIssues(options, DISPATCHER_OPTIONS),
    ...hookIssues(options),
    ...busIssues(options.commands, "commands"),
    ...busIssues(options.queries, "queries"),
  ];
  if (hookProblems.length > 0) throw new ValidationError("Invalid routes options", hookProblems);
  const trust = options.trustClientCorrelation ?? true;
  const idempotency = idempotencySettings(options.idempotency, options.tenancy !== undefined);
  const onError = options.onError ?? defaultOnError;
  const auth = options.auth;
  const tenancy = options.tenancy;
  const tenancyProblems = tenancyIssues(tenancy);
  if (tenancyProblems.length > 0) throw new ValidationError("Invalid routes options", tenancyProblems);
  const commandRoutes = routeTable("command", options.commands?.schemas ?? {});
  const queryRoutes = routeTable("query", options.queries?.schemas ?? {});
  const sources: Record<MessageKind, FromContext<MessageBus, X> | undefined> = {
    command: options.commands?.bus as FromContext<MessageBus, X> | undefined,
    query: options.queries?.bus as FromContext<MessageBus, X> | undefined,
  };
  const hooked = options.auth !== undefined;
  const health = options.health === false ? undefined : healthSettings(options.health ?? {}, hooked);
  const document = options.document;
  const documentIssues =
    document === undefined
      ? []
      : [
          ...unknownKeyIssues(document, ["path", "document", "auth"], ["document"]),
          ...servedPathIssues(document.path, ["document", "path"]),
          ...routeAuthIssues(document.auth, hooked, "document"),
        ];
  if (documentIssues.length > 0) throw new ValidationError("Invalid routes options", documentIssues);
  const metrics = metricsSettings(options.metrics, hooked);
  const metadataOf = options.metadata;
  const traced = options.telemetry !== false;

  const report = (error: unknown, info: ErrorInfo<X>) => callHook("onError", onError, error, info);

  const correlate = (request: Request): RequestCorrelation =>
    correlationFrom(request.headers, correlationHeader, typeof trust === "function" ? trust(request) : trust);

  // For requests refused before a correlation id is known: the caller's when it is valid, else a fresh one.
  const lenientCorrelation = (request: Request): RequestCorrelation => {
    try {
      return correlate(request);
    } catch {
      return { correlationId: crypto.randomUUID() };
    }
  };

  // `span`: the request's span, when it is traced.
  // `internal`: the bare 500 whatever the error's code says (a fault the code would misdescribe), still reported.
  const fail = (
    error: unknown,
    correlationId: string,
    info: ErrorInfo<X>,
    span: Span | undefined,
    internal = false,
  ): Response => {
    // undefined is no error of ours: problemFor maps it to the bare 500.
    const response = errorResponse(internal ? undefined : error, { [correlationHeader]: correlationId });
    if (response.status >= 500) {
      recordRequestError(span, error);
      report(error, info);
    }
    return response;
  };

  const target = (path: string): Target => {
    const kind: MessageKind | undefined = path.startsWith("/commands")
      ? "command"
      : path.startsWith("/queries")
        ? "query"
        : undefined;
    if (kind !== undefined) {
      const length = kind === "command" ? 9 : 8;
      if (path.length === length) return { route: "message", kind, type: "" };
      if (path.charCodeAt(length) === 0x2f /* / */ && path.indexOf("/", length + 1) === -1) {
        return { route: "message", kind, type: decodeSegment(path.slice(length + 1)) };
      }
    }
    if (health !== undefined && path === "/health/live") return { route: "live" };
    if (health !== undefined && path === "/health/ready") return { route: "ready" };
    if (document !== undefined && path === document.path) return { route: "document" };
    if (metrics !== undefined && path === metrics.path) return { route: "metrics" };
    return { route: "none" };
  };
  // A document or metrics path another route answers first (`/health/live`, `/commands/x`, the
  // document's) was never served.
  if (document !== undefined && target(document.path).route !== "document") {
    throw new ValidationError("Invalid routes options", [
      { path: ["document", "path"], message: `${document.path} is another route's path` },
    ]);
  }
  if (metrics !== undefined && target(metrics.path).route !== "metrics") {
    throw new ValidationError("Invalid metrics options", [
      { path: ["metrics", "path"], message: `${metrics.path} is another route's path` },
    ]);
  }

  const dispatchMessage = async (
    request: Request,
    context: X,
    kind: MessageKind,
    type: string,
    span: Span | undefined,
  ): Promise<Response> => {
    let correlationId: string | undefined;
    // The type handed to the bus, once it is: what fails after that may come from inside the handler.
    let dispatched: string | undefined;
    try {
      const method = request.method;
      if (method !== "POST" && (kind === "command" || (method !== "GET" && method !== "HEAD"))) {
        correlationId = lenientCorrelation(request).correlationId;
        throw new MethodNotAllowedError(method, kind === "command" ? COMMAND_METHODS : QUERY_METHODS);
      }
      const correlation = correlate(request);
      correlationId = correlation.correlationId;
      const principal = auth === undefined ? undefined : await authorize(auth, { kind, type, request, context });
      // Resolved before the route is looked up: a caller without a tenant learns nothing about types.
      const tenant =
        tenancy === undefined ? undefined : await tenantScope(tenancy, principal, { kind, type, request, context });
      const route = (kind === "command" ? commandRoutes : queryRoutes).get(type);
      const source = sources[kind];
      if (route === undefined || source === undefined) throw new HandlerNotFoundError(kind, clipType(type));

      const given = kind === "command" && idempotency !== undefined ? idempotencyKeyFrom(request.headers) : undefined;
      // Checked before the body is read (400 first); hashed with the body below, in one round of digests.
      const scope =
        given === undefined || idempotency === undefined
          ? undefined
          : callerScope(idempotency, principal, request, tenant);

      let payload: unknown;
      let bytes: Uint8Array | ArrayBuffer | undefined;
      if (method === "POST") {
        const body = await readJsonBody(request, bodyLimit, depthLimit);
        payload = body.value;
        bytes = body.bytes;
      } else {
        payload = (route.readQuery as (search: string) => Record<string, unknown>)(searchOf(request.url));
      }

      // First: valibot reads an array's inherited members as the object's fields ("filter: must be an
      // object, got Function" for a body of []), so its issues under such an array say nothing useful.
      const misplaced = route.misplacedArrays?.(payload);
      if (misplaced !== undefined && misplaced.length > 0)
        throw new ValidationError(`Invalid ${kind} "${route.type}"`, misplaced);
      const parsed = route.async
        ? await safeParseAsync(route.input, payload)
        : safeParse(route.input as AnySchema, payload);
      if (!parsed.success) throw new ValidationError(`Invalid ${kind} "${route.type}"`, parsed.issues.map(toIssue));

      const extra = metadataOf?.(request, context);
      const metadata: Record<string, unknown> =
        extra === undefined && principal?.metadata === undefined
          ? { correlationId }
          : { ...extra, ...principal?.metadata, correlationId };
      // The caller's identity is the auth hook's alone: the principal's userId (or one among its
      // metadata). A hook's userId, read from the request, never stands in for an absent one.
      if (principal?.userId !== undefined) metadata.userId = principal.userId;
      else if (extra?.userId !== undefined && principal?.metadata?.userId === undefined) delete metadata.userId;
      if (tenant !== undefined) metadata.tenantId = tenant.tenant;
      if (correlation.traceparent !== undefined) metadata.traceparent = correlation.traceparent;
      if (correlation.tracestate !== undefined) metadata.tracestate = correlation.tracestate;
      if (given !== undefined) metadata.idempotencyKey = given;
      let bus: MessageBus;
      try {
        bus = resolve(source, context, tenant);
      } catch (error) {
        throw configurationFault(error, `${kind} bus`, "making the bus");
      }
      // Asked here, so a 404 never carries what the bus would say about its other handlers.
      if (!bus.has(route.type)) throw new HandlerNotFoundError(kind, route.type);
      const options = { metadata: metadata as MessageMetadata };
      dispatched = route.type;
      if (scope === undefined || given === undefined || idempotency === undefined) {
        return respond(
          storedResponse(await bus.execute(route.type, parsed.output, options)),
          correlationHeader,
          correlationId,
          false,
        );
      }
      // Web Crypto digests are asynchronous (on Node a trip to the thread pool each): all three at once.
      const [key, fingerprint] = await Promise.all([
        scopedIdempotencyKey(scope, given),
        requestFingerprint(route.type, bytes ?? new Uint8Array(0)),
      ]);
      const once = await runOnce({
        store: storeFor(idempotency, tenant),
        key,
        fingerprint,
        run: () => bus.execute(route.type, parsed.output, options),
        report: (error) => report(error, { kind, type, request, context }),
      });
      return respond(once.response, correlationHeader, correlationId, once.replayed);
    } catch (error) {
      const internal = dispatched !== undefined && raisedByHandler(error, kind, dispatched);
      return fail(error, correlationId ?? crypto.randomUUID(), { kind, type, request, context }, span, internal);
    }
  };

  const readiness = health === undefined ? undefined : readinessCache(health.cacheMs);

  const ready = (request: Request, context: X): Promise<ReadinessReport> =>
    (readiness as NonNullable<typeof readiness>)(async () => {
      const settings = health as NonNullable<typeof health>;
      const probes: Record<string, Probe> = {};
      const unbuilt: Record<string, ProbeResult> = {};
      const build = (name: string, make: () => Probe) => {
        try {
          probes[name] = make();
        } catch (error) {
          // Building a client from the environment failed: that check failed (named, as any other), not a crash.
          report(error, { request, context, check: name });
          unbuilt[name] = isMarkedEventFlowsError(error)
            ? { status: "failed", durationMs: 0, code: error.code }
            : { status: "failed", durationMs: 0 };
        }
      };
      const { store, bus } = settings;
      if (store !== undefined) build("store", () => storeProbe(resolve(store, context)));
      if (bus !== undefined) build("bus", () => busProbe(resolve(bus, context)));
      Object.assign(probes, settings.probes);
      const result = await checkReadiness(probes, settings.timeoutMs, (name, error) =>
        report(error, { request, context, check: name }),
      );
      if (Object.keys(unbuilt).length === 0) return result;
      // First and last: the store and bus come first, and a probe of the same name does not hide their failure.
      return { ready: false, checks: { ...unbuilt, ...result.checks, ...unbuilt } };
    });

  const serveRead = async (
    request: Request,
    context: X,
    which: "live" | "ready" | "document" | "metrics",
    base: string,
    span: Span | undefined,
  ): Promise<Response> => {
    const correlationId = lenientCorrelation(request).correlationId;
    const echo = { [correlationHeader]: correlationId };
    const info: ErrorInfo<X> = { request, context };
    try {
      if (!(READ_METHODS as readonly string[]).includes(request.method)) {
        throw new MethodNotAllowedError(request.method, READ_METHODS);
      }
      const guarded =
        which === "document"
          ? document?.auth === true
          : which === "metrics"
            ? metrics?.auth === true
            : health?.auth === true;
      if (guarded && auth !== undefined) {
        const kind = which === "document" ? "openapi" : which === "metrics" ? "metrics" : "health";
        await authorize(auth, { kind, type: which === "document" ? "openapi" : which, request, context });
      }
      let response: Response;
      if (which === "live") {
        response = new Response('{"status":"ok"}', { headers: { "content-type": JSON_TYPE, ...NO_STORE, ...echo } });
      } else if (which === "ready") {
        const result = await ready(request, context);
        response = result.ready
          ? new Response(JSON.stringify({ status: "ok", checks: result.checks }), {
              headers: { "content-type": JSON_TYPE, ...NO_STORE, ...echo },
            })
          : problemResponse(notReadyProblem(result), { ...NO_STORE, "retry-after": "1", ...echo });
      } else if (which === "metrics") {
        const { collector, format } = metrics as NonNullable<typeof metrics>;
        const { resourceMetrics } = await collector.collect();
        response = new Response(format.render(resourceMetrics), {
          headers: { "content-type": format.contentType, ...NO_STORE, ...echo },
        });
      } else {
        const text = (document as NonNullable<typeof document>).document(base === "" ? "/" : base);
        response = new Response(text, { headers: { "content-type": JSON_TYPE, ...echo } });
      }
      return response;
    } catch (error) {
      return fail(error, correlationId, info, span);
    }
  };

  const patterns = ["/commands/:type", "/commands", "/commands/", "/queries/:type", "/queries", "/queries/"];
  if (health !== undefined) patterns.push("/health/live", "/health/ready");
  if (document !== undefined) patterns.push(document.path);
  if (metrics !== undefined) patterns.push(metrics.path);

  return {
    allowed(path) {
      const found = target(path);
      if (found.route === "none") return undefined;
      if (found.route === "message") return found.kind === "command" ? COMMAND_METHODS : QUERY_METHODS;
      return READ_METHODS;
    },
    patterns,
    routes: [...commandRoutes.values(), ...queryRoutes.values()],
    settings: {
      bodyLimit,
      depthLimit,
      correlationHeader,
      // Without an auth hook or an explicit scope every key is refused (no caller identity): the
      // document then leaves the header out rather than promise what the server refuses.
      idempotency: idempotency !== undefined && (auth !== undefined || hasExplicitScope(options.idempotency)),
      auth: auth !== undefined,
      health: health !== undefined,
      healthAuth: health?.auth === true && auth !== undefined,
      tenancy: tenancy !== undefined,
    },
    handle(request, context, mount) {
      const { base, path } = mount ?? { base: "", path: pathOf(request.url) };
      const found = target(path);
      // No provider registered (the usual case): no span, so nothing to build for one.
      const tracer = traced ? activeTracer() : undefined;
      let answer: Promise<Response>;
      if (tracer === undefined) answer = route(request, context, found, base, undefined);
      else {
        const known =
          found.route === "message" && (found.kind === "command" ? commandRoutes : queryRoutes).has(found.type);
        answer = tracedRequest(
          tracer,
          request,
          routeTemplate(found, document?.path),
          known ? (found as { type: string }).type : undefined,
          () => (typeof trust === "function" ? trust(request) : trust),
          (span) => route(request, context, found, base, span),
        );
      }
      return request.method === "HEAD" ? answer.then(headResponse) : answer;
    },
  };

  function route(request: Request, context: X, found: Target, base: string, span: Span | undefined): Promise<Response> {
    switch (found.route) {
      case "message":
        return dispatchMessage(request, context, found.kind, found.type, span);
      case "live":
      case "ready":
      case "document":
      case "metrics":
        return serveRead(request, context, found.route, base, span);
      default:
        return Promise.resolve(
          errorResponse(new RouteNotFoundError(), { [correlationHeader]: lenientCorrelation(request).correlationId }),
        );
    }
  }
}

/** The route as a template (`/commands/:type`): a span name with a bounded set of values. */
function routeTemplate(found: Target, documentPath: string | undefined): string | undefined {
  switch (found.route) {
    case "message":
      return found.kind === "command" ? "/commands/:type" : "/queries/:type";
    case "live":
      return "/health/live";
    case "ready":
      return "/health/ready";
    case "document":
      return documentPath;
    default:
      return undefined;
  }
}

interface IdempotencySettings {
  readonly store: IdempotencyStore | ((tenant: AnyTenantScope) => IdempotencyStore);
  readonly scope: NonNullable<IdempotencyOptions["scope"]>;
}

/** @throws {ValidationError} an option that is neither `false`, a store nor `{ store?, scope? }`, naming what is wrong. */
function idempotencySettings(option: IdempotencyStore | IdempotencyOptions | false | undefined, tenancy: boolean) {
  if (option === false) return undefined;
  if (option !== undefined && (typeof option !== "object" || option === null)) {
    throw new ValidationError("Invalid idempotency options", [
      {
        path: ["idempotency"],
        message: `must be an IdempotencyStore, { store?, scope? } or false, got ${option === null ? "null" : typeof option}`,
      },
    ]);
  }
  const options: IdempotencyOptions =
    option !== undefined && isStoreLike(option)
      ? { store: option as IdempotencyStore }
      : ((option ?? {}) as IdempotencyOptions);
  // Checked when built: a store without its methods, or a scope that is not a function, failed every
  // keyed request with a 500 (or answered it wrongly) instead; a misspelt `store` was dropped, and
  // the keys went to the in-memory default: one process's memory, not the shared store meant.
  const issues: Issue[] = Object.keys(options)
    .filter((key) => key !== "store" && key !== "scope")
    .map((key) => ({ path: ["idempotency", key], message: "is not an option: give a store, or { store?, scope? }" }));
  issues.push(...functionIssues(options.scope, ["idempotency", "scope"]));
  if (typeof options.store === "function") {
    // Called with the caller's tenant scope: without tenancy there is none to call it with.
    if (!tenancy) {
      issues.push({
        path: ["idempotency", "store"],
        message: "a function of the tenant needs the tenancy option; without it give one IdempotencyStore",
      });
    }
  } else if (options.store !== undefined) {
    const store = options.store as unknown as Record<string, unknown> | null;
    if (typeof store !== "object" || store === null) {
      issues.push({ path: ["idempotency", "store"], message: "must be an IdempotencyStore" });
    } else {
      for (const method of ["claim", "complete", "release"]) {
        issues.push(...functionIssues(store[method], ["idempotency", "store", method], true));
      }
      issues.push(...functionIssues(store.ping, ["idempotency", "store", "ping"]));
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid idempotency options", issues);
  return {
    store: options.store ?? new InMemoryIdempotencyStore(),
    scope: options.scope ?? principalIdentity,
  } satisfies IdempotencySettings;
}

/**
 * Given as a store rather than as `{ store?, scope? }`: it has one of the store's methods (even one
 * that is no function), or it is an instance of a class (a store whose methods are misnamed).
 */
function isStoreLike(option: object): boolean {
  const prototype = Object.getPrototypeOf(option);
  return (
    "claim" in option ||
    "complete" in option ||
    "release" in option ||
    (prototype !== Object.prototype && prototype !== null)
  );
}

/**
 * The store of this request's keys: the one store, or the caller's tenant's.
 * @throws {ServiceError} the function gave no store, or threw a ValidationError (500, told to onError):
 * nothing is claimed or run.
 */
function storeFor(settings: IdempotencySettings, tenant: AnyTenantScope | undefined): IdempotencyStore {
  const option = settings.store;
  if (typeof option !== "function") return option;
  // Commands with tenancy always have a tenant (tenantScope refuses a caller without one).
  let store: Partial<IdempotencyStore> | null | undefined;
  try {
    store = option(tenant as AnyTenantScope);
  } catch (error) {
    throw configurationFault(error, "idempotency store", "store");
  }
  if (
    typeof store !== "object" ||
    store === null ||
    typeof store.claim !== "function" ||
    typeof store.complete !== "function" ||
    typeof store.release !== "function"
  ) {
    throw new ServiceError(
      "idempotency store",
      "store",
      "NoStore",
      false,
      "idempotency.store gave no IdempotencyStore",
    );
  }
  return store as IdempotencyStore;
}

function hasExplicitScope(option: IdempotencyStore | IdempotencyOptions | false | undefined): boolean {
  return typeof option === "object" && option !== null && typeof (option as IdempotencyOptions).scope === "function";
}

/** The caller's key space for idempotency keys: within its tenant's, with tenancy. */
function callerScope(
  settings: IdempotencySettings,
  principal: Principal | undefined,
  request: Request,
  tenant: AnyTenantScope | undefined,
): string {
  const scope = settings.scope(principal, request);
  if (typeof scope !== "string") {
    // Without an identity every caller would share one key space: one could replay another's response.
    throw new ValidationError("Idempotency-Key needs an identified caller", [
      {
        path: ["headers", IDEMPOTENCY_HEADER],
        message:
          "Idempotency-Key is accepted only from an identified caller (the auth hook returns a principal with a userId or metadata)",
      },
    ]);
  }
  // Tenant ids hold no "\n": the tenant and the caller's scope cannot run into each other.
  return tenant === undefined ? scope : `${tenant.tenant}\n${scope}`;
}

/**
 * The metrics route's settings. What would leave the series open or unreachable without a word is
 * refused: an `auth` that is not a boolean (`"true"` read as false served them to anyone), `auth: true`
 * without an auth hook to ask, and a path no request reaches (one with `?`, a space or non-ASCII,
 * which a request's raw path never equals, or a Hono pattern's `:` or `*`).
 */
function metricsSettings(options: MetricsRoute | undefined, hooked: boolean) {
  if (options === undefined) return undefined;
  const issues: Issue[] = [];
  if (typeof options?.collector?.collect !== "function") {
    issues.push({ path: ["metrics", "collector"], message: "collector must have collect(): an SDK MetricReader" });
  }
  const format = options?.format;
  if (typeof format?.render !== "function" || typeof format.contentType !== "string") {
    issues.push({ path: ["metrics", "format"], message: "format must be prometheusFormat or { contentType, render }" });
  }
  issues.push(...unknownKeyIssues(options, ["collector", "format", "path", "auth"], ["metrics"]));
  const path = options?.path ?? "/metrics";
  issues.push(...servedPathIssues(path, ["metrics", "path"]), ...routeAuthIssues(options?.auth, hooked, "metrics"));
  if (issues.length > 0) throw new ValidationError("Invalid metrics options", issues);
  return { collector: options.collector, format: options.format, path, auth: options.auth === true };
}

function healthSettings<X>(options: HealthOptions<X>, hooked: boolean) {
  const issues = [
    ...unknownKeyIssues(options, HEALTH_OPTIONS, ["health"]),
    ...probeIssues(options),
    ...routeAuthIssues((options as { auth?: unknown }).auth, hooked, "health"),
  ];
  if (issues.length > 0) throw new ValidationError("Invalid health options", issues);
  return {
    ...options,
    // At most the longest timer a runtime keeps: past it every probe timed out at once, on every request.
    timeoutMs: positiveInteger(
      options.timeoutMs,
      DEFAULT_PROBE_TIMEOUT_MS,
      "timeoutMs",
      "Invalid health options",
      MAX_DELAY_MS,
      ["health"],
    ),
    cacheMs: nonNegativeInteger(options.cacheMs, DEFAULT_READINESS_CACHE_MS, "cacheMs", ["health"]),
  };
}

/**
 * Probes that can never run, refused when the routes are built: taken as they were, every
 * `/health/ready` answered 400 (the client blamed for the configuration) with the probes' names.
 * A `store` or `bus` given as a function is built per request; a failure there is a failed check.
 */
function probeIssues<X>(options: HealthOptions<X>): Issue[] {
  const issues: Issue[] = [];
  const has = (target: unknown, method: string) =>
    typeof target === "object" && target !== null && typeof (target as Record<string, unknown>)[method] === "function";
  const { store, bus, probes } = options as Record<string, unknown>;
  if (store !== undefined && typeof store !== "function" && !has(store, "ping")) {
    issues.push({
      path: ["health", "store"],
      message: "store must be an event store (with ping()) or a function of the context",
    });
  }
  if (bus !== undefined && typeof bus !== "function" && !has(bus, "ping") && !has(bus, "publish")) {
    issues.push({
      path: ["health", "bus"],
      message: "bus must be an event bus (with ping() or publish()) or a function of the context",
    });
  }
  if (probes !== undefined && probes !== null && (typeof probes !== "object" || Array.isArray(probes))) {
    issues.push({ path: ["health", "probes"], message: "probes must be an object of named probes" });
  } else if (probes !== undefined && probes !== null) {
    for (const [name, probe] of Object.entries(probes)) {
      if (typeof probe !== "function" && !has(probe, "ping")) {
        issues.push({
          path: ["health", "probes", name],
          message: "a probe must be a function or have a ping() method",
        });
      }
    }
  }
  return issues;
}

/**
 * Runs an auth hook: its principal, `undefined` for `true`, or the error to answer with. Exported so
 * that other routes (the live event streams, the operations UI) authorize exactly as commands are.
 * @throws {ForbiddenError} the hook said anything but yes; its own `UnauthorizedError`/`ForbiddenError`.
 */
export async function authorize<X>(hook: AuthHook<X>, request: AuthRequest<X>): Promise<Principal | undefined> {
  const decision = await hook(request);
  if (decision === true) return undefined;
  // Anything but an explicit yes is a no: a hook that forgets to return must not open the door.
  if (!isPrincipal(decision)) throw new ForbiddenError();
  return decision;
}

/**
 * A principal as the hook must give it: a plain object (a literal, or parsed JSON) with at most a
 * string `userId` and an object of `metadata`. Any other object was a mistake that let the caller in:
 * an error or a response the hook returned instead of throwing (`return new UnauthorizedError()`,
 * `return c.json(…, 401)`), an array (a token's roles).
 */
function isPrincipal(value: unknown): value is Principal {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const { userId, metadata } = value as { userId?: unknown; metadata?: unknown };
  if (userId !== undefined && typeof userId !== "string") return false;
  return metadata === undefined || (typeof metadata === "object" && metadata !== null && !Array.isArray(metadata));
}

function respond(
  stored: { readonly status: number; readonly body: string; readonly contentType: string },
  correlationHeader: string,
  correlationId: string,
  replayed: boolean,
): Response {
  if (stored.status === 204) {
    const headers: Record<string, string> = { [correlationHeader]: correlationId };
    if (replayed) headers[IDEMPOTENT_REPLAYED_HEADER] = "true";
    return new Response(null, { status: 204, headers });
  }
  // The usual answer in one object literal: no header added key by key.
  const headers: Record<string, string> = replayed
    ? { "content-type": stored.contentType, [correlationHeader]: correlationId, [IDEMPOTENT_REPLAYED_HEADER]: "true" }
    : { "content-type": stored.contentType, [correlationHeader]: correlationId };
  return new Response(stored.body, { status: stored.status, headers });
}

function resolve<T, X>(value: FromContext<T, X>, context: X, tenant?: AnyTenantScope): T {
  // Buses and stores are class instances, never functions: a function is a factory of the request's context.
  return typeof value === "function" ? (value as (context: X, tenant?: AnyTenantScope) => T)(context, tenant) : value;
}

/** The raw path of a URL: after the authority, before `?` or `#`. */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return "/";
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query !== -1) end = query;
  const hash = url.indexOf("#", start);
  if (hash !== -1 && hash < end) end = hash;
  return url.slice(start, end);
}

// A malformed escape is kept as sent: it names no declared type, so it is a 404 like any unknown type.
function decodeSegment(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * A route path the routes could serve: a string starting with `/`. Anything else would never match,
 * and what it names would be a silent 404.
 */
function routePathIssues(value: unknown, at: readonly string[]): Issue[] {
  return typeof value === "string" && value.startsWith("/")
    ? []
    : [{ path: [...at], message: "path must start with /" }];
}

/**
 * The path of a route the dispatcher serves by comparing a request's raw path with it: one no
 * request reaches (with `?`, a space or non-ASCII, which a raw path never holds as such, or a Hono
 * pattern's `:` or `*`) is refused rather than never served.
 */
function servedPathIssues(value: unknown, at: readonly string[]): Issue[] {
  const issues = routePathIssues(value, at);
  if (issues.length === 0 && !/^\/[A-Za-z0-9\-._~/]*$/.test(value as string)) {
    issues.push({
      path: [...at],
      message: "path may hold only letters, digits, / and -._~ (a request's raw path never equals another)",
    });
  }
  return issues;
}

/**
 * The `auth` switch of an optional route (health, the document, metrics): a boolean, and `true` only
 * with an auth hook to ask. `"true"` was read as false and `true` without a hook asked no one: either
 * way the route answered anyone.
 */
function routeAuthIssues(auth: unknown, hooked: boolean, route: string): Issue[] {
  if (auth !== undefined && typeof auth !== "boolean")
    return [{ path: [route, "auth"], message: "auth must be a boolean" }];
  if (auth === true && !hooked) {
    return [
      { path: [route, "auth"], message: "auth: true needs the auth hook (option auth): without it the route is open" },
    ];
  }
  return [];
}

/**
 * Hooks and switches a JavaScript caller gave as something else: `auth: "bearer"` was taken, and
 * then every request it was called for failed as a 500 (or, for `onError`, the report was lost).
 */
function hookIssues(options: {
  readonly auth?: unknown;
  readonly metadata?: unknown;
  readonly onError?: unknown;
  readonly trustClientCorrelation?: unknown;
  readonly telemetry?: unknown;
}): Issue[] {
  const issues: Issue[] = [];
  for (const key of ["auth", "metadata", "onError"] as const) issues.push(...functionIssues(options[key], key));
  const trust = options.trustClientCorrelation;
  if (trust !== undefined && typeof trust !== "boolean" && typeof trust !== "function") {
    issues.push({
      path: ["trustClientCorrelation"],
      message: `trustClientCorrelation must be a boolean or a function, got ${typeName(trust)}`,
    });
  }
  if (options.telemetry !== undefined && typeof options.telemetry !== "boolean") {
    issues.push({ path: ["telemetry"], message: `telemetry must be a boolean, got ${typeName(options.telemetry)}` });
  }
  return issues;
}

/**
 * The bus of the command or query routes: one the routes can ask (`has`, `execute`), or a function of
 * the request's context that builds it. Anything else was taken, and every request then failed as a 500.
 */
function busIssues(routes: { readonly bus?: unknown } | undefined, at: "commands" | "queries"): Issue[] {
  if (routes === undefined) return [];
  // A misspelt `schemas` exposed no route at all: every request a 404, without a word when built.
  const issues = unknownKeyIssues(routes, ["bus", "schemas"], [at]);
  const bus = routes?.bus as Record<string, unknown> | null | undefined;
  if (typeof bus === "function") return issues;
  if (typeof bus === "object" && bus !== null && typeof bus.has === "function" && typeof bus.execute === "function")
    return issues;
  const kind = at === "commands" ? "a CommandBus" : "a QueryBus";
  issues.push({ path: [at, "bus"], message: `bus must be ${kind} or a function of the context, got ${typeName(bus)}` });
  return issues;
}

function typeName(value: unknown): string {
  return value === null ? "null" : typeof value;
}

// An HTTP field name (RFC 9110 token), bounded: anything else fails every `Headers` call made with it.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

function headerName(value: string | undefined): string {
  if (value === undefined) return CORRELATION_HEADER;
  if (typeof value !== "string" || !HEADER_NAME.test(value)) {
    throw new ValidationError("Invalid routes options", [
      {
        path: ["correlationHeader"],
        message: "correlationHeader must be a header name: 1 to 128 letters, digits or !#$%&'*+-.^_`|~",
      },
    ]);
  }
  return value.toLowerCase();
}

function positiveInteger(
  value: number | undefined,
  fallback: number,
  name: string,
  title = "Invalid routes options",
  max = Number.MAX_SAFE_INTEGER,
  at: readonly string[] = [],
) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? "a positive integer" : `an integer from 1 to ${max}`;
    throw new ValidationError(title, [{ path: [...at, name], message: `${name} must be ${bound}` }]);
  }
  return value;
}

function nonNegativeInteger(value: number | undefined, fallback: number, name: string, at: readonly string[] = []) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError("Invalid health options", [
      { path: [...at, name], message: `${name} must be a non-negative integer` },
    ]);
  }
  return value;
}

function defaultOnError(error: unknown, info: ErrorInfo<unknown>): void {
  // A probe's failure names the probe: several failing alike (timeouts) would not say which dependency is down.
  const what =
    info.check !== undefined
      ? `readiness probe ${info.check}`
      : info.kind === undefined
        ? "request"
        : `${info.kind} ${info.type ?? ""}`.trim();
  getLogger().error(`${what} failed with a server error`, {
    method: info.request.method,
    ...(info.check === undefined ? {} : { check: info.check }),
    ...(info.kind === undefined ? {} : { kind: info.kind }),
    ...(info.type === undefined ? {} : { type: info.type }),
    error,
  });
}

/**
 * A `HandlerNotFoundError` that is not the bus's own for the dispatched type: the handler raised it (a
 * type it dispatched has no handler, an aggregate met an event it has no method for). That is the
 * server's wiring fault, not the route's type going unserved: as a 404 it told the client the type is not
 * served, named the handler's internals (an aggregate's methods), and never reached `onError`.
 */
function raisedByHandler(error: unknown, kind: MessageKind, type: string): boolean {
  if (!isHandlerNotFoundError(error)) return false;
  return error.kind !== kind || error.type !== type || error.aggregate !== undefined;
}
