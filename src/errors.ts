/**
 * The error hierarchy. Every error EventFlows throws is an {@link EventFlowsError} with a stable
 * string `code`; the `is*` guards check that code rather than `instanceof`, so they keep working
 * when an application ends up with two copies of the package.
 */

/** One problem found in user input: where (a path into the value) and what. */
export interface Issue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface EventFlowsErrorOptions {
  readonly cause?: unknown;
}

/**
 * The mark every EventFlowsError carries, whichever copy of the package made it (a symbol of the
 * global registry): how {@link isEventFlowsError} knows another copy's errors without taking any
 * Error that merely has a code like ours (`NOT_FOUND`, `FORBIDDEN`) for one of the package's.
 */
const BRAND: unique symbol = Symbol.for("eventflows.error");

export class EventFlowsError extends Error {
  override readonly name: string = "EventFlowsError";
  readonly code: string;

  constructor(code: string, message: string, options: EventFlowsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** @internal On the prototype, not enumerable: serialized errors stay as they were. */
  get [BRAND](): true {
    return true;
  }
}

/** Error codes, stable across releases: branch on these, not on messages. */
export const ErrorCode = {
  Concurrency: "CONCURRENCY_CONFLICT",
  StreamNotFound: "STREAM_NOT_FOUND",
  Validation: "VALIDATION_FAILED",
  HandlerNotFound: "HANDLER_NOT_FOUND",
  DuplicateHandler: "DUPLICATE_HANDLER",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  Service: "SERVICE_ERROR",
  SnapshotCorrupt: "SNAPSHOT_CORRUPT",
  EventCorrupt: "EVENT_CORRUPT",
  UpcastFailed: "UPCAST_FAILED",
  RehydrationFailed: "REHYDRATION_FAILED",
  AggregateBroken: "AGGREGATE_BROKEN",
  ProjectionFailed: "PROJECTION_FAILED",
  ReplayFailed: "REPLAY_FAILED",
  NoTransition: "NO_TRANSITION",
  SagaStepTimeout: "SAGA_STEP_TIMEOUT",
  EventHandlerTimeout: "EVENT_HANDLER_TIMEOUT",
  RebuildNotSupported: "REBUILD_NOT_SUPPORTED",
  Aborted: "ABORTED",
  SubjectErased: "SUBJECT_ERASED",
  PersonalDataUnreadable: "PERSONAL_DATA_UNREADABLE",
  StreamDeleted: "STREAM_DELETED",
  StreamDeletionNotSupported: "STREAM_DELETION_NOT_SUPPORTED",
  ReadModelGenerationChanged: "READ_MODEL_GENERATION_CHANGED",
  ReadModelTransactionTooLarge: "READ_MODEL_TRANSACTION_TOO_LARGE",
  IdempotencyClaimLost: "IDEMPOTENCY_CLAIM_LOST",
  /** `ImportConflictError` (`ImportErrorCode.Conflict`); here so that `isEventFlowsError` knows it too. */
  ImportConflict: "IMPORT_CONFLICT",
} as const;

/**
 * Every code the package's errors carry, by the part that raises them: the one list. Each part's
 * constant (`TenancyErrorCode`, `LiveErrorCode`, `HttpErrorCode`, `CliErrorCode`, ...) is its entry
 * here. Only strings: the core imports nothing from the parts.
 */
export const ErrorCodeRegistry = {
  core: ErrorCode,
  tenancy: {
    InvalidTenant: "TENANT_INVALID",
    UnknownTenant: "TENANT_UNKNOWN",
    Isolation: "TENANT_ISOLATION",
    QuotaExceeded: "TENANT_QUOTA_EXCEEDED",
  },
  // A literal, not ErrorCode.ImportConflict: a property read would keep this object in every bundle
  // (bundlers cannot prove it free of side effects), the smallest Worker included.
  import: { Conflict: "IMPORT_CONFLICT" },
  /** A helper of `@eventflows/core/testing` (`assertEqual`, `thenEvents`, a contract case) found a difference. */
  testing: { AssertionFailed: "ASSERTION_FAILED" },
  live: { TooManyClients: "LIVE_TOO_MANY_CLIENTS", HubClosed: "LIVE_HUB_CLOSED" },
  liveClient: {
    /** The server refused the subscription for good (400, 401, 403, 404, 405): the client does not retry. */
    Refused: "LIVE_SUBSCRIPTION_REFUSED",
    /** The connection failed or dropped; the client retries with backoff. */
    Disconnected: "LIVE_DISCONNECTED",
  },
  http: {
    Unauthorized: "UNAUTHORIZED",
    Forbidden: "FORBIDDEN",
    UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    NotFound: "NOT_FOUND",
    MethodNotAllowed: "METHOD_NOT_ALLOWED",
    IdempotencyKeyReused: "IDEMPOTENCY_KEY_REUSED",
    IdempotencyInProgress: "IDEMPOTENCY_IN_PROGRESS",
    IdempotencyResponseNotKept: "IDEMPOTENCY_RESPONSE_NOT_KEPT",
    NotReady: "NOT_READY",
  },
  eventBridge: { HandlersFailed: "HANDLERS_FAILED", OrderBlocked: "ORDER_BLOCKED", MappingFailed: "MAPPING_FAILED" },
  cli: {
    Usage: "CLI_USAGE",
    FileConflict: "CLI_FILE_CONFLICT",
    StoreFailed: "CLI_STORE_FAILED",
    MissingPackage: "CLI_MISSING_PACKAGE",
    UnsupportedRuntime: "CLI_UNSUPPORTED_RUNTIME",
    ModuleFailed: "CLI_MODULE_FAILED",
    StatefulReplay: "CLI_STATEFUL_REPLAY",
    SchemaNewer: "CLI_SCHEMA_NEWER",
    WriteFailed: "CLI_WRITE_FAILED",
  },
} as const;

/**
 * An optimistic-concurrency check failed: the stream is not at the version the caller expected.
 * The message says what to do: load again and decide again, which `AggregateRepository.update` and
 * the `retryOnConcurrency()` middleware do for you.
 */
export class ConcurrencyError extends EventFlowsError {
  override readonly name = "ConcurrencyError";
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number | string,
    readonly actualVersion: number,
    options?: EventFlowsErrorOptions & {
      /** For conflicts on something other than a stream (a checkpoint): what it is, and the advice. */
      readonly subject?: string;
      readonly hint?: string;
    },
  ) {
    super(
      ErrorCode.Concurrency,
      `${options?.subject ?? "Stream"} "${streamId}" is at version ${actualVersion}, expected ${String(expectedVersion)}: ${
        options?.hint ?? CONCURRENCY_HINT
      }`,
      options,
    );
  }
}

