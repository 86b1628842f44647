import {
  isEventFlowsError,
  PayloadTooLargeError,
  redactedCause,
  redactText,
  ServiceError,
  ValidationError,
} from "../../src/index.js";

/** Why one action of a DynamoDB transaction was cancelled (`CancellationReasons[i]`). */
export interface CancellationReason {
  /** `None`, `ConditionalCheckFailed`, `TransactionConflict`, `ThrottlingError`, ... */
  readonly code: string;
  readonly message?: string;
  /** The item as stored, when the action asked for `ReturnValuesOnConditionCheckFailure: "ALL_OLD"`. */
  readonly item?: Readonly<Record<string, unknown>>;
}

export interface AwsServiceErrorDetails {
  readonly status?: number;
  readonly requestId?: string;
  readonly attempts: number;
  readonly cancellationReasons?: readonly CancellationReason[];
  /**
   * Why a retryable failure was thrown anyway: the per-call attempts, the client's retry budget or
   * the call's deadline ran out.
   */
  readonly gaveUp?: GaveUp;
  readonly cause?: unknown;
}

export type GaveUp = "attempts" | "budget" | "deadline";

/**
 * An AWS service refused or failed a call. A {@link ServiceError} (same `code`, same guard) with
 * what AWS said: the error code after the `#` of `__type`, the HTTP status, the request id, the
 * cancellation reasons of a transaction, and how many attempts were made.
 */
export class AwsServiceError extends ServiceError {
  readonly requestId: string | undefined;
  readonly attempts: number;
  readonly cancellationReasons: readonly CancellationReason[];
  readonly gaveUp: GaveUp | undefined;

  constructor(
    service: string,
    operation: string,
    serviceCode: string,
    retryable: boolean,
    message: string,
    details: AwsServiceErrorDetails,
  ) {
    const gaveUp =
      details.gaveUp === "budget"
        ? ` (not retried: the retry budget is spent, after ${details.attempts} attempt(s))`
        : details.gaveUp === "attempts"
          ? ` (after ${details.attempts} attempts)`
          : details.gaveUp === "deadline"
            ? ` (the call's deadline passed, after ${details.attempts} attempt(s))`
            : "";
    super(service, operation, serviceCode, retryable, `${message}${gaveUp}`, {
      cause: details.cause,
      status: details.status,
    });
    this.requestId = details.requestId;
    this.attempts = details.attempts;
    this.cancellationReasons = details.cancellationReasons ?? [];
    this.gaveUp = details.gaveUp;
    // ServiceError types its name as a literal; the subclass still names itself, in stack traces and
    // in its JSON, as every other exported error class does.
    Object.defineProperty(this, "name", { value: "AwsServiceError" });
  }
}

/** Codes AWS uses for "slow down", across services. They arrive as HTTP 400 and are worth retrying. */
export const THROTTLING_CODES: ReadonlySet<string> = new Set([
  "BandwidthLimitExceeded",
  "EC2ThrottledException",
  "LimitExceededException",
  "PriorRequestNotComplete",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ThrottledException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  // DynamoDB: an earlier attempt with the same ClientRequestToken is still running.
  "TransactionInProgressException",
]);

/** Transient failures that are not throttling. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "InternalServerError",
  "InternalFailure",
  "ServiceUnavailable",
  "RequestTimeout",
  "RequestTimeoutException",
  // DynamoDB: a plain write met an item a transaction holds.
  "TransactionConflictException",
  // DynamoDB (multi-Region strong consistency): a request in another Region is writing the item.
  "ReplicatedWriteConflictException",
]);

/** Reasons a transaction can be cancelled for that another attempt may not meet. */
const TRANSIENT_CANCELLATIONS: ReadonlySet<string> = new Set([
  "None",
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
  "RequestLimitExceeded",
]);

/**
 * Whether trying again may succeed. Never for a failed condition (`ConditionalCheckFailedException`,
 * or a cancelled transaction with any `ConditionalCheckFailed` or validation reason): the answer
 * would be the same.
 */
export function isRetryable(code: string, status: number, reasons: readonly CancellationReason[] = []): boolean {
  if (code === "TransactionCanceledException") {
    return (
      reasons.length > 0 &&
      reasons.every((r) => TRANSIENT_CANCELLATIONS.has(r.code)) &&
      reasons.some((r) => r.code !== "None")
    );
  }
  if (THROTTLING_CODES.has(code) || TRANSIENT_CODES.has(code)) return true;
  return status >= 500 || status === 429;
}

