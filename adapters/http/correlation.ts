/**
 * Where a request's correlation id comes from: the caller's correlation header, else the trace id
 * of a W3C `traceparent`, else a fresh random UUID. It goes into the command's metadata (and from there into
 * the metadata of the events the command causes) and is echoed in the response.
 *
 * What a client sends is bounded before it is kept: a correlation id is 1 to 128 visible ASCII
 * characters without a comma (a header sent twice arrives joined by one), a `traceparent` is kept only as its 55-character version-00 form (whatever version the
 * client sent), a `tracestate` only when it is at most 512 printable ASCII characters. An application
 * that does not trust its clients' ids passes `trust: false`: then every request gets a fresh id.
 */
import { ValidationError } from "../../src/index.js";
import { isVisibleAscii } from "./text-scan.js";

export const CORRELATION_HEADER = "x-correlation-id";
/** Longest correlation id accepted from a caller. */
export const MAX_CORRELATION_ID_LENGTH = 128;
/** Longest `tracestate` kept (W3C allows 32 members; 512 characters is what receivers must accept). */
export const MAX_TRACESTATE_LENGTH = 512;
// Longest traceparent read at all: version 00 is 55 characters; a later version may append fields.
const MAX_TRACEPARENT_LENGTH = 512;

export interface RequestCorrelation {
  readonly correlationId: string;
  /** The caller's trace context, when its `traceparent` is valid, as version 00. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/**
 * @param trust whether the caller's correlation header and trace context are taken (the default);
 * `false` gives every request a fresh id and no trace context.
 * @throws {ValidationError} the correlation header is too long, holds characters other than visible ASCII, or a comma.
 * An invalid `traceparent` is ignored, as W3C Trace Context asks of receivers.
 */
export function correlationFrom(
  headers: Headers,
  header: string = CORRELATION_HEADER,
  trust = true,
): RequestCorrelation {
  // A UUID, not a ULID: nothing sorts by correlation id, and randomUUID is several times cheaper per request.
  if (!trust) return { correlationId: crypto.randomUUID() };
  const given = headers.get(header)?.trim();
  const trace = traceContext(headers);
  if (given !== undefined && given !== "") {
    // A comma is what joins a header sent twice: Node joins with ", " (refused for its space) and API
    // Gateway with "," alone, which ran the command under the id "a,b" on Lambda while Hono refused it.
    if (given.length > MAX_CORRELATION_ID_LENGTH || !isVisibleAscii(given) || given.includes(",")) {
      throw new ValidationError("Invalid correlation id", [
        {
          path: ["headers", header],
          message: `must be 1 to ${MAX_CORRELATION_ID_LENGTH} visible ASCII characters other than a comma, sent once`,
        },
      ]);
    }
    return trace === undefined ? { correlationId: given } : { correlationId: given, ...trace.context };
  }
  if (trace !== undefined) return { correlationId: trace.traceId, ...trace.context };
  return { correlationId: crypto.randomUUID() };
}

/**
 * A `traceparent` as version 00 (`00-<trace id>-<parent id>-<flags>`), or `undefined` when it is not
 * valid. A later version is read as W3C asks (its first four fields, then `-` or the end) and kept as
 * version 00, which is what this receiver speaks: nothing the client appended is kept.
 */
export function normalizeTraceparent(value: string): string | undefined {
  // Not lowercased: W3C's ids are lowercase hex, and a receiver must ignore a traceparent with uppercase ones
  // (OpenTelemetry's propagator does); continuing it would join a trace other receivers of it refused.
  const text = value.trim();
  if (text.length < 55 || text.length > MAX_TRACEPARENT_LENGTH) return undefined;
  if (text[2] !== "-" || text[35] !== "-" || text[52] !== "-") return undefined;
  const version = text.slice(0, 2);
  const traceId = text.slice(3, 35);
  const parentId = text.slice(36, 52);
  const flags = text.slice(53, 55);
  if (!isHex(version) || !isHex(traceId) || !isHex(parentId) || !isHex(flags)) return undefined;
  if (version === "ff") return undefined;
  // Version 00 is exactly 55 characters; a later version may carry more fields after a dash.
  if (text.length > 55 && (version === "00" || text[55] !== "-")) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return `00-${traceId}-${parentId}-${flags}`;
}

function traceContext(
  headers: Headers,
): { traceId: string; context: { traceparent: string; tracestate?: string } } | undefined {
  const raw = headers.get("traceparent");
  if (raw === null) return undefined;
  const traceparent = normalizeTraceparent(raw);
  if (traceparent === undefined) return undefined;
  const traceId = traceparent.slice(3, 35);
  const tracestate = headers.get("tracestate")?.trim();
  const context =
    tracestate !== undefined &&
    tracestate !== "" &&
    tracestate.length <= MAX_TRACESTATE_LENGTH &&
    isPrintable(tracestate)
      ? { traceparent, tracestate }
      : { traceparent };
  return { traceId, context };
}

function isHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

// Printable ASCII, space included: what W3C allows in tracestate keys, values and list separators.
function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}
