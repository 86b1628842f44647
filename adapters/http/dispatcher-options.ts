/**
 * What the HTTP dispatcher is configured with. `X` is the adapter's per-request context (Hono's
 * `Context`, Lambda's event and context): values given as functions of it are resolved per request,
 * and the auth hook receives it.
 */
import type { BaseIssue, BaseSchema, BaseSchemaAsync } from "valibot";
import type {
  AnySchema,
  CommandBus,
  EventPublisher,
  EventStore,
  IdempotencyStore,
  MessageKind,
  MessageMap,
  MessageMetadata,
  QueryBus,
  Tenancy,
  TenantScope,
} from "../../src/index.js";
import type { Probe } from "./health.js";
import type { MetricsCollector, MetricsFormat } from "./prometheus.js";

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

/**
 * A value, or a function of the request's context that gives it (Workers build clients from `c.env`).
 * With `tenancy`, the function also gets the caller's tenant scope: a command or query bus is then
 * that tenant's (`(_, tenant) => tenant.services.commands`); it is undefined for health probes.
 */
export type FromContext<T, X> = T | ((context: X, tenant?: AnyTenantScope) => T);

export interface CommandRoutes<C extends MessageMap, X = unknown> {
  readonly bus: FromContext<CommandBus<C>, X>;
  /** One schema per command type to expose: a type without one has no route (404), registered or not. */
  readonly schemas: { readonly [T in keyof C & string]?: RouteSchema<C[T]["payload"]> };
}

export interface QueryRoutes<Q extends MessageMap, X = unknown> {
  readonly bus: FromContext<QueryBus<Q>, X>;
  /** One schema per query type to expose; an object schema also documents the GET query parameters. */
  readonly schemas: { readonly [T in keyof Q & string]?: RouteSchema<Q[T]["payload"]> };
}

/**
 * Which route the auth hook is asked about: a command or query, (when enabled) health, OpenAPI and
 * metrics, the operations UI (`adminRoutes` of the Hono adapter, always), or a live event stream
 * (`"live"`, type `"events"`).
 */
export type AuthKind = MessageKind | "health" | "openapi" | "metrics" | "admin" | "live";

export interface AuthRequest<X = unknown> {
  readonly kind: AuthKind;
  /**
   * The type named in the path; it may not exist (the hook runs first, so 404s do not reveal types).
   * `"live"` or `"ready"` for health, `"openapi"` for the document; for `"admin"`, the action:
   * `"read"` (the page and every GET), `"replay"` or `"resume"`.
   */
  readonly type: string;
  readonly request: Request;
  readonly context: X;
}

/**
 * Who the caller is: `userId` and `metadata` go into the command's or query's metadata, and
 * together they are the caller's identity, which scopes its idempotency keys.
 */