/** Whether a retry of this failure should cost more of the retry budget (the request may not have arrived). */
export function isTimeoutLike(code: string): boolean {
  return code === "NetworkError" || code === "TimeoutError";
}

/** One failed attempt, before the client decides whether to retry it. */
export interface AwsFailure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly status?: number;
  readonly requestId?: string;
  readonly cancellationReasons?: readonly CancellationReason[];
  readonly cause?: unknown;
}

/**
 * Reads an AWS JSON-protocol error response. The code comes from `__type` (the part after `#`),
 * else the `x-amzn-ErrorType` header (before any `:`), else the status; the message from `message`
 * or `Message`, with credentials masked as the library's logs mask them (see redactText). AWS messages
 * are kept short; payloads never appear.
 */
export function failureFromResponse(status: number, headers: Headers, bodyText: string): AwsFailure {
  const issues = [];
  if (typeof status !== "number" || !Number.isSafeInteger(status))
    issues.push({ path: ["status"], message: "must be an HTTP status" });
  if (typeof (headers as { get?: unknown } | null)?.get !== "function")
    issues.push({ path: ["headers"], message: "must be Headers" });
  if (typeof bodyText !== "string") issues.push({ path: ["bodyText"], message: "must be a string" });
  if (issues.length > 0) throw new ValidationError("Invalid AWS response", issues);
  return failureOf(status, headers, bodyText);
}

/** {@link failureFromResponse} without the checks: the client's own call, with a real response. */
export function failureOf(status: number, headers: Headers, bodyText: string): AwsFailure {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = bodyText === "" ? {} : JSON.parse(bodyText);
    if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    // A proxy's HTML error page, a truncated body: the status still says what happened.
  }
  const rawType =
    (typeof body.__type === "string" ? body.__type : undefined) ??
    (typeof body.code === "string" ? body.code : undefined) ??
    headers.get("x-amzn-errortype") ??
    undefined;
  // What the answer names goes into the error's message and fields as it is: only what has the shape AWS
  // gives it. A proxy's or a broken endpoint's answer may put anything there (a header dump, a token).
  const named = rawType === undefined ? undefined : codeOf(rawType);
  const code = named !== undefined && AWS_CODE.test(named) ? named : statusCode(status);
  const requestId = headers.get("x-amzn-requestid") ?? headers.get("x-amz-request-id") ?? undefined;
  const rawMessage = body.message ?? body.Message ?? body.errorMessage;
  // Masked before it is cut (a cut must not leave part of a credential past the mask): a signature
  // mismatch's message quotes the canonical request, the session token's header included.
  const message = typeof rawMessage === "string" && rawMessage !== "" ? serviceMessage(rawMessage) : `HTTP ${status}`;
  const reasons = Array.isArray(body.CancellationReasons) ? body.CancellationReasons.map(parseReason) : undefined;
  return {
    code,
    message,
    retryable: isRetryable(code, status, reasons),
    status,
    requestId: requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : undefined,
    cancellationReasons: reasons,
  };
}

/**
 * A request that got no HTTP answer: the connection failed or dropped, or the attempt timed out
 * (`timedOutAfterMs`: after how long). The message names the attempt: a call that retried until its
 * deadline read "no response within 31 ms" for a 300 ms deadline, the last attempt's share of it.
 */
export function transportFailure(cause: unknown, timedOutAfterMs?: number): AwsFailure {
  if (isNetworkRefusal(cause)) {
    // The runtime refused the connection itself: the same request would be refused again.
    const message = "the runtime refused the connection: on Deno, grant --allow-net for the endpoint's host and port";
    const safe = Object.assign(new Error(message), { name: (cause as Error).name, code: "NetAccessRefused" });
    return { code: "NetAccessRefused", message, retryable: false, cause: safe };
  }
  const code = networkCode(cause);
  const message =
    timedOutAfterMs !== undefined
      ? `the last attempt had no response within ${timedOutAfterMs} ms`
      : `the request got no complete HTTP answer${code === undefined ? "" : ` (${code})`}`;
  return {
    code: timedOutAfterMs === undefined ? "NetworkError" : "TimeoutError",
    message,
    retryable: true,
    cause: sanitizedCause(cause, code),
  };
}

