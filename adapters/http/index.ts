/**
 * @module @eventflows/core/http: the framework-free HTTP layer shared by the Hono routes and the Lambda
 * handlers: the dispatcher (a web `Request` in, a `Response` out: routing, body limits, validation,
 * auth hook, idempotency keys, correlation ids, health), the problem+json mapping of the error hierarchy
 * (the only place status codes are decided) and the HTTP-layer errors. Web standards only; no web framework.
 */

// The idempotency store port lives in the core; re-exported here, where it first lived.
export {
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  type IdempotencyClaim,
  IdempotencyClaimLostError,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  type InMemoryIdempotencyStoreOptions,
  idempotencyClaimedInputIssues,
  idempotencyInputIssues,
  isIdempotencyClaimLostError,
  MAX_CLAIM_TOKEN_LENGTH,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../../src/index.js";
export {
  CORRELATION_HEADER,
  correlationFrom,
  MAX_CORRELATION_ID_LENGTH,
  MAX_TRACESTATE_LENGTH,
  normalizeTraceparent,
  type RequestCorrelation,
} from "./correlation.js";
export {
  authorize,
  createHttpDispatcher,
  DISPATCHER_OPTIONS,
  type HttpDispatcher,
  type Mount,
  pathOf,
} from "./dispatcher.js";
export type {
  AnyTenantScope,
  AuthHook,
  AuthKind,
  AuthRequest,
  CommandRoutes,
  DocumentRoute,
  ErrorInfo,
  FromContext,
  HealthOptions,
  HttpDispatcherOptions,
  IdempotencyOptions,
  MetricsRoute,
  PayloadSchema,
  Principal,
  QueryRoutes,
  RouteDefinition,
  RouteSchema,
  TenancyRoutes,
} from "./dispatcher-options.js";
export {
  ForbiddenError,
  HttpErrorCode,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  IdempotencyResponseNotKeptError,
  MethodNotAllowedError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "./errors.js";
export {
  busProbe,
  checkReadiness,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_READINESS_CACHE_MS,
  HEALTH_PROBE_STREAM,
  notReadyProblem,
  type Probe,
  type ProbeResult,
  type ReadinessReport,
  readinessCache,
  storeProbe,
} from "./health.js";
export {
  IDEMPOTENCY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyKeyFrom,
  MAX_REPLAYED_RESPONSE_BYTES,
  principalIdentity,
  requestFingerprint,
  scopedIdempotencyKey,
} from "./idempotency.js";
export {
  errorResponse,
  INTERNAL_ERROR,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  problem,
  problemFor,
  problemHeaders,
  problemResponse,
  statusPhrase,
} from "./problem-details.js";
export {
  type HistogramValue,
  type HrTimeLike,
  type MetricDataLike,
  type MetricDataPointLike,
  type MetricsCollector,
  type MetricsFormat,
  PROMETHEUS_CONTENT_TYPE,
  prometheusFormat,
  prometheusName,
  prometheusText,
  type ResourceMetricsLike,
} from "./prometheus.js";
export { queryReader } from "./query-string.js";
export {
  DEFAULT_BODY_LIMIT,
  DEFAULT_JSON_DEPTH_LIMIT,
  isJsonMediaType,
  type JsonBody,
  readJsonBody,
} from "./request-body.js";
export type { Route } from "./route-table.js";
export { tenancyIssues, tenantScope } from "./tenancy.js";
export { MAX_NUMBER_TEXT_LENGTH } from "./text-scan.js";