const CONCURRENCY_HINT =
  "someone else wrote to it since it was read. Load it again and decide again: " +
  "AggregateRepository.update(...) does, and the retryOnConcurrency() middleware retries a command";

export class StreamNotFoundError extends EventFlowsError {
  override readonly name = "StreamNotFoundError";
  constructor(
    readonly streamId: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.StreamNotFound, `Stream "${streamId}" does not exist`, options);
  }
}

/** User input was rejected before anything was written. `issues` lists every problem found. */
export class ValidationError extends EventFlowsError {
  override readonly name = "ValidationError";
  readonly issues: readonly Issue[];
  constructor(message: string, issues: readonly Issue[] = [], options?: EventFlowsErrorOptions) {
    // The first issues say what is wrong; listing thousands (one per entry of a large body) would make
    // the message, and a response carrying it, far larger than the input.
    const shown = issues.slice(0, MESSAGE_ISSUES).map(formatIssue);
    if (issues.length > MESSAGE_ISSUES) shown.push(`…(${issues.length - MESSAGE_ISSUES} more)`);
    super(ErrorCode.Validation, shown.length > 0 ? `${message}: ${shown.join("; ")}` : message, options);
    this.issues = issues;
  }
}

export type HandlerKind = "command" | "query" | "event";

export interface HandlerNotFoundErrorOptions extends EventFlowsErrorOptions {
  /**
   * What does have a handler: the bus's registered types, or an aggregate's `on...` methods. The
   * message lists the types and suggests the closest name.
   */
  readonly registered?: readonly string[];
  /** For an aggregate's event: its class name and the `on<Type>` method that was looked for. */
  readonly aggregate?: string;
  readonly method?: string;
  /** From a start-up check: every type found without a handler (`type` is the first of them). */
  readonly missing?: readonly string[];
}

