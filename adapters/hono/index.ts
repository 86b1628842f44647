/**
 * @module @eventflows/core/hono: command and query routes for Hono (valibot-validated, problem+json
 * errors, idempotency keys, auth hook, correlation ids), health checks and an OpenAPI 3.1 document.
 * The framework-free HTTP layer (the problem+json mapping, HTTP errors, body reading, correlation
 * ids) lives in ../http, shared with the Lambda handlers, and is re-exported here.
 */
export * from "../http/index.js";
export {
  busProbe,
  checkReadiness,
  DEFAULT_PROBE_TIMEOUT_MS,
  HEALTH_PROBE_STREAM,
  notReadyProblem,
  type Probe,
  type ProbeResult,
  type ReadinessReport,
  storeProbe,
} from "./health.js";
export {
  checkIdempotencyInput,
  IDEMPOTENCY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  type IdempotencyClaim,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  type InMemoryIdempotencyStoreOptions,
  idempotencyKeyFrom,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  requestFingerprint,
  type StoredResponse,
} from "./idempotency.js";
export {
  type IdempotencyStoreContractOptions,
  type IdempotencyStoreContractSettings,
  idempotencyStoreContract,
} from "./idempotency-store-contract.js";
export { acceptsUndefined, type JsonSchema, toJsonSchema, type ValibotSchema } from "./json-schema.js";
export {
  type DocumentSpec,
  type OpenApiInfo,
  type OpenApiOptions,
  openApiDocument,
  type RouteDescription,
} from "./openapi.js";
export { queryReader } from "./query-string.js";
export {
  type AuthHook,
  type AuthRequest,
  type CommandRoutes,
  type ErrorInfo,
  type EventFlowsRoutesOptions,
  eventFlowsRoutes,
  type FromContext,
  type HealthOptions,
  mountEventFlows,
  type PayloadSchema,
  type Principal,
  type QueryRoutes,
  type RouteDefinition,
  type RouteSchema,
} from "./routes.js";
