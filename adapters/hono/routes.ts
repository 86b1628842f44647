import { type Context, Hono } from "hono";
import { type BaseIssue, type BaseSchema, type BaseSchemaAsync, safeParse, safeParseAsync } from "valibot";
import {
  type AnySchema,
  type CommandBus,
  type EventBus,
  type EventStore,
  HandlerNotFoundError,
  MAX_TYPE_LENGTH,
  type MessageKind,
  type MessageMap,
  type MessageMetadata,
  type QueryBus,
  toIssue,
  ValidationError,
} from "../../src/index.js";
import {
  CORRELATION_HEADER,
  correlationFrom,
  DEFAULT_BODY_LIMIT,
  errorResponse,
  ForbiddenError,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  MethodNotAllowedError,
  problemFor,
  problemResponse,
  readJsonBody,
} from "../http/index.js";
import {
  busProbe,
  checkReadiness,
  DEFAULT_PROBE_TIMEOUT_MS,
  notReadyProblem,
  type Probe,
  storeProbe,
} from "./health.js";
import {
  IDEMPOTENT_REPLAYED_HEADER,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  idempotencyKeyFrom,
  requestFingerprint,
  type StoredResponse,
} from "./idempotency.js";
import { type OpenApiOptions, openApiDocument, type RouteDescription } from "./openapi.js";
import { queryReader } from "./query-string.js";

/** A valibot schema (sync or async) whose output is the payload `P` the handler receives. */
export type PayloadSchema<P = unknown> =
  // biome-ignore lint/suspicious/noExplicitAny: any input: the request decides what arrives
  BaseSchema<any, P, BaseIssue<unknown>> | BaseSchemaAsync<any, P, BaseIssue<unknown>>;

/** A route's schema with what the OpenAPI document says about it. */
export interface RouteDefinition<P = unknown> {
  readonly input: PayloadSchema<P>;
  /** The result's schema: documented, not checked. */
  readonly output?: AnySchema;
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly deprecated?: boolean;
}

export type RouteSchema<P = unknown> = PayloadSchema<P> | RouteDefinition<P>;

/** A value, or a function of the request context that gives it (Workers build clients from `c.env`). */
export type FromContext<T> = T | ((context: Context) => T);

export interface CommandRoutes<C extends MessageMap> {
  readonly bus: FromContext<CommandBus<C>>;
  /** One schema per command type to expose: a type without one has no route (404). */
  readonly schemas: { readonly [T in keyof C & string]?: RouteSchema<C[T]["payload"]> };
}

export interface QueryRoutes<Q extends MessageMap> {
  readonly bus: FromContext<QueryBus<Q>>;
  /** One schema per query type to expose; an object schema also documents the GET query parameters. */
  readonly schemas: { readonly [T in keyof Q & string]?: RouteSchema<Q[T]["payload"]> };
}

export interface AuthRequest {
  readonly kind: MessageKind;
  /** The type named in the path; it may not exist (the hook runs first, so 404s do not reveal types). */
  readonly type: string;
  readonly request: Request;
  readonly context: Context;
}