/** No handler is registered for a command, query or (in an aggregate) event type. */
export class HandlerNotFoundError extends EventFlowsError {
  override readonly name = "HandlerNotFoundError";
  /** The registered types (for an aggregate, its `on...` methods), when known; empty otherwise. */
  readonly registered: readonly string[];
  /** The aggregate class that had no handler for the event, if any. */
  readonly aggregate: string | undefined;
  /** The convention method the aggregate was looked up for (`onItemAdded`), if any. */
  readonly method: string | undefined;
  /** Every type without a handler, from `assertAllHandled`; otherwise just `[type]`. */
  readonly missing: readonly string[];
  constructor(
    readonly kind: HandlerKind,
    readonly type: string,
    options?: HandlerNotFoundErrorOptions,
  ) {
    super(ErrorCode.HandlerNotFound, handlerNotFoundMessage(kind, type, options), options);
    this.registered = options?.registered ?? [];
    this.aggregate = options?.aggregate;
    this.method = options?.method;
    this.missing = options?.missing ?? [type];
  }
}

function handlerNotFoundMessage(kind: HandlerKind, type: string, options: HandlerNotFoundErrorOptions = {}): string {
  if (options.aggregate !== undefined) {
    const method = options.method ?? "on<Type>";
    const near = options.method === undefined ? undefined : closest(options.method, options.registered ?? []);
    return (
      `${options.aggregate} has no handler for event "${type}": ` +
      `add the method ${method}(event) or a "${type}" entry to its handlers map` +
      (near === undefined ? "" : `. It has ${near}: a misspelling of ${method}?`)
    );
  }
  if (options.missing !== undefined && options.missing.length > 0) {
    const list = options.missing.map((name) => `"${name}"`).join(", ");
    return `${options.missing.length} ${kind} type(s) have no handler: ${list}. Register one for each with register(type, handler) before dispatching`;
  }
  const base = `No ${kind} handler is registered for "${type}"`;
  const registered = options.registered;
  if (registered === undefined) return base;
  if (registered.length === 0) return `${base}; no ${kind} handlers are registered at all`;
  const suggestion = closest(type, registered);
  const shown = registered.slice(0, 20).map((name) => `"${name}"`);
  const more = registered.length > shown.length ? ` and ${registered.length - shown.length} more` : "";
  const didYouMean = suggestion === undefined ? "." : `. Did you mean "${suggestion}"?`;
  return `${base}${didYouMean} Registered: ${shown.join(", ")}${more}`;
}

/** The registered name nearest to `type` (case-insensitive edit distance), if any is near enough to be a typo. */
export function closest(type: string, candidates: readonly string[]): string | undefined {
  const wanted = type.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length] ?? limit, limit);
}

/** A second handler was registered for a command or query type that has one already. */
export class DuplicateHandlerError extends EventFlowsError {
  override readonly name = "DuplicateHandlerError";
  constructor(
    readonly kind: HandlerKind,
    readonly type: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.DuplicateHandler, `A ${kind} handler for "${type}" is already registered`, options);
  }
}

/**
 * A payload exceeds a backend's or a route's size limit. Thrown before anything is sent, or when the
 * backend refuses it as too large (DynamoDB's 400 KB item): nothing of it is written.
 */