/**
 * Deno's refusal of a connection its --allow-net does not grant (`NotCapable`; `PermissionDenied`
 * before Deno 2), whose message names the host and port.
 */
function isNetworkRefusal(cause: unknown): boolean {
  const { name, message } = (typeof cause === "object" && cause !== null ? cause : {}) as {
    name?: unknown;
    message?: unknown;
  };
  return (
    (name === "NotCapable" || name === "PermissionDenied") &&
    typeof message === "string" &&
    message.startsWith("Requires net access")
  );
}

/**
 * The system's code for a failed connection (`ECONNREFUSED`, `ENOTFOUND`, Bun's `ConnectionRefused`),
 * from the error or the causes it wraps (Node's fetch throws "fetch failed" with the socket's error
 * as its cause).
 */
function networkCode(cause: unknown): string | undefined {
  let error = cause;
  for (let depth = 0; depth < 4 && typeof error === "object" && error !== null; depth++) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Za-z][A-Za-z0-9_]{1,39}$/.test(code)) return code;
    error = (error as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The cause kept on the error: its name and code only. Runtimes word connection failures with the
 * host, port or whole URL ("getaddrinfo ENOTFOUND db.internal", Bun's `path`), which an endpoint
 * built with credentials or an internal address must not carry into logs and error reports.
 */
function sanitizedCause(cause: unknown, code: string | undefined): Error {
  const safe = new Error(code === undefined ? "the request got no complete HTTP answer" : `network failure ${code}`);
  safe.name = cause instanceof Error ? cause.name : "Error";
  return code === undefined ? safe : Object.assign(safe, { code });
}

/**
 * The credentials provider threw (a vault, STS or IMDS client of the application's): nothing was
 * sent, and the call is not retried. Its error is kept as the cause by its name, code and masked
 * message only (see redactedCause): such a client's error may carry the response or the request
 * that held the secret, and the caller's error reports would show them. The library's own errors
 * (and the application's EventFlows errors) are thrown as they are: they are safe to show already.
 */
export function credentialsFailure(cause: unknown): AwsFailure {
  if (isEventFlowsError(cause)) throw cause;
  return {
    code: "CredentialsProviderFailed",
    message: "the credentials provider failed; nothing was sent",
    retryable: false,
    cause: redactedCause(cause),
  };
}

/**
 * A 200 whose JSON is not what the service answers (no object, `field` of another kind; or a paging field naming
 * the page the request started from, `repeated`, or one the read was given already, `cycle`): a proxy's or a
 * wrong endpoint's answer. Retried as a 5xx is: what is in between may answer right next time. Names the
 * field, never the body.
 */
export function malformedAnswer(service: string, field?: string, page?: "repeated" | "cycle"): AwsFailure {
  const what =
    field === undefined
      ? "no JSON object"
      : page === "repeated"
        ? `its ${field} is where the request started: the same page again`
        : page === "cycle"
          ? `its ${field} names a page this read was given already: a cycle`
          : `its ${field} is of another kind`;
  return { code: "MalformedResponse", message: `the answer is not ${service}'s: ${what}`, retryable: true };
}

/**
 * A 200 whose body ran past `limit` bytes: no answer of these services to the library's calls comes near it (see
 * MAX_ANSWER_BYTES), so it came from something in between or a broken endpoint. Not retried, unlike a malformed
 * answer: the same request would most likely be answered the same, each attempt costing another `limit` bytes of
 * transfer and memory before it is refused.
 */
export function answerTooLarge(service: string, limit: number): AwsFailure {
  return {
    code: "ResponseTooLarge",
    message: `the answer is not ${service}'s: its body is over ${limit} bytes, the most the client reads`,
    retryable: false,
  };
}

/** A call whose deadline passed before it could be sent: nothing was sent. */
export function deadlinePassed(): AwsFailure {
  return { code: "TimeoutError", message: "the deadline passed before the call was sent", retryable: true };
}

/** The error thrown for a failure after `attempts` attempts. */
export function toServiceError(
  service: string,
  operation: string,
  failure: AwsFailure,
  attempts: number,
  gaveUp?: GaveUp,
): AwsServiceError {
  return new AwsServiceError(service, operation, failure.code, failure.retryable, failure.message, {
    status: failure.status,
    requestId: failure.requestId,
    attempts,
    cancellationReasons: failure.cancellationReasons,
    gaveUp: failure.retryable ? gaveUp : undefined,
    cause: failure.cause,
  });
}

/** DynamoDB's limit on one item, attribute names and values together: 400 KB. */
export const DYNAMODB_MAX_ITEM_BYTES = 400 * 1024;

// How DynamoDB words an item over 400 KB: "Item size has exceeded the maximum allowed size", and
// "Item size to update has exceeded ..." for an update whose item would pass it.
const ITEM_SIZE = /^Item size (?:to update )?has exceeded the maximum allowed size/;

/**
 * DynamoDB's refusal of an item over 400 KB, as the library's own size checks report one: a
 * {@link PayloadTooLargeError} (a ValidationException, or a transaction cancelled with a validation
 * reason saying so), with the service error as its cause and none of DynamoDB's words in its message.
 * DynamoDB does not say how large the item was: `size` is the request's, in bytes. Undefined for
 * any other failure.
 */
export function itemTooLarge(
  operation: string,
  failure: AwsFailure,
  requestBytes: number,
  cause: AwsServiceError,
): PayloadTooLargeError | undefined {
  const tooLarge =
    failure.code === "ValidationException"
      ? ITEM_SIZE.test(failure.message)
      : failure.code === "TransactionCanceledException" &&
        (failure.cancellationReasons ?? []).some(
          (r) => (r.code === "ValidationError" || r.code === "ValidationException") && ITEM_SIZE.test(r.message ?? ""),
        );
  if (!tooLarge) return undefined;
  const error = new PayloadTooLargeError(`An item of DynamoDB ${operation}`, requestBytes, DYNAMODB_MAX_ITEM_BYTES, {
    cause,
  });
  // The item's own size is not known: the message says what is, rather than "is <request size> bytes".
  error.message = `An item of DynamoDB ${operation} is over DynamoDB's limit of ${DYNAMODB_MAX_ITEM_BYTES} bytes per item (the request was ${requestBytes} bytes): nothing of it was written`;
  return error;
}

export function codeFromType(type: string): string {
  if (typeof type !== "string")
    throw new ValidationError("Invalid error type", [{ path: ["type"], message: "must be a string" }]);
  return codeOf(type);
}

function codeOf(type: string): string {
  const afterHash = type.slice(type.lastIndexOf("#") + 1);
  const colon = afterHash.indexOf(":");
  return colon < 0 ? afterHash : afterHash.slice(0, colon);
}

// An error code (`ConditionalCheckFailedException`, `ConditionalCheckFailed`) and a request id (a UUID, S3's base64) as AWS writes them.
export const AWS_CODE = /^[A-Za-z][A-Za-z0-9_.]{0,99}$/;
const REQUEST_ID = /^[A-Za-z0-9+/_-]{1,128}={0,2}$/;

function parseReason(value: unknown): CancellationReason {
  const r = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const reason: CancellationReason = {
    code: typeof r.Code !== "string" ? "None" : AWS_CODE.test(r.Code) ? r.Code : "Unknown",
    // Masked and cut as the error's own message is.
    ...(typeof r.Message === "string" ? { message: serviceMessage(r.Message) } : {}),
  };
  // The item as stored is the application's data: kept for the stores that read it, left out of
  // JSON.stringify and inspection, as a payload is.
  if (typeof r.Item === "object" && r.Item !== null) Object.defineProperty(reason, "item", { value: r.Item });
  return reason;
}

function statusCode(status: number): string {
  if (status === 429) return "TooManyRequestsException";
  if (status === 503) return "ServiceUnavailable";
  if (status >= 500) return "InternalServerError";
  return `Http${status}`;
}

/**
 * A message an AWS answer gives (an error's, a cancellation reason's, a PutEvents entry's), as errors keep it:
 * credentials masked as the library's logs mask them, then cut to 300 characters (masked first, so that a cut
 * cannot leave part of a credential past the mask).
 */
export function serviceMessage(text: string): string {
  return shorten(redactText(text));
}

function shorten(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
