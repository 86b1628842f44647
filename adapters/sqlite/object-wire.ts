import {
  ConcurrencyError,
  ErrorCode,
  EventCorruptError,
  EventFlowsError,
  type Issue,
  isEventFlowsError,
  LiveErrorCode,
  PayloadTooLargeError,
  ServiceError,
  StreamDeletedError,
  StreamDeletionNotSupportedError,
  StreamNotFoundError,
  TooManyLiveClientsError,
  ValidationError,
} from "../../src/index.js";

/** The service named in errors of the object's transport. */
export const OBJECT_SERVICE = "EventStoreObject";

/** What crosses between `DurableObjectEventStore` and `handleEventStoreRequest`: JSON only. */
export type WireReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: WireError };

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

// The structured fields of our errors, carried so the client rebuilds the same error.
const FIELDS = [
  "streamId",
  "expectedVersion",
  "actualVersion",
  "issues",
  "what",
  "size",
  "limit",
  "service",
  "operation",
  "serviceCode",
  "retryable",
  "mode",
  "version",
  "reason",
  "store",
] as const;

/**
 * Whether a reply is one `handleEventStoreRequest` sends: anything else (an object whose `fetch`
 * answers the path another way) must not be read as one.
 */
export function isWireReply(value: unknown): value is WireReply {
  if (typeof value !== "object" || value === null) return false;
  const { ok, error } = value as { ok?: unknown; error?: Partial<WireError> | null };
  if (ok === true) return "value" in value;
  return (
    ok === false &&
    typeof error === "object" &&
    error !== null &&
    typeof error.code === "string" &&
    typeof error.message === "string" &&
    typeof error.fields === "object" &&
    error.fields !== null
  );
}

/** An answer that is not an event store reply, as a ServiceError. */
/**
 * Whether a value is an event as the object's store returns one, as far as the client reads it (its version and
 * position page the reads): an `ok` reply holding anything else came from an object that answers the path another way.
 */
export function isWireEvent(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const { id, type, streamId, version, globalPosition } = value as Record<string, unknown>;
  return (
    typeof id === "string" &&
    typeof type === "string" &&
    typeof streamId === "string" &&
    Number.isSafeInteger(version) &&
    (globalPosition === undefined || Number.isSafeInteger(globalPosition))
  );
}

/** A version or position as the object answers one: an integer from 0. */
export function isWireCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function badReply(operation: string): ServiceError {
  return new ServiceError(
    OBJECT_SERVICE,
    operation,
    "BAD_REPLY",
    false,
    "the object's answer is not an event store reply: does its fetch call handleEventStoreRequest?",
  );
}

/** Our errors keep their code and fields; anything else becomes an opaque ServiceError (no internals). */
export function toWireError(error: unknown, operation: string): WireError {
  if (!isEventFlowsError(error)) {
    return toWireError(
      new ServiceError(OBJECT_SERVICE, operation, "INTERNAL", false, "the event store object failed"),
      operation,
    );
  }
  const fields: Record<string, unknown> = {};
  for (const key of FIELDS) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (value !== undefined) fields[key] = value;
  }
  return { code: error.code, message: error.message, fields };
}

/** The error the object reported, rebuilt as the same class with the same fields and message. */
export function fromWireError(wire: WireError): EventFlowsError {
  const f = wire.fields;
  const text = (key: string) => String(f[key] ?? "");
  const number = (key: string) => Number(f[key] ?? 0);
  let error: EventFlowsError;
  switch (wire.code) {
    case ErrorCode.Concurrency:
      error = new ConcurrencyError(text("streamId"), f.expectedVersion as number | string, number("actualVersion"));
      break;
    case ErrorCode.Validation:
      error = new ValidationError(wire.message, Array.isArray(f.issues) ? (f.issues as Issue[]) : []);
      break;
    case ErrorCode.PayloadTooLarge:
      error = new PayloadTooLargeError(text("what"), number("size"), number("limit"));
      break;
    case ErrorCode.EventCorrupt:
      error = new EventCorruptError(text("streamId"), number("version"), text("reason"));
      break;
    case ErrorCode.StreamDeleted:
      error = new StreamDeletedError(text("streamId"), f.mode === "hard" ? "hard" : "soft");
      break;
    case ErrorCode.StreamNotFound:
      error = new StreamNotFoundError(text("streamId"));
      break;
    case ErrorCode.StreamDeletionNotSupported:
      error = new StreamDeletionNotSupportedError(text("store"));
      break;
    case LiveErrorCode.TooManyClients:
      error = new TooManyLiveClientsError(number("limit"));
      break;
    case ErrorCode.Service:
      error = new ServiceError(text("service"), text("operation"), text("serviceCode"), f.retryable === true, "");
      break;
    default:
      error = new EventFlowsError(wire.code, wire.message);
  }
  // The object's own wording, which the rebuilt error's constructor would compose differently.
  Object.defineProperty(error, "message", { value: wire.message, configurable: true, writable: true });
  return error;
}