export class PayloadTooLargeError extends EventFlowsError {
  override readonly name = "PayloadTooLargeError";
  constructor(
    readonly what: string,
    readonly size: number,
    readonly limit: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.PayloadTooLarge, `${what} is ${size} bytes, over the limit of ${limit} bytes`, options);
  }
}

/** A backend (database, AWS service) failed. `retryable` says whether trying again may succeed. */
export class ServiceError extends EventFlowsError {
  override readonly name = "ServiceError";
  constructor(
    readonly service: string,
    readonly operation: string,
    readonly serviceCode: string,
    readonly retryable: boolean,
    message: string,
    options?: EventFlowsErrorOptions & { readonly status?: number },
  ) {
    super(ErrorCode.Service, `${service} ${operation} failed (${serviceCode}): ${message}`, options);
    this.status = options?.status;
  }
  readonly status: number | undefined;
}

/**
 * A stored snapshot cannot be read: its bytes do not decode, or it was written in an encoding this
 * store does not know. The events are intact; the repository reports it and replays them instead.
 */
export class SnapshotCorruptError extends EventFlowsError {
  override readonly name = "SnapshotCorruptError";
  constructor(
    readonly streamId: string,
    readonly version: number,
    readonly reason: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.SnapshotCorrupt,
      `Snapshot of stream "${streamId}" at version ${version} is unreadable: ${reason}`,
      options,
    );
  }
}

/**
 * A stored event cannot be read as an event: a row or item written by another tool in a shape that
 * has no sane reading (data or metadata that is not JSON, a missing id, type or time). It names the
 * stream and version, never the stored contents (a parser's message would quote them).
 */
export class EventCorruptError extends EventFlowsError {
  override readonly name = "EventCorruptError";
  constructor(
    readonly streamId: string,
    readonly version: number,
    readonly reason: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.EventCorrupt, `Event ${version} of stream "${streamId}" is unreadable: ${reason}`, options);
  }
}

/**
 * An upcaster, rename or splitter registered in an `eventRegistry` threw while reading a stored
 * event. It names the event (stream, version, stored type and schema version), never its data; the
 * upcaster's own error is the `cause`. Nothing is skipped: the read stops here.
 */
export class UpcastError extends EventFlowsError {
  override readonly name = "UpcastError";
  constructor(
    readonly streamId: string,
    readonly version: number,
    readonly eventType: string,
    readonly schemaVersion: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.UpcastFailed,
      `Upcasting event "${eventType}" v${schemaVersion} of stream "${streamId}" at version ${version} failed: see cause`,
      options,
    );
  }
}

/**
 * An aggregate's event handler threw while replaying a stored event (a load, `rehydrate`): it names
 * the aggregate class, the stream, the version and the event's type, never its data; the handler's
 * own error is the `cause`. Handlers replay history that happened, so this is a fault of the code
 * (or of a snapshot's state): the load fails, nothing is skipped.
 */
export class RehydrationError extends EventFlowsError {
  override readonly name = "RehydrationError";
  constructor(
    readonly aggregate: string,
    readonly streamId: string,
    readonly version: number,
    readonly eventType: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.RehydrationFailed,
      `${aggregate} could not apply event "${eventType}" at version ${version} of stream "${streamId}": its handler threw (see cause)`,
      options,
    );
  }
}

/**
 * An aggregate whose event handler threw is used again. The handler may have changed part of the
 * state before it threw, and no event explains that change, so the aggregate refuses to go on (to
 * raise, to be saved, to show its state): load it again. `cause` is what the handler threw.
 */
export class AggregateBrokenError extends EventFlowsError {
  override readonly name = "AggregateBrokenError";
  constructor(
    readonly aggregate: string,
    readonly aggregateId: string,
    readonly eventType: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.AggregateBroken,
      `${aggregate} "${aggregateId}" cannot be used: the handler of event "${eventType}" threw (see cause), so its state may be half-changed. Load it again`,
      options,
    );
  }
}

/**
 * A projection's handler threw on an event: the runner rolled the batch back and stopped, so the
 * event is never skipped. Fix the handler (or the data) and start the runner again; it resumes at
 * the failed event. `cause` is what the handler threw.
 */
