/**
 * @module @eventflows/core/hono: command and query routes for Hono (valibot-validated, problem+json
 * errors, idempotency keys, auth hook, correlation ids), health checks and an OpenAPI 3.1 document.
 * The routes mount the framework-free HTTP dispatcher of ../http (shared with the Lambda handlers),
 * which is re-exported here, as are the idempotency store port and its contract suite from the core.
 * `adminRoutes` is the operations UI (off unless mounted, always behind the auth hook).
 */

export {
  type IdempotencyStoreContractOptions,
  type IdempotencyStoreContractSettings,
  idempotencyStoreContract,
} from "../../src/testing/index.js";
export * from "../http/index.js";
export { AdminNotFoundError } from "./admin/errors.js";
export type { AdminProjection, AdminRoutesOptions } from "./admin/options.js";
export { ADMIN_CSRF_HEADER, ADMIN_SECURITY_HEADERS, type AdminAction, adminRoutes } from "./admin/routes.js";
export { type EventJsonSchema, eventJsonSchemas } from "./event-schemas.js";
export { acceptsUndefined, type JsonSchema, toJsonSchema, type ValibotSchema } from "./json-schema.js";
export {
  type LiveAuthorize,
  type LiveRoutesOptions,
  type LiveSubscriptionRequest,
  liveRoutes,
} from "./live-routes.js";
export { SSE_HEADERS, sseEnd, sseEvent } from "./live-sse.js";
export {
  LIVE_CLOSE_CODES,
  type LiveMessage,
  type LiveSocket,
  type LiveSocketEvents,
  liveSocketEvents,
  type UpgradeWebSocket,
} from "./live-websocket.js";
export {
  type DocumentSpec,
  type OpenApiInfo,
  type OpenApiOptions,
  type OpenApiServer,
  openApiDocument,
  type RouteDescription,
} from "./openapi.js";
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
  type TenancyRoutes,
} from "./routes.js";
