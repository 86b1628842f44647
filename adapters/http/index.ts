/**
 * @module @eventflows/core/http: the framework-free HTTP layer shared by the Hono routes and the Lambda
 * handlers: the problem+json mapping of the error hierarchy (the only place status codes are
 * decided), the HTTP-layer errors, safe JSON body reading and correlation ids from request headers.
 * Web standards only; no web framework.
 */
export {
  CORRELATION_HEADER,
  correlationFrom,
  MAX_CORRELATION_ID_LENGTH,
  type RequestCorrelation,
} from "./correlation.js";
export {
  ForbiddenError,
  HttpErrorCode,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  MethodNotAllowedError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "./errors.js";
export {
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  idempotencyInputIssues,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "./idempotency-store.js";
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
export { DEFAULT_BODY_LIMIT, isJsonMediaType, type JsonBody, readJsonBody } from "./request-body.js";