export class ProjectionFailedError extends EventFlowsError {
  override readonly name = "ProjectionFailedError";
  constructor(
    readonly projection: string,
    /** The global position of the event that failed. */
    readonly position: number,
    readonly eventId: string,
    readonly eventType: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.ProjectionFailed,
      `Projection "${projection}" failed on event ${eventId} (${eventType}) at position ${position} and stopped`,
      options,
    );
  }
}

/**
 * A `replay` handler threw on an event: the replay stopped there (what committed before stays; in a dry
 * run nothing was written). `position` is where the event is, counted as the replay counts: its stream
 * version when replaying one stream, else its global position: `after` given that position resumes at
 * the event after it. `cause` is what the handler threw.
 */
export class ReplayFailedError extends EventFlowsError {
  override readonly name = "ReplayFailedError";
  constructor(
    readonly position: number,
    readonly eventId: string,
    readonly eventType: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.ReplayFailed,
      `Replay failed on event ${eventId} (${eventType}) at position ${position} and stopped`,
      options,
    );
  }
}

/**
 * A read-model store that cannot swap a shadow generation in atomically refuses rebuilds, before
 * anything is written (see `ReadModelStoreCapabilities.rebuilds`).
 */
export class RebuildNotSupportedError extends EventFlowsError {
  override readonly name = "RebuildNotSupportedError";
  constructor(
    readonly store: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.RebuildNotSupported, `${store} cannot swap read-model generations: rebuilds are refused`, options);
  }
}

/**
 * A read-model write was refused because a collection it wrote was swapped to another generation
 * (a rebuild's shadow taken in, or the shadow dropped) after the store last resolved it: nothing of
 * the batch was written. A projection runner retries the batch, which then reads the new generation.
 */
export class ReadModelGenerationChangedError extends EventFlowsError {
  override readonly name = "ReadModelGenerationChangedError";
  constructor(
    readonly collection: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.ReadModelGenerationChanged,
      `Read-model collection "${collection}" was swapped to another generation since it was read: the write was refused, nothing of it was written; retry it`,
      options,
    );
  }
}

/**
 * A read-model transaction writes more than its store commits at once (DynamoDB: 100 items or 4 MB
 * per `TransactWriteItems`; SQLite on D1: the driver's `maxBatchStatements`). Refused before anything
 * is sent: nothing of it was written. Not a `PayloadTooLargeError`: no one payload is too large, the
 * transaction holds too many, so fewer of them at once commit; a projection runner retries the batch
 * in halves, and fails the projection only when one event's writes alone are too many.
 */
export class ReadModelTransactionTooLargeError extends EventFlowsError {
  override readonly name = "ReadModelTransactionTooLargeError";
  constructor(
    /** The store that refused it ("DynamoDB", "SQLite (d1)"). */
    readonly store: string,
    readonly size: number,
    readonly limit: number,
    /** What `size` and `limit` count: writes (items, statements) or bytes. */
    readonly unit: "writes" | "bytes",
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.ReadModelTransactionTooLarge,
      `The read-model transaction is ${size} ${unit}, over the ${limit} ${unit} ${store} commits at once: nothing was written`,
      options,
    );
  }
}

/**
 * An idempotency store's `complete` found its key held by another claim: this request's claim had
 * expired (`inProgressTtlMs`) and another request claimed the key since. Nothing was written: the
 * other request's claim, and the response it will store, stay.
 */
export class IdempotencyClaimLostError extends EventFlowsError {
  override readonly name = "IdempotencyClaimLostError";
  constructor(options?: EventFlowsErrorOptions) {
    super(
      ErrorCode.IdempotencyClaimLost,
      "The idempotency key was claimed by another request after this request's claim expired: its response was not stored (raise inProgressTtlMs above the longest request)",
      options,
    );
  }
}

/**
 * A long operation (a rebuild, a replay) stopped because its `AbortSignal` fired. What committed
 * before stays committed; `cause` is the signal's reason.
 */
