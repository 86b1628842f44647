/**
 * Where a request's correlation id comes from: the caller's correlation header, else the trace id
 * of a W3C `traceparent`, else a fresh random UUID. It goes into the command's metadata (and from there into
 * the metadata of the events the command causes) and is echoed in the response.
 */
import { ValidationError } from "../../src/index.js";

export const CORRELATION_HEADER = "x-correlation-id";
/** Longest correlation id accepted from a caller. */
export const MAX_CORRELATION_ID_LENGTH = 128;

export interface RequestCorrelation {
  readonly correlationId: string;
  /** The caller's trace context, when its `traceparent` is valid. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

// Visible ASCII only: the id is echoed in a header and written to logs.
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS_32 = "0".repeat(32);
const ZEROS_16 = "0".repeat(16);

/**
 * @throws {ValidationError} the correlation header is too long or holds characters other than visible ASCII.
 * An invalid `traceparent` is ignored, as W3C Trace Context asks of receivers.
 */
export function correlationFrom(headers: Headers, header: string = CORRELATION_HEADER): RequestCorrelation {
  const given = headers.get(header)?.trim();
  const trace = traceContext(headers);
  if (given !== undefined && given !== "") {
    if (given.length > MAX_CORRELATION_ID_LENGTH || !VISIBLE_ASCII.test(given)) {
      throw new ValidationError("Invalid correlation id", [
        {
          path: ["headers", header],
          message: `must be 1 to ${MAX_CORRELATION_ID_LENGTH} visible ASCII characters`,
        },
      ]);
    }
    return trace === undefined ? { correlationId: given } : { correlationId: given, ...trace.context };
  }
  if (trace !== undefined) return { correlationId: trace.traceId, ...trace.context };
  // A UUID, not a ULID: nothing sorts by correlation id, and randomUUID is several times cheaper per request.
  return { correlationId: crypto.randomUUID() };
}

function traceContext(
  headers: Headers,
): { traceId: string; context: { traceparent: string; tracestate?: string } } | undefined {
  const traceparent = headers.get("traceparent")?.trim().toLowerCase();
  if (traceparent === undefined) return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const [, version, traceId, parentId, , rest] = match as unknown as [string, string, string, string, string, string?];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZEROS_32 || parentId === ZEROS_16) return undefined;
  const tracestate = headers.get("tracestate")?.trim();
  const context =
    tracestate !== undefined && tracestate !== "" && tracestate.length <= 512
      ? { traceparent, tracestate }
      : { traceparent };
  return { traceId, context };
}
