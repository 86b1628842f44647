/** What the operations UI (`adminRoutes`) is configured with, and the checks made when it is built. */
import type { Context } from "hono";
import {
  type EventStore,
  type Issue,
  type LiveHub,
  type ProjectionRunner,
  type ReadModelStore,
  type SagaRuntime,
  unknownKeyIssues,
  ValidationError,
} from "../../../src/index.js";
import { type AnyTenantScope, tenancyIssues } from "../../http/index.js";
import type { AuthHook, ErrorInfo, FromContext, TenancyRoutes } from "../routes.js";

/** A projection the UI shows and can replay into: its runner (name, lag, state) and its read models. */
export interface AdminProjection {
  // biome-ignore lint/suspicious/noExplicitAny: any projection, whatever its events and state
  readonly runner: ProjectionRunner<any, any>;
  /** The store the runner writes to: where a confirmed replay writes, and what a dry run compares with. */
  readonly readModels: ReadModelStore;
}

export interface AdminRoutesOptions {
  /**
   * The store whose streams and global feed are browsed. Required without `tenancy`; with it, a
   * function of the tenant (`(c, tenant) => …`) or left out for the tenant's own
   * `tenant.stores.eventStore`.
   */
  readonly store?: FromContext<EventStore>;
  /**
   * Required: the same hook as the command routes'. Asked with kind `"admin"` and type `"read"` (the
   * page, its assets and every GET), `"replay"` or `"resume"` on every request; anything but a
   * Principal or `true` refuses (403), and it may throw `UnauthorizedError` (401).
   */
  readonly auth: AuthHook;
  /** Projections shown with their lag, and offered for replay. None by default. */
  readonly projections?: FromContext<readonly AdminProjection[]>;
  /** The saga runtime whose parked instances are listed and resumed. None by default. */
  readonly sagas?: FromContext<SagaRuntime>;
  /**
   * A link to the trace of an event whose metadata carries a W3C `traceparent`: an `http(s)` URL
   * with `{traceId}` in it (`https://grafana.example/explore?traceId={traceId}`). Without it the UI
   * shows the trace id, unlinked.
   */
  readonly traceUrl?: string;
  /**
   * A live hub over the same store (one per process, as `liveRoutes` takes it): the page then
   * watches the feed over Server-Sent Events from `api/live`, behind this UI's auth hook, instead of
   * polling. Without it the page polls every `pollIntervalMs`.
   */
  readonly live?: FromContext<LiveHub>;
  /** How often the page asks for new events while visible, when no `live` hub is given, in ms. Defaults to 1000. */
  readonly pollIntervalMs?: number;
  /**
   * Multi-tenancy, as on the command routes: the operator's tenant comes from the principal the auth
   * hook returned, and every API reads and acts on that tenant's store, projections, sagas and hub
   * only (each then a function of the tenant: a value would be shared by every tenant, so it is
   * refused). An event of another tenant met on the way answers 404, as a missing one does.
   */
  readonly tenancy?: TenancyRoutes;
  /** Told of every server-side failure (5xx), with the error the response does not disclose. */
  readonly onError?: (error: unknown, info: ErrorInfo) => void;
}

export interface AdminSettings {
  readonly store: FromContext<EventStore>;
  readonly tenancy: TenancyRoutes | undefined;
  readonly auth: AuthHook;
  readonly projections: FromContext<readonly AdminProjection[]>;
  readonly sagas: FromContext<SagaRuntime> | undefined;
  readonly traceUrl: string | undefined;
  readonly live: FromContext<LiveHub> | undefined;
  readonly pollIntervalMs: number;
  readonly onError: ((error: unknown, info: ErrorInfo) => void) | undefined;
}

const ADMIN_OPTIONS = [
  "store",
  "auth",
  "projections",
  "sagas",
  "traceUrl",
  "live",
  "pollIntervalMs",
  "tenancy",
  "onError",
] as const satisfies readonly (keyof AdminRoutesOptions)[];