export interface Principal {
  readonly userId?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * Decides before dispatch: return a {@link Principal} (or `true`, allowed without an identity) to
 * allow, `false` to refuse (403), or throw `UnauthorizedError` (401) or `ForbiddenError` (403) to say why.
 */
export type AuthHook<X = unknown> = (request: AuthRequest<X>) => Principal | boolean | Promise<Principal | boolean>;

export interface HealthOptions<X = unknown> {
  /** Probed with its `ping()`: one cheap round trip. */
  readonly store?: FromContext<EventStore, X>;
  /** Probed with `ping()` when it has one, else by publishing nothing. */
  readonly bus?: FromContext<EventPublisher, X>;
  /** More probes by name: functions (a cache, a downstream API), or stores and buses (their `ping()`). */
  readonly probes?: Readonly<Record<string, Probe>>;
  /** Time each probe has, in ms. Defaults to 2000. */
  readonly timeoutMs?: number;
  /** How long a readiness report is reused, in ms (0: probe on every request). Defaults to 1000. */
  readonly cacheMs?: number;
  /** Run the auth hook on `/health/live` and `/health/ready` too (kind `"health"`). Defaults to `false`. */
  readonly auth?: boolean;
}

/**
 * Where `Idempotency-Key`s are remembered, and whose they are. A key is scoped by the caller's
 * identity (the principal's `userId` and `metadata`): a request without one (no auth hook, or a hook
 * that returned `true`) may not send a key (400) unless `scope` gives one.
 */
export interface IdempotencyOptions {
  /**
   * Defaults to an `InMemoryIdempotencyStore`: one instance only; use a shared store in production
   * (`PostgresIdempotencyStore`, `DynamoDbIdempotencyStore`, `SqliteIdempotencyStore`).
   * With `tenancy`, a function of the caller's tenant scope gives that tenant's own store (one it made
   * once, such as `tenant.stores.idempotencyStore`), so that its keys sit where its isolation says: under
   * its key prefix on a shared DynamoDB table, in its schema, under its row-level security.
   */
  readonly store?: IdempotencyStore | ((tenant: AnyTenantScope) => IdempotencyStore);
  /**
   * The key space of a request: requests with the same scope share keys. Defaults to the principal's
   * identity. Return `undefined` to refuse the key. An API whose callers cannot be told apart may
   * return a constant, and then shares one key space among all of them.
   */
  readonly scope?: (principal: Principal | undefined, request: Request) => string | undefined;
}

/** A document the dispatcher serves (the OpenAPI document, built by the adapter that knows how). */
export interface DocumentRoute {
  /** Where it is served, relative to the routes. */
  readonly path: string;
  /** The JSON text, for routes mounted at `base` (`"/"` or `"/api"`). */
  readonly document: (base: string) => string;
  /** Run the auth hook on it too (kind `"openapi"`). Defaults to `false`. */
  readonly auth?: boolean;
}

/**
 * A Prometheus scrape route. The library holds no metric registry of its own: pass the OpenTelemetry
 * SDK reader your `MeterProvider` collects through, and each scrape serializes what it collects.
 */
export interface MetricsRoute {
  /** An `@opentelemetry/sdk-metrics` `MetricReader` registered on the application's `MeterProvider`. */
  readonly collector: MetricsCollector;
  /**
   * What the route answers: `prometheusFormat` (from `@eventflows/core/http` or `/hono`), the Prometheus
   * text format, or a format of your own. Given here so that routes without metrics bundle no serializer.
   */
  readonly format: MetricsFormat;
  /** Where it is served. Defaults to `/metrics`. */
  readonly path?: string;
  /** Run the auth hook on it too (kind `"metrics"`, type `"metrics"`). Defaults to `false`. */
  readonly auth?: boolean;
}

export interface ErrorInfo<X = unknown> {
  readonly kind?: MessageKind;
  readonly type?: string;
  /** The readiness probe that failed or timed out (`store`, `bus`, a key of `probes`), for a probe's failure. */
  readonly check?: string;
  readonly request: Request;
  readonly context?: X;
}

export interface HttpDispatcherOptions<
  C extends MessageMap = MessageMap,
  Q extends MessageMap = MessageMap,
  X = unknown,
> {
  readonly commands?: CommandRoutes<C, X>;
  readonly queries?: QueryRoutes<Q, X>;
  readonly auth?: AuthHook<X>;
  /** Where `Idempotency-Key`s are remembered, or how; `false` ignores the header. Defaults to an in-memory store. */
  readonly idempotency?: IdempotencyStore | IdempotencyOptions | false;
  /** Largest request body accepted, in bytes. Defaults to 1 MiB. */
  readonly bodyLimit?: number;
  /** Deepest nesting of arrays and objects accepted in a JSON body. Defaults to 64. */
  readonly jsonDepthLimit?: number;
  /** The request header carrying a correlation id, echoed in every response. Defaults to `x-correlation-id`. */
  readonly correlationHeader?: string;
  /**
   * Whether the caller's correlation id and W3C trace context are taken (`true`, the default), or
   * every request gets a fresh id. A function decides per request (trust your own services only).
   */
  readonly trustClientCorrelation?: boolean | ((request: Request) => boolean);
  /** `GET /health/live` and `GET /health/ready`; `false` leaves them out. Defaults to both, with no probes. */
  readonly health?: HealthOptions<X> | false;
  /** A document route (the OpenAPI document); none by default. */
  readonly document?: DocumentRoute;
  /** `GET /metrics` in the Prometheus text format, from an SDK metric reader (see {@link MetricsRoute}). */
  readonly metrics?: MetricsRoute;
  /**
   * Multi-tenancy: the caller's tenant, derived from the auth hook's principal, picks the command and
   * query buses (`bus` as a function of the tenant scope), goes into every command's and query's
   * metadata as `tenantId`, and scopes idempotency keys. See docs/guide/multi-tenancy.md.
   */
  readonly tenancy?: TenancyRoutes<X>;
  /**
   * Adds to the metadata of every command and query, below the principal's and the correlation's:
   * their fields win, and its `userId` is dropped, since only the auth hook's principal says who calls.
   */
  readonly metadata?: (request: Request, context: X) => MessageMetadata | undefined;
  /**
   * Told of every server-side failure (5xx, failed probes, a failed idempotency record), with the
   * error the response does not disclose. Defaults to an error line on the library's logger.
   */
  readonly onError?: (error: unknown, info: ErrorInfo<X>) => void;
  /**
   * `false` turns the request spans off whatever provider is registered. Defaults to true: a span
   * per request (`POST /commands/:type`...) whenever a provider is registered, continuing the
   * caller's `traceparent` when `trustClientCorrelation` trusts it.
   */
  readonly telemetry?: boolean;
}

// The stores and services are the application's (its idempotency store among the stores, say); routes only pass them on.
// biome-ignore lint/suspicious/noExplicitAny: any application's stores and services
export type AnyTenantScope = TenantScope<any, any>;

export interface TenancyRoutes<X = unknown> {
  /** The tenants and their stores: `tenancy()` of the core. */
  // biome-ignore lint/suspicious/noExplicitAny: any application's stores and services
  readonly tenants: Tenancy<any, any>;
  /**
   * The caller's tenant, from the principal the auth hook returned (a claim of its token, say).
   * `undefined` (or `null`, from JavaScript) refuses the request: 401 without a principal, 403 with one. Never take it from
   * what the caller sends unchecked (a header, the path): that lets any caller pick a tenant.
   */
  readonly tenantOf: (
    principal: Principal | undefined,
    request: AuthRequest<X>,
  ) => string | undefined | Promise<string | undefined>;
}
