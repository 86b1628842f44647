import {
  clipText,
  ErrorCodeRegistry,
  EventFlowsError,
  type EventFlowsErrorOptions,
  isValidationError,
  ServiceError,
} from "../../src/index.js";

/**
 * Errors raised by the HTTP layer itself (not by the core): what a request did wrong before any
 * command or query ran. Each is an {@link EventFlowsError} with a stable `code`, mapped to a status by
 * `problemFor` in problem-details.ts. None of them depends on Hono, so other HTTP adapters reuse them.
 */
export const HttpErrorCode = ErrorCodeRegistry.http;

/** The request carries no valid credentials (401). `challenge` becomes the `WWW-Authenticate` header. */
export class UnauthorizedError extends EventFlowsError {
  override readonly name = "UnauthorizedError";
  readonly challenge: string | undefined;
  constructor(
    message = "Authentication is required",
    options?: EventFlowsErrorOptions & { readonly challenge?: string },
  ) {
    super(HttpErrorCode.Unauthorized, message, options);
    this.challenge = options?.challenge;
  }
}

/** The caller is known but may not do this (403). */
export class ForbiddenError extends EventFlowsError {
  override readonly name = "ForbiddenError";
  constructor(message = "Not allowed", options?: EventFlowsErrorOptions) {
    super(HttpErrorCode.Forbidden, message, options);
  }
}

/**
 * The body is not JSON by its `Content-Type`, or is content-coded (`Content-Encoding: gzip`, which is not
 * decoded), or transfer-coded otherwise than chunked (`Transfer-Encoding: gzip, chunked`) (415).
 */
export class UnsupportedMediaTypeError extends EventFlowsError {
  override readonly name = "UnsupportedMediaTypeError";
  /** The `Content-Encoding` refused (the body is not decoded), when that was the problem. */
  readonly contentEncoding: string | undefined;
  constructor(
    readonly contentType: string | undefined,
    options?: EventFlowsErrorOptions & { readonly contentEncoding?: string; readonly transferEncoding?: string },
  ) {
    super(
      HttpErrorCode.UnsupportedMediaType,
      options?.transferEncoding !== undefined
        ? `Transfer-Encoding ${clip(options.transferEncoding)} is not supported; send the body chunked or with a Content-Length`
        : options?.contentEncoding !== undefined
          ? `Content-Encoding ${clip(options.contentEncoding)} is not supported; send the body without a content coding`
          : contentType === undefined
            ? "The request has a body but no Content-Type; send application/json"
            : `Content-Type ${clip(contentType)} is not supported; send application/json`,
      options,
    );
    this.contentEncoding = options?.contentEncoding;
  }
}

/** No route has this path (404); an unknown command or query type is a `HandlerNotFoundError` instead. */
export class RouteNotFoundError extends EventFlowsError {
  override readonly name = "RouteNotFoundError";
  constructor(options?: EventFlowsErrorOptions) {
    super(HttpErrorCode.NotFound, "No route matches this path", options);
  }
}

/** The route exists, but not for this method (405). `allow` lists the methods it takes. */
export class MethodNotAllowedError extends EventFlowsError {
  override readonly name = "MethodNotAllowedError";
  constructor(
    readonly method: string,
    readonly allow: readonly string[],
    options?: EventFlowsErrorOptions,
  ) {
    super(HttpErrorCode.MethodNotAllowed, `${clip(method)} is not allowed here; use ${allow.join(" or ")}`, options);
  }
}

/** An `Idempotency-Key` already used for a different request (another body or command type) (422). */
export class IdempotencyKeyReusedError extends EventFlowsError {
  override readonly name = "IdempotencyKeyReusedError";
  constructor(options?: EventFlowsErrorOptions) {
    super(
      HttpErrorCode.IdempotencyKeyReused,
      "This Idempotency-Key was used for a different request; use a new key for a new request",
      options,
    );
  }
}

/** A request with the same `Idempotency-Key` is still running (409): retry after it finishes. */
export class IdempotencyInProgressError extends EventFlowsError {
  override readonly name = "IdempotencyInProgressError";
  constructor(options?: EventFlowsErrorOptions) {
    super(
      HttpErrorCode.IdempotencyInProgress,
      "A request with this Idempotency-Key is still in progress; retry later",
      options,
    );
  }
}

/**
 * A retry of a request that ran, whose response was too large to keep for replay (410): the command
 * is not run again. `originalStatus` is the status the first request answered; `size` its body's
 * UTF-8 bytes, over `limit`.
 */
export class IdempotencyResponseNotKeptError extends EventFlowsError {
  override readonly name = "IdempotencyResponseNotKeptError";
  constructor(
    readonly originalStatus: number,
    readonly size: number,
    readonly limit: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      HttpErrorCode.IdempotencyResponseNotKept,
      `The request with this Idempotency-Key already ran (status ${originalStatus}); its response, ${size} bytes, ` +
        `was over the ${limit} bytes kept for replay, so it cannot be sent again: read the result another way`,
      options,
    );
  }
}

// Echoed request values are clipped: an error message names the problem, it does not mirror input.
function clip(value: string): string {
  return JSON.stringify(clipText(value, 64));
}

/**
 * What to throw for an error of the application's own setup (a tenant's stores factory, a bus built from
 * bindings): a ValidationError there is the server's configuration, not the caller's input, so it becomes
 * a ServiceError (500, told to onError with it as `cause`) instead of a 400 that quotes the configuration.
 */
export function configurationFault(error: unknown, service: string, operation: string): unknown {
  if (!isValidationError(error)) return error;
  return new ServiceError(service, operation, error.code, false, `${operation}: ${error.message}`, { cause: error });
}