/** @throws {ValidationError} an option it does not take, no auth hook, no store, a bad trace URL template or poll interval. */
export function adminSettings(options: AdminRoutesOptions): AdminSettings {
  const issues: Issue[] = [];
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid admin options", [{ path: [], message: "options are required" }]);
  }
  // A misspelt key was dropped: `pollIntervalMS` polled at the default, `projection` showed none.
  issues.push(...unknownKeyIssues(options, ADMIN_OPTIONS));
  issues.push(...shapeIssues(options));
  // No hook, no UI: an operations page that replays and resumes is never served open.
  if (typeof options.auth !== "function") {
    issues.push({ path: ["auth"], message: "auth is required: the operations UI is never served without it" });
  }
  const { tenancy } = options;
  if (tenancy === undefined) {
    if (options.store === undefined || options.store === null)
      issues.push({ path: ["store"], message: "store is required" });
  } else {
    // The command routes' check: a tenantOf function, tenants to scope by, and no other key.
    issues.push(...tenancyIssues(tenancy));
    // A value would be one tenant's store (or runtime) shown to every tenant's operator.
    for (const key of ["store", "projections", "sagas", "live"] as const) {
      const value = options[key];
      if (value !== undefined && typeof value !== "function") {
        issues.push({ path: [key], message: `with tenancy, ${key} must be a function of the tenant` });
      }
    }
  }
  const { traceUrl } = options;
  if (
    traceUrl !== undefined &&
    (typeof traceUrl !== "string" || !/^https?:\/\/[^\s]+$/i.test(traceUrl) || !traceUrl.includes("{traceId}"))
  ) {
    issues.push({ path: ["traceUrl"], message: "traceUrl must be an http(s) URL containing {traceId}" });
  }
  const poll = options.pollIntervalMs ?? 1000;
  if (!Number.isSafeInteger(poll) || poll < 100 || poll > 60_000) {
    issues.push({ path: ["pollIntervalMs"], message: "pollIntervalMs must be an integer from 100 to 60,000" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid admin options", issues);
  return {
    store: options.store ?? ((_context, tenant) => tenantStore(tenant)),
    tenancy,
    auth: options.auth,
    projections: options.projections ?? [],
    sagas: options.sagas,
    traceUrl,
    live: options.live ?? undefined,
    pollIntervalMs: poll,
    onError: options.onError,
  };
}

/** What the API calls on each option given as a value (a function of the context is called per request). */
const METHODS = {
  store: ["readStream", "readAll", "getStreamVersion", "getLastGlobalPosition"],
  sagas: ["needsAttention", "failures", "resume"],
  live: ["connect", "assertCanConnect"],
} as const;

/**
 * Options given as values that are not what the API uses: each was taken, and the route that used it
 * answered 500 (`store: {}`, a `projections` object for an array, an entry without `readModels`).
 */
function shapeIssues(options: AdminRoutesOptions): Issue[] {
  const issues: Issue[] = [];
  const lacks = (value: unknown, methods: readonly string[]) =>
    typeof value !== "object" ||
    value === null ||
    methods.some((method) => typeof (value as never)[method] !== "function");
  for (const key of ["store", "sagas", "live"] as const) {
    const value: unknown = options[key];
    if (value !== undefined && value !== null && typeof value !== "function" && lacks(value, METHODS[key])) {
      issues.push({
        path: [key],
        message: `${key} must offer ${METHODS[key].join(", ")}, or be a function of the context`,
      });
    }
  }
  const projections: unknown = options.projections;
  if (projections === undefined || typeof projections === "function") return issues;
  if (!Array.isArray(projections)) {
    issues.push({
      path: ["projections"],
      message: "projections must be an array of { runner, readModels }, or a function of the context",
    });
    return issues;
  }
  projections.forEach((projection: unknown, index) => {
    issues.push(...unknownKeyIssues(projection, ["runner", "readModels"], ["projections", index]));
    const { runner, readModels } = (projection ?? {}) as Partial<AdminProjection>;
    if (lacks(runner, ["lag"]) || typeof runner?.projection !== "object") {
      issues.push({ path: ["projections", index, "runner"], message: "runner must be a ProjectionRunner" });
    }
    if (lacks(readModels, ["get"])) {
      issues.push({
        path: ["projections", index, "readModels"],
        message: "readModels must be the runner's ReadModelStore",
      });
    }
  });
  return issues;
}

/**
 * A value given directly, or made from the request's context (Workers build clients from `c.env`)
 * and, with tenancy, the operator's tenant scope.
 */
export function resolve<T>(value: FromContext<T>, context: Context, tenant?: AnyTenantScope): T {
  return typeof value === "function"
    ? (value as (context: Context, tenant?: AnyTenantScope) => T)(context, tenant)
    : value;
}

/** The tenant's own event store: the default `store` with tenancy (never reached without it: `store` is then required). */
function tenantStore(tenant: AnyTenantScope | undefined): EventStore {
  if (tenant === undefined) throw new Error("adminRoutes: no tenant scope for the default store");
  return tenant.stores.eventStore;
}