export class AbortedError extends EventFlowsError {
  override readonly name = "AbortedError";
  constructor(
    readonly operation: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.Aborted, `${operation} was aborted`, options);
  }
}

/**
 * A process manager received an event that no transition leaves its current state with, and that
 * state does not declare the event ignored. Reported (error hook, failure log), never dropped.
 */
export class NoTransitionError extends EventFlowsError {
  override readonly name = "NoTransitionError";
  constructor(
    readonly processManager: string,
    readonly state: string,
    readonly eventType: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.NoTransition,
      `Process manager "${processManager}" has no transition from state "${state}" on "${eventType}": ` +
        `add one, or list "${eventType}" under ignore.${state} if it may arrive there`,
      options,
    );
  }
}

/**
 * A saga step (an event's, or a fired timeout's) or one command of its outbox did not settle within the
 * runtime's `leaseMs`: a handler, the store or the command bus never answered. The runtime stopped
 * waiting: the step is failed and retryable (a step whose handler had not returned by then is never
 * saved, so a redelivery of the event runs it again), the command a failed attempt. `step` is the event
 * type, `timeout:<name>` or `command:<type>`; `eventId` the event's, the timeout's or the outbox entry's id.
 */
export class SagaStepTimeoutError extends EventFlowsError {
  override readonly name = "SagaStepTimeoutError";
  constructor(
    readonly saga: string,
    readonly key: string | undefined,
    readonly step: string,
    readonly eventId: string,
    readonly timeoutMs: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.SagaStepTimeout,
      `Saga "${saga}" stopped waiting on "${step}" after ${timeoutMs} ms (leaseMs): ` +
        "a handler, the saga store or a command did not answer",
      options,
    );
  }
}

/**
 * An in-process bus handler did not settle within the bus's `handlerTimeoutMs`: the bus reported it as
 * that delivery's failure (to `onError` and in the publish result) and moved on to the next handler and
 * event. The handler was not stopped (nothing can stop a promise): it may still be running, and what it
 * does later is not reported. Names the subscription, the event's type and id, never its data.
 */
export class EventHandlerTimeoutError extends EventFlowsError {
  override readonly name = "EventHandlerTimeoutError";
  constructor(
    readonly subscription: string,
    readonly eventType: string,
    readonly eventId: string,
    readonly timeoutMs: number,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.EventHandlerTimeout,
      `Handler "${subscription}" did not settle within ${timeoutMs} ms (handlerTimeoutMs) for event ${eventType} ` +
        `${eventId}: the bus moved on to the next delivery, and the handler may still be running`,
      options,
    );
  }
}

/**
 * Personal data was to be written for a data subject whose key was deleted (crypto-shredded):
 * erasure is final, so nothing is written. It names the subject id, never the data.
 */
export class SubjectErasedError extends EventFlowsError {
  override readonly name = "SubjectErasedError";
  constructor(
    readonly subjectId: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.SubjectErased,
      `Data subject "${subjectId}" was erased: no personal data is written for it`,
      options,
    );
  }
}

/** Why personal data could not be encrypted or decrypted (see {@link PersonalDataError}). */
export type PersonalDataFailure =
  /** The ciphertext does not authenticate under the subject's key: altered, or moved to another field or subject. */
  | "tampered"
  /** The stored value is not a well-formed encrypted value. */
  | "malformed"
  /** The key store has no key, and no erasure, for the subject the value names. */
  | "unknown-key"
  /** The stored key does not unwrap under the master key given (a wrong master key, or an altered row). */
  | "key-unwrap"
  /** The key store failed in a way that is not a backend ServiceError. */
  | "key-store";

/**
 * Personal data could not be encrypted or decrypted, and the library refused to go on rather than
 * write plaintext or return garbage (it fails closed). It names the subject and the field path,
 * never a value or a key. A backend failure of a key store is a {@link ServiceError} instead.
 */