/** Who the caller is: `userId` and `metadata` go into the command's or query's metadata. */
export interface Principal {
  readonly userId?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * Decides before dispatch: return a {@link Principal} (or `true`) to allow, `false` to refuse (403),
 * or throw `UnauthorizedError` (401) or `ForbiddenError` (403) to say why.
 */
export type AuthHook = (request: AuthRequest) => Principal | boolean | Promise<Principal | boolean>;

export interface HealthOptions {
  /** Probed with one stream-version read. */
  readonly store?: FromContext<EventStore>;
  /** Probed with `ping()` when it has one, else by publishing nothing. */
  readonly bus?: FromContext<EventBus>;
  /** More probes by name: a cache, a downstream API. */
  readonly probes?: Readonly<Record<string, Probe>>;
  /** Time each probe has, in ms. Defaults to 2000. */
  readonly timeoutMs?: number;
}

export interface ErrorInfo {
  readonly kind?: MessageKind;
  readonly type?: string;
  readonly request: Request;
}

export interface EventFlowsRoutesOptions<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap> {
  readonly commands?: CommandRoutes<C>;
  readonly queries?: QueryRoutes<Q>;
  readonly auth?: AuthHook;
  /** Where `Idempotency-Key`s are remembered; `false` ignores the header. Defaults to an in-memory store. */
  readonly idempotency?: IdempotencyStore | false;
  /** Largest request body accepted, in bytes. Defaults to 1 MiB. */
  readonly bodyLimit?: number;
  /** The request header carrying a correlation id, echoed in every response. Defaults to `x-correlation-id`. */
  readonly correlationHeader?: string;
  /** `GET /health/live` and `GET /health/ready`; `false` leaves them out. Defaults to both, with no probes. */
  readonly health?: HealthOptions | false;
  /** The OpenAPI document route; `false` leaves it out. Defaults to `GET /openapi.json`. */
  readonly openapi?: OpenApiOptions | false;
  /**
   * Told of every server-side failure (5xx, failed probes, a failed idempotency record), with the
   * error the response does not disclose. Defaults to `console.error`.
   */
  readonly onError?: (error: unknown, info: ErrorInfo) => void;
}

interface Route {
  readonly type: string;
  readonly input: PayloadSchema;
  readonly async: boolean;
  /** For query routes: the query string as the payload. */
  readonly readQuery: ((search: string) => Record<string, unknown>) | undefined;
  readonly description: RouteDescription;
}

const JSON_TYPE = "application/json";

/**
 * Builds a Hono app with the command, query, health and OpenAPI routes; mount it where you like
 * with `app.route("/api", eventFlowsRoutes({ … }))`.
 *
 * - `POST /commands/:type`: the JSON body is the command's payload.
 * - `GET /queries/:type` (query string) and `POST /queries/:type` (JSON body).
 * - `GET /health/live`, `GET /health/ready`, `GET /openapi.json`.
 *
 * A request is checked in this order, and stops at the first problem: correlation header (400),
 * auth hook (401/403), type exposed (404), `Idempotency-Key` header (400), media type (415), size
 * (413), JSON (400), schema (400), idempotency record (409/422), then dispatch. Errors are RFC 9457
 * problem+json; see problem-details.ts for the mapping.
 *
 * @throws {ValidationError} invalid options: a schema that is not a valibot schema, a bad limit.
 */
export function eventFlowsRoutes<C extends MessageMap = MessageMap, Q extends MessageMap = MessageMap>(
  options: EventFlowsRoutesOptions<C, Q>,
): Hono {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new ValidationError("Invalid routes options", [
      { path: ["bodyLimit"], message: "must be a positive integer" },
    ]);
  }
  const correlationHeader = (options.correlationHeader ?? CORRELATION_HEADER).toLowerCase();
  const idempotency =
    options.idempotency === false ? undefined : (options.idempotency ?? new InMemoryIdempotencyStore());
  const onError = options.onError ?? defaultOnError;
  const auth = options.auth;
  const commandRoutes = routeTable("command", options.commands?.schemas ?? {});
  const queryRoutes = routeTable("query", options.queries?.schemas ?? {});
  const commandBus = options.commands?.bus as FromContext<CommandBus> | undefined;
  const queryBus = options.queries?.bus as FromContext<QueryBus> | undefined;

  const report = (error: unknown, info: ErrorInfo) => {
    try {
      onError(error, info);
    } catch (hookError) {
      console.error("[eventflows] the onError hook threw", hookError);
    }
  };

  const fail = (error: unknown, correlationId: string, info: ErrorInfo): Response => {
    const response = errorResponse(error, { [correlationHeader]: correlationId });
    if (response.status >= 500) report(error, info);
    return response;
  };

  const dispatch = async (c: Context, kind: MessageKind, from: "body" | "query"): Promise<Response> => {
    const request = c.req.raw;
    const headers = request.headers;
    let correlationId: string | undefined;
    let type: string | undefined;
    try {
      const correlation = correlationFrom(headers, correlationHeader);
      correlationId = correlation.correlationId;
      type = c.req.param("type") as string;
      const principal = auth === undefined ? undefined : await authorize(auth, { kind, type, request, context: c });
      const route = (kind === "command" ? commandRoutes : queryRoutes).get(type);
      const source = kind === "command" ? commandBus : queryBus;
      if (route === undefined || source === undefined) throw new HandlerNotFoundError(kind, clipType(type));
      const key = kind === "command" && idempotency !== undefined ? idempotencyKeyFrom(headers) : undefined;

      let payload: unknown;
      let bytes: Uint8Array | ArrayBuffer | undefined;
      if (from === "body") {
        const body = request.bodyUsed
          ? await readJsonBody(
              new Request(request.url, { method: "POST", headers, body: await c.req.arrayBuffer() }),
              bodyLimit,
            )
          : await readJsonBody(request, bodyLimit);
        payload = body.value;
        bytes = body.bytes;
      } else {
        const url = request.url;
        const mark = url.indexOf("?");
        payload = (route.readQuery as (search: string) => Record<string, unknown>)(
          mark === -1 ? "" : url.slice(mark + 1),
        );
      }

      const parsed = route.async
        ? await safeParseAsync(route.input, payload)
        : safeParse(route.input as AnySchema, payload);
      if (!parsed.success) throw new ValidationError(`Invalid ${kind} "${route.type}"`, parsed.issues.map(toIssue));

      const metadata: Record<string, unknown> =
        principal?.metadata === undefined ? { correlationId } : { ...principal.metadata, correlationId };
      if (principal?.userId !== undefined) metadata.userId = principal.userId;
      if (correlation.traceparent !== undefined) metadata.traceparent = correlation.traceparent;
      if (correlation.tracestate !== undefined) metadata.tracestate = correlation.tracestate;
      if (key !== undefined) metadata.idempotencyKey = key;
      const bus = typeof source === "function" ? source(c) : source;
      const options = { metadata: metadata as MessageMetadata };
      if (key === undefined || idempotency === undefined) {
        return toResponse(
          stored(await bus.execute(route.type, parsed.output, options)),
          correlationHeader,
          correlationId,
        );
      }
      const run = () => bus.execute(route.type, parsed.output, options);
      return await runOnce(idempotency, {
        key: scopedKey(principal?.userId, key),
        fingerprint: await requestFingerprint(route.type, bytes ?? new Uint8Array(0)),
        run,
        correlationHeader,
        correlationId,
        report: (error) => report(error, { kind, type: route.type, request }),
      });
    } catch (error) {
      return fail(error, correlationId ?? crypto.randomUUID(), {
        kind,
        ...(type === undefined ? {} : { type }),
        request,
      });
    }
  };

