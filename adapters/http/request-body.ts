/**
 * Reading a JSON request body safely: the media type is checked before a byte is read, the size is
 * capped while reading (a declared `Content-Length` over the limit is refused unread), the nesting
 * depth is checked in one pass over the bytes before the parser runs, bytes must be UTF-8 and the text
 * JSON. Web standards only, so any HTTP adapter can use it.
 */
import { PayloadTooLargeError, ValidationError } from "../../src/index.js";
import { UnsupportedMediaTypeError } from "./errors.js";
import { jsonNestingDepth } from "./text-scan.js";

/** Default body limit: 1 MiB, well above a command's needs and under every platform's own limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * Default nesting limit of a JSON body: arrays and objects inside each other at most 64 deep. Real
 * payloads nest a handful of levels; every later step (validation, serialization, storage) walks the
 * tree, so the depth is refused before any of them runs.
 */
export const DEFAULT_JSON_DEPTH_LIMIT = 64;

export interface JsonBody {
  /** The parsed value; `undefined` when the request has no body. */
  readonly value: unknown;
  /** The raw bytes (empty without a body): what an idempotency fingerprint hashes. */
  readonly bytes: Uint8Array | ArrayBuffer;
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * `application/json`, or any `+json` type, with or without parameters; a `charset` other than UTF-8
 * (`charset=latin1`) is not: JSON is UTF-8 (RFC 8259), and the body is decoded as UTF-8 whatever the
 * header says, so such a body would be read as other text than its sender meant.
 */
export function isJsonMediaType(contentType: string): boolean {
  // What nearly every client sends, answered without slicing or lower-casing.
  if (contentType === "application/json") return true;
  const [type = "", ...parameters] = contentType.split(";");
  const mediaType = type.trim().toLowerCase();
  if (mediaType !== "application/json" && !(mediaType.startsWith("application/") && mediaType.endsWith("+json"))) {
    return false;
  }
  for (const parameter of parameters) {
    const equals = parameter.indexOf("=");
    if (parameter.slice(0, equals).trim().toLowerCase() !== "charset") continue;
    const charset = parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .toLowerCase();
    if (charset !== "utf-8" && charset !== "utf8") return false;
  }
  return true;
}

/**
 * @throws {UnsupportedMediaTypeError} a body that is not declared JSON, or that is content-coded.
 * @throws {PayloadTooLargeError} a body over `limit` bytes.
 * @throws {ValidationError} a body that is not UTF-8 or not JSON, that nests deeper than `depthLimit`,
 * or whose stream broke off before its end (the client went away).
 */
export async function readJsonBody(
  request: Request,
  limit: number = DEFAULT_BODY_LIMIT,
  depthLimit: number = DEFAULT_JSON_DEPTH_LIMIT,
): Promise<JsonBody> {
  const headers = request.headers;
  const declared = headers.get("content-length");
  const contentType = headers.get("content-type");
  let bytes: Uint8Array | ArrayBuffer;
  if (declared !== null && NON_NEGATIVE_INTEGER.test(declared)) {
    const size = Number(declared);
    if (size === 0) return { value: undefined, bytes: EMPTY };
    if (contentType === null || !isJsonMediaType(contentType))
      throw new UnsupportedMediaTypeError(contentType ?? undefined);
    checkUncoded(headers, contentType);
    if (size > limit) throw new PayloadTooLargeError("request body", size, limit);
    // The length is known and within the limit: one read, no stream machinery (the runtime holds the
    // declared length to the bytes it delivers; the check below covers a runtime that does not).
    // Left an ArrayBuffer: wrapping it in a Uint8Array costs more per request than parsing a small body.
    bytes = await received(request, () => request.arrayBuffer());
    if (bytes.byteLength > limit) throw new PayloadTooLargeError("request body", bytes.byteLength, limit);
  } else {
    const body = request.body;
    if (body === null) return { value: undefined, bytes: EMPTY };
    if (contentType !== null && !isJsonMediaType(contentType)) throw new UnsupportedMediaTypeError(contentType);
    checkUncoded(headers, contentType ?? undefined);
    bytes = await received(request, () => readLimited(body, limit));
    if (bytes.byteLength === 0) return { value: undefined, bytes };
    // Some clients send an empty body without a type; a body with content must say it is JSON.
    if (contentType === null) throw new UnsupportedMediaTypeError(undefined);
  }
  // A body shorter than the limit cannot nest deeper than it: small bodies skip the scan.
  if (bytes.byteLength > depthLimit) {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (jsonNestingDepth(view, depthLimit) > depthLimit) {
      throw new ValidationError(`Request body nests deeper than ${depthLimit} levels`, [
        { path: [], message: `the body nests arrays and objects deeper than the limit of ${depthLimit} levels` },
      ]);
    }
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ValidationError("Malformed request body", [{ path: [], message: "the body is not valid UTF-8" }]);
  }
  try {
    return { value: JSON.parse(text), bytes };
  } catch {
    // The parser's own message quotes the input and differs per runtime: say what is wrong, not where.
    throw new ValidationError("Malformed request body", [{ path: [], message: "the body is not valid JSON" }]);
  }
}

const NON_NEGATIVE_INTEGER = /^\d{1,15}$/;

/**
 * A content-coded body (`Content-Encoding: gzip`) is refused: the bytes are not decoded, so a gzip
 * body would be refused as not UTF-8, and a body that only claims a coding would be read as what it
 * does not say it is. `identity` (no coding) is accepted.
 */
function checkUncoded(headers: Headers, contentType: string | undefined): void {
  // A node:http server undoes `chunked` only: the bytes of `gzip, chunked` reach the routes still gzip
  // (Bun.serve answers such a request with a 400 itself).
  const transfer = headers.get("transfer-encoding")?.trim();
  if (transfer !== undefined && transfer.toLowerCase() !== "chunked") {
    throw new UnsupportedMediaTypeError(contentType, { transferEncoding: transfer });
  }
  const coding = headers.get("content-encoding");
  if (coding === null) return;
  const trimmed = coding.trim();
  if (trimmed === "" || trimmed.toLowerCase() === "identity") return;
  throw new UnsupportedMediaTypeError(contentType, { contentEncoding: trimmed });
}

/**
 * Reads the body; a stream that breaks off (the client went away mid-upload) is the request's
 * fault, a 400, not a server error reported to `onError`. A body read before the routes (by a
 * middleware) is the server's: that TypeError is left as it is.
 */
async function received<T>(request: Request, read: () => Promise<T>): Promise<T> {
  if (request.bodyUsed) return read();
  try {
    return await read();
  } catch (error) {
    if (error instanceof PayloadTooLargeError) throw error;
    throw new ValidationError("Unreadable request body", [{ path: [], message: "the body broke off before its end" }]);
  }
}

async function readLimited(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new PayloadTooLargeError("request body", size, limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
