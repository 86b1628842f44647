/**
 * The HTTP mapping of the error hierarchy: every error becomes an RFC 9457 problem details
 * response. It is the only place EventFlows decides status codes, and it depends on nothing but web
 * standards, so any HTTP adapter (Hono here, Lambda's API Gateway handlers) maps errors the same way.
 *
 * Problems use `type: "about:blank"` with the status phrase as `title`, as RFC 9457 §4.2.1 asks, and
 * carry the error's stable `code` as an extension member: clients branch on `code`. The `detail` of a
 * client error (4xx) is the error's message, which EventFlows errors write to be shown; a server error
 * (5xx) never carries the message of the error behind it.
 */
import { clipKey, ErrorCode, type Issue, isEventFlowsError, LiveErrorCode, TenancyErrorCode } from "../../src/index.js";
import { HttpErrorCode } from "./errors.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The stable error code (`VALIDATION_FAILED`, `CONCURRENCY_CONFLICT`, …); `INTERNAL_ERROR` for the unknown. */
  readonly code: string;
  /** For `VALIDATION_FAILED`: every problem found, each with a path into the input. */
  readonly issues?: readonly Issue[];
  readonly [extension: string]: unknown;
}

export const INTERNAL_ERROR = "INTERNAL_ERROR";

const statusByCode: Readonly<Record<string, number>> = {
  [ErrorCode.Validation]: 400,
  [HttpErrorCode.Unauthorized]: 401,
  [HttpErrorCode.Forbidden]: 403,
  // The caller's tenant is malformed or not served here: refused like any caller without rights.
  // TENANT_ISOLATION is left out on purpose: a store that met another tenant's event is a server fault (500).
  [TenancyErrorCode.InvalidTenant]: 403,
  [TenancyErrorCode.UnknownTenant]: 403,
  [ErrorCode.HandlerNotFound]: 404,
  [ErrorCode.StreamNotFound]: 404,
  [HttpErrorCode.NotFound]: 404,
  [HttpErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Concurrency]: 409,
  // The stream is deleted: the request conflicts with its state (a soft-deleted one can be restored,
  // a hard-deleted one never takes events again), not a server fault.
  [ErrorCode.StreamDeleted]: 409,
  [HttpErrorCode.IdempotencyInProgress]: 409,
  // The data subject was erased for good: the request names something that is gone, not a retryable conflict.
  [ErrorCode.SubjectErased]: 410,
  // The request ran, but its response was not kept for replay: gone for good, and running it again is
  // what the key exists to prevent.
  [HttpErrorCode.IdempotencyResponseNotKept]: 410,
  [ErrorCode.PayloadTooLarge]: 413,
  [HttpErrorCode.UnsupportedMediaType]: 415,
  [HttpErrorCode.IdempotencyKeyReused]: 422,
  [TenancyErrorCode.QuotaExceeded]: 429,
  [HttpErrorCode.NotReady]: 503,
  [LiveErrorCode.TooManyClients]: 503,
  // The server is shutting down: a client dropped with `shutdown` retries rather than stopping for good.
  [LiveErrorCode.HubClosed]: 503,
};

const phrases: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The status phrase for a status code, as `title` of an `about:blank` problem. */
export function statusPhrase(status: number): string {
  return phrases[status] ?? (status >= 500 ? "Server Error" : "Client Error");
}

/** Builds a problem from parts, for responses that do not start from an error (readiness, say). */
export function problem(
  status: number,
  code: string,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
): ProblemDetails {
  // The standard members first, as readers expect; extension names never collide with them (ours only).
  return { type: "about:blank", title: statusPhrase(status), status, detail, code, ...extensions };
}

/**
 * The problem for an error. Known client errors keep their message and structured fields; a
 * backend failure says only whether retrying may help; anything else is a bare 500.
 */