  // For requests refused before dispatch: the caller's correlation id when it is valid, else a fresh one.
  const correlationOf = (headers: Headers): string => {
    try {
      return correlationFrom(headers, correlationHeader).correlationId;
    } catch {
      return crypto.randomUUID();
    }
  };

  const notAllowed = (allow: readonly string[]) => (c: Context) =>
    fail(new MethodNotAllowedError(c.req.method, allow), correlationOf(c.req.raw.headers), { request: c.req.raw });

  const app = new Hono();
  app.post("/commands/:type", (c) => dispatch(c, "command", "body"));
  // Only the other methods: a second handler matching POST would cost every request Hono's compose path.
  app.on(["GET", "PUT", "PATCH", "DELETE", "OPTIONS"], "/commands/:type", notAllowed(["POST"]));
  app.get("/queries/:type", (c) => dispatch(c, "query", "query"));
  app.post("/queries/:type", (c) => dispatch(c, "query", "body"));
  app.on(["PUT", "PATCH", "DELETE", "OPTIONS"], "/queries/:type", notAllowed(["GET", "POST"]));
  for (const [path, kind] of [
    ["/commands", "command"],
    ["/commands/", "command"],
    ["/queries", "query"],
    ["/queries/", "query"],
  ] as const) {
    // A request without a type gets the same problem+json 404 as an unknown type, not Hono's text one.
    app.all(path, (c) =>
      fail(new HandlerNotFoundError(kind, ""), correlationOf(c.req.raw.headers), { request: c.req.raw }),
    );
  }

  const health = options.health;
  if (health !== false) mountHealth(app, health ?? {}, (error, request) => report(error, { request }));