export class PersonalDataError extends EventFlowsError {
  override readonly name = "PersonalDataError";
  constructor(
    readonly reason: PersonalDataFailure,
    readonly subjectId: string | undefined,
    readonly path: string | undefined,
    options?: EventFlowsErrorOptions,
  ) {
    const where = path === undefined ? "" : ` at "${path}"`;
    const whose = subjectId === undefined ? "" : ` of subject "${subjectId}"`;
    super(ErrorCode.PersonalDataUnreadable, `Personal data${whose}${where} is unreadable (${reason})`, options);
  }
}

/**
 * The stream was deleted: appends to it, truncating it, and restoring a hard-deleted one are refused,
 * with nothing written. A soft-deleted stream takes appends again once restored (`restoreStream`); a
 * hard-deleted stream id is retired for good.
 */
export class StreamDeletedError extends EventFlowsError {
  override readonly name = "StreamDeletedError";
  constructor(
    readonly streamId: string,
    readonly mode: "soft" | "hard",
    options?: EventFlowsErrorOptions,
  ) {
    super(
      ErrorCode.StreamDeleted,
      mode === "soft"
        ? `Stream "${streamId}" is soft-deleted: restore it (restoreStream) before writing to it`
        : `Stream "${streamId}" was hard-deleted: its id is retired and takes no more events`,
      options,
    );
  }
}

/** The event store has no stream deletion (`capabilities.streamDeletion` is not true); nothing was changed. */
export class StreamDeletionNotSupportedError extends EventFlowsError {
  override readonly name = "StreamDeletionNotSupportedError";
  constructor(
    readonly store: string,
    options?: EventFlowsErrorOptions,
  ) {
    super(ErrorCode.StreamDeletionNotSupported, `${store} cannot delete or truncate streams`, options);
  }
}

/** Paths longer than this are shortened in messages (the issue keeps the whole path). */
const MESSAGE_PATH_SEGMENTS = 24;
/** Issues a message lists; the rest are counted. */
const MESSAGE_ISSUES = 10;

/**
 * Text as an error shows it: its first `max` UTF-16 units and `…`, less half a character at the cut,
 * which would be a lone surrogate strict JSON readers refuse.
 */