export function problemFor(error: unknown): ProblemDetails {
  if (!isHttpMappable(error)) return problem(500, INTERNAL_ERROR, "An unexpected error occurred");
  const code = error.code;
  if (code === ErrorCode.Service) {
    const retryable = (error as { retryable?: unknown }).retryable === true;
    return retryable
      ? problem(503, code, "A backend service is unavailable; retrying may succeed", { retryable: true })
      : problem(500, code, "A backend service failed", { retryable: false });
  }
  const status = statusByCode[code];
  if (status === undefined) return problem(500, INTERNAL_ERROR, "An unexpected error occurred");
  const fields = error as unknown as Record<string, unknown>;
  switch (code) {
    case ErrorCode.Validation:
      return problem(status, code, error.message, { issues: safeIssues(fields.issues) });
    case ErrorCode.Concurrency:
      return problem(status, code, error.message, {
        streamId: fields.streamId,
        expectedVersion: fields.expectedVersion,
        actualVersion: fields.actualVersion,
      });
    case ErrorCode.StreamDeleted:
      // Not the store's wording: it tells the server's code to call restoreStream, which a caller cannot.
      return problem(
        status,
        code,
        fields.mode === "hard"
          ? `Stream "${fields.streamId}" was deleted for good: it takes no more events`
          : `Stream "${fields.streamId}" is deleted: it takes no events unless it is restored`,
        { streamId: fields.streamId, mode: fields.mode },
      );
    case ErrorCode.PayloadTooLarge:
      return problem(status, code, error.message, { limit: fields.limit });
    case HttpErrorCode.IdempotencyResponseNotKept:
      return problem(status, code, error.message, {
        originalStatus: fields.originalStatus,
        size: fields.size,
        limit: fields.limit,
      });
    case HttpErrorCode.MethodNotAllowed:
      return problem(status, code, error.message, { allow: fields.allow });
    case ErrorCode.HandlerNotFound:
      // Not the bus's wording ("No command handler is registered for"): a type registered on the bus
      // but given no schema is as unreachable as an unknown one, and answers the same.
      return typeof fields.kind === "string" && typeof fields.type === "string" && fields.aggregate === undefined
        ? problem(status, code, `No ${fields.kind} "${fields.type}" is served here`)
        : problem(status, code, error.message);
    case TenancyErrorCode.QuotaExceeded:
      return problem(status, code, error.message, { limit: fields.limit, max: fields.max });
    default:
      return problem(status, code, error.message);
  }
}

/**
 * Headers a problem's status calls for: the auth challenge of a 401, `Allow` of a 405, `Accept-Encoding`
 * of a 415 refusing a content coding, `Retry-After` of a 503.
 */
export function problemHeaders(error: unknown, problemDetails: ProblemDetails): Record<string, string> {
  const headers: Record<string, string> = { "content-type": PROBLEM_CONTENT_TYPE };
  const fields = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
  if (problemDetails.status === 401) {
    headers["www-authenticate"] = typeof fields.challenge === "string" ? fields.challenge : "Bearer";
  }
  if (problemDetails.status === 405 && Array.isArray(fields.allow)) headers.allow = fields.allow.join(", ");
  // RFC 9110 15.5.16: a 415 for a content coding says which codings are accepted (none but identity).
  if (problemDetails.status === 415 && typeof fields.contentEncoding === "string")
    headers["accept-encoding"] = "identity";
  if (problemDetails.status === 503 || problemDetails.code === HttpErrorCode.IdempotencyInProgress) {
    headers["retry-after"] = "1";
  }
  // A window quota frees up in retryAfterMs; an append too large for its quota does not, so no header.
  if (problemDetails.status === 429 && typeof fields.retryAfterMs === "number" && fields.retryAfterMs > 0) {
    headers["retry-after"] = String(Math.ceil(fields.retryAfterMs / 1000));
  }
  return headers;
}

/** A problem+json response for an error, with `extraHeaders` (a correlation id, say) added. */
export function errorResponse(error: unknown, extraHeaders: Readonly<Record<string, string>> = {}): Response {
  const details = problemFor(error);
  return new Response(JSON.stringify(details), {
    status: details.status,
    headers: { ...problemHeaders(error, details), ...extraHeaders },
  });
}

/** A problem+json response for a problem built with {@link problem}. */
export function problemResponse(
  details: ProblemDetails,
  extraHeaders: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(details), {
    status: details.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...extraHeaders },
  });
}

/**
 * An error of this package, by the mark every `EventFlowsError` carries (`Symbol.for("eventflows.error")`,
 * on its prototype: another copy of the package, which fails `instanceof`, carries it too). Not by its
 * code alone, which `isEventFlowsError` also accepts: a response shows the error's message and fields,
 * and an error of the application or another library that merely has one of our codes
 * (`VALIDATION_FAILED`) must be a bare 500, its message unshown, like any other unexpected error.
 */
export function isMarkedEventFlowsError(error: unknown): error is Error & { code: string } {
  return isEventFlowsError(error) && (error as unknown as Record<symbol, unknown>)[EVENTFLOWS_MARK] === true;
}

const EVENTFLOWS_MARK = Symbol.for("eventflows.error");

function isHttpMappable(error: unknown): error is Error & { code: string } {
  return isMarkedEventFlowsError(error);
}

/** Issues a problem lists: a form's worth; a body of many bad entries would get one each. */
const MAX_ISSUES = 100;

// Issues come from our ValidationError; still, only path and message go out, never anything else attached.
// Keys are the client's text: clipped, as the message shows them, so that no answer mirrors the body.
function safeIssues(issues: unknown): Issue[] {
  if (!Array.isArray(issues)) return [];
  return issues
    .slice(0, MAX_ISSUES)
    .map((issue: Issue) => ({ path: (issue.path ?? []).map(clipKey), message: String(issue.message) }));
}