  const openapi = options.openapi;
  if (openapi !== false) {
    const path = openapi?.path ?? "/openapi.json";
    const spec = {
      routes: [...commandRoutes.values(), ...queryRoutes.values()].map((route) => route.description),
      health: health !== false,
      idempotency: idempotency !== undefined,
      auth: auth !== undefined,
      bodyLimit,
      correlationHeader,
    };
    const documents = new Map<string, string>();
    app.get(path, (c) => {
      // The document names the path it is served under, so it is right wherever the app is mounted.
      const requestPath = c.req.path;
      const base = requestPath.endsWith(path) ? requestPath.slice(0, -path.length) : "";
      let document = documents.get(base);
      if (document === undefined) {
        document = JSON.stringify(openApiDocument(spec, openapi ?? {}, base === "" ? "/" : base));
        if (documents.size < 16) documents.set(base, document);
      }
      return new Response(document, { headers: { "content-type": JSON_TYPE } });
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

function mountHealth(app: Hono, options: HealthOptions, report: (error: unknown, request: Request) => void): void {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new ValidationError("Invalid health options", [
      { path: ["timeoutMs"], message: "must be a positive integer" },
    ]);
  }
  const noStore = { "cache-control": "no-store" };
  app.get(
    "/health/live",
    () => new Response('{"status":"ok"}', { headers: { "content-type": JSON_TYPE, ...noStore } }),
  );
  app.get("/health/ready", async (c) => {
    const probes: Record<string, Probe> = {};
    try {
      if (options.store !== undefined) probes.store = storeProbe(resolve(options.store, c));
      if (options.bus !== undefined) probes.bus = busProbe(resolve(options.bus, c));
    } catch (error) {
      // Building a client from the environment failed: that is not being ready, not a crash.
      report(error, c.req.raw);
      return problemResponse(notReadyProblem({ ready: false, checks: {} }), noStore);
    }
    Object.assign(probes, options.probes);
    const result = await checkReadiness(probes, timeoutMs, (_name, error) => report(error, c.req.raw));
    if (!result.ready) return problemResponse(notReadyProblem(result), { ...noStore, "retry-after": "1" });
    return new Response(JSON.stringify({ status: "ok", checks: result.checks }), {
      headers: { "content-type": JSON_TYPE, ...noStore },
    });
  });
}

interface RunOnce {
  readonly key: string;
  readonly fingerprint: string;
  readonly run: () => Promise<unknown>;
  readonly correlationHeader: string;
  readonly correlationId: string;
  readonly report: (error: unknown) => void;
}

async function runOnce(store: IdempotencyStore, once: RunOnce): Promise<Response> {
  const claim = await store.claim(once.key, once.fingerprint);
  if (claim.state !== "claimed") {
    if (claim.fingerprint !== once.fingerprint) throw new IdempotencyKeyReusedError();
    if (claim.state === "in-progress") throw new IdempotencyInProgressError();
    const replay = toResponse(claim.response, once.correlationHeader, once.correlationId);
    replay.headers.set(IDEMPOTENT_REPLAYED_HEADER, "true");
    return replay;
  }
  let result: unknown;
  try {
    result = await once.run();
  } catch (error) {
    await store.release(once.key, once.fingerprint).catch(once.report);
    throw error;
  }
  // The command has run: whatever is answered now is what a retry must get, even a failure to serialize.
  let response: StoredResponse;
  try {
    response = stored(result);
  } catch (error) {
    once.report(error);
    const details = problemFor(error);
    response = { status: details.status, body: JSON.stringify(details), contentType: "application/problem+json" };
  }
  await store.complete(once.key, once.fingerprint, response).catch(once.report);
  return toResponse(response, once.correlationHeader, once.correlationId);
}

/** The handler's result as a response: JSON, or 204 when there is nothing to send. */
function stored(result: unknown): StoredResponse {
  const body = result === undefined ? undefined : JSON.stringify(result);
  return body === undefined
    ? { status: 204, body: "", contentType: "" }
    : { status: 200, body, contentType: JSON_TYPE };
}

function toResponse(response: StoredResponse, correlationHeader: string, correlationId: string): Response {
  if (response.status === 204)
    return new Response(null, { status: 204, headers: { [correlationHeader]: correlationId } });
  return new Response(response.body, {
    status: response.status,
    headers: { "content-type": response.contentType, [correlationHeader]: correlationId },
  });
}

async function authorize(hook: AuthHook, request: AuthRequest): Promise<Principal | undefined> {
  const decision = await hook(request);
  if (decision === true) return undefined;
  // Anything but an explicit yes is a no: a hook that forgets to return must not open the door.
  if (decision === false || typeof decision !== "object" || decision === null) throw new ForbiddenError();
  return decision;
}

function routeTable(kind: MessageKind, schemas: Readonly<Record<string, RouteSchema | undefined>>): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const [type, entry] of Object.entries(schemas)) {
    if (entry === undefined) continue;
    const definition: RouteDefinition = isSchema(entry) ? { input: entry } : entry;
    if (!isSchema(definition.input)) {
      throw new ValidationError("Invalid routes options", [
        { path: [`${kind}s`, "schemas", type], message: "must be a valibot schema or { input: schema, … }" },
      ]);
    }
    if (type.length === 0 || type.length > MAX_TYPE_LENGTH) {
      throw new ValidationError("Invalid routes options", [
        { path: [`${kind}s`, "schemas", type], message: `a type name has 1 to ${MAX_TYPE_LENGTH} characters` },
      ]);
    }
    const input = definition.input;
    routes.set(type, {
      type,
      input,
      async: input.async,
      readQuery: kind === "query" ? queryReader(input) : undefined,
      description: { ...definition, kind, type, input },
    });
  }
  return routes;
}

function isSchema(value: unknown): value is PayloadSchema {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "schema" &&
    typeof (value as { "~run"?: unknown })["~run"] === "function"
  );
}

function resolve<T>(value: FromContext<T>, c: Context): T {
  return typeof value === "function" ? (value as (context: Context) => T)(c) : value;
}

// Keys are scoped to the caller: one user's key must never replay another user's response.
function scopedKey(userId: string | undefined, key: string): string {
  return userId === undefined ? `:${key}` : `${userId.length}:${userId}:${key}`;
}

function clipType(type: string): string {
  return type.length > MAX_TYPE_LENGTH ? `${type.slice(0, MAX_TYPE_LENGTH)}…` : type;
}

function defaultOnError(error: unknown, info: ErrorInfo): void {
  const what = info.kind === undefined ? "request" : `${info.kind} ${info.type ?? ""}`.trim();
  console.error(`[eventflows] ${what} failed with a server error`, error);
}