export const clipText = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max).replace(/[\uD800-\uDBFF]$/, "")}…` : text;

/** A key as a message shows it: its first 64 UTF-16 units (a key is client text, and may be a megabyte). */
export const clipKey = (key: string | number): string | number => (typeof key === "string" ? clipText(key, 64) : key);

function formatIssue(issue: Issue): string {
  if (issue.path.length === 0) return issue.message;
  const path = issue.path.map(clipKey);
  // A value nested a thousand levels deep (a snapshot's limit) would spell out a thousand segments:
  // its start and end say where it is; the count says how far.
  const shown =
    path.length <= MESSAGE_PATH_SEGMENTS
      ? path.join(".")
      : `${path.slice(0, 16).join(".")}.…(${path.length - 20} more).${path.slice(-4).join(".")}`;
  return `${shown}: ${issue.message}`;
}

/** Whether `error` carries `code`: what every guard asks, the tenancy's and the import's too. */
export function hasCode(error: unknown, code: string): boolean {
  return inspects(() => typeof error === "object" && error !== null && (error as { code?: unknown }).code === code);
}

/**
 * The guards run on whatever a handler threw, so they must answer, not throw: a value whose reading
 * throws (a revoked or hostile Proxy) is none of ours, and a guard that threw let that TypeError out
 * of the library where a ProjectionFailedError was due.
 */
function inspects(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

// The core's codes are specific enough to recognise an error by alone: what copies made before the
// mark existed throw. The other parts' codes (NOT_FOUND, FORBIDDEN, ...) are not: only the mark counts.
const coreCodes: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

/**
 * An EventFlowsError of this copy of the package, or of another copy: by the mark every one carries,
 * or (copies made before the mark) by one of the core's codes.
 */
export const isEventFlowsError = (error: unknown): error is EventFlowsError =>
  inspects(
    () =>
      error instanceof EventFlowsError ||
      (error instanceof Error &&
        ((error as { [BRAND]?: unknown })[BRAND] === true || coreCodes.has((error as { code?: unknown }).code))),
  );
export const isConcurrencyError = (error: unknown): error is ConcurrencyError => hasCode(error, ErrorCode.Concurrency);
export const isStreamNotFoundError = (error: unknown): error is StreamNotFoundError =>
  hasCode(error, ErrorCode.StreamNotFound);
export const isValidationError = (error: unknown): error is ValidationError => hasCode(error, ErrorCode.Validation);
export const isHandlerNotFoundError = (error: unknown): error is HandlerNotFoundError =>
  hasCode(error, ErrorCode.HandlerNotFound);
export const isDuplicateHandlerError = (error: unknown): error is DuplicateHandlerError =>
  hasCode(error, ErrorCode.DuplicateHandler);
export const isPayloadTooLargeError = (error: unknown): error is PayloadTooLargeError =>
  hasCode(error, ErrorCode.PayloadTooLarge);
export const isServiceError = (error: unknown): error is ServiceError => hasCode(error, ErrorCode.Service);
export const isUpcastError = (error: unknown): error is UpcastError => hasCode(error, ErrorCode.UpcastFailed);
export const isRehydrationError = (error: unknown): error is RehydrationError =>
  hasCode(error, ErrorCode.RehydrationFailed);
export const isAggregateBrokenError = (error: unknown): error is AggregateBrokenError =>
  hasCode(error, ErrorCode.AggregateBroken);
export const isProjectionFailedError = (error: unknown): error is ProjectionFailedError =>
  hasCode(error, ErrorCode.ProjectionFailed);
export const isReplayFailedError = (error: unknown): error is ReplayFailedError =>
  hasCode(error, ErrorCode.ReplayFailed);
export const isSnapshotCorruptError = (error: unknown): error is SnapshotCorruptError =>
  hasCode(error, ErrorCode.SnapshotCorrupt);
export const isEventCorruptError = (error: unknown): error is EventCorruptError =>
  hasCode(error, ErrorCode.EventCorrupt);
export const isRebuildNotSupportedError = (error: unknown): error is RebuildNotSupportedError =>
  hasCode(error, ErrorCode.RebuildNotSupported);
export const isReadModelGenerationChangedError = (error: unknown): error is ReadModelGenerationChangedError =>
  hasCode(error, ErrorCode.ReadModelGenerationChanged);
export const isReadModelTransactionTooLargeError = (error: unknown): error is ReadModelTransactionTooLargeError =>
  hasCode(error, ErrorCode.ReadModelTransactionTooLarge);
export const isIdempotencyClaimLostError = (error: unknown): error is IdempotencyClaimLostError =>
  hasCode(error, ErrorCode.IdempotencyClaimLost);
export const isAbortedError = (error: unknown): error is AbortedError => hasCode(error, ErrorCode.Aborted);
export const isNoTransitionError = (error: unknown): error is NoTransitionError =>
  hasCode(error, ErrorCode.NoTransition);
export const isSagaStepTimeoutError = (error: unknown): error is SagaStepTimeoutError =>
  hasCode(error, ErrorCode.SagaStepTimeout);
export const isEventHandlerTimeoutError = (error: unknown): error is EventHandlerTimeoutError =>
  hasCode(error, ErrorCode.EventHandlerTimeout);
export const isSubjectErasedError = (error: unknown): error is SubjectErasedError =>
  hasCode(error, ErrorCode.SubjectErased);
export const isPersonalDataError = (error: unknown): error is PersonalDataError =>
  hasCode(error, ErrorCode.PersonalDataUnreadable);
export const isStreamDeletedError = (error: unknown): error is StreamDeletedError =>
  hasCode(error, ErrorCode.StreamDeleted);
export const isStreamDeletionNotSupportedError = (error: unknown): error is StreamDeletionNotSupportedError =>
  hasCode(error, ErrorCode.StreamDeletionNotSupported);
