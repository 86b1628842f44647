/**
 * Idempotent commands over HTTP: a request with an `Idempotency-Key` header runs once; a retry with
 * the same key and the same request gets the first response back, marked `Idempotent-Replayed: true`.
 * The same key with a different request (another command type or other body bytes) is refused with
 * 422, and a retry that arrives while the first is still running gets 409.
 *
 * Keys belong to the caller: a key is stored as `<digest of the caller's identity>:<digest of the
 * key>`, a fixed 97 characters whatever the key and the identity, so one caller never sees another's
 * response and every valid key (1 to 255 characters) fits every store.
 *
 * Only successful responses are remembered: when the command fails, the key is released, so the
 * client may retry once the cause is fixed (a concurrency conflict, a backend outage). A response
 * body over {@link MAX_REPLAYED_RESPONSE_BYTES} is not kept: the key remembers that the request ran,
 * and a retry gets 410 `IDEMPOTENCY_RESPONSE_NOT_KEPT` instead of running the command again.
 */
import {
  type IdempotencyClaim,
  type IdempotencyStore,
  isValidationError,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  ServiceError,
  type StoredResponse,
  sha256Hex,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { sha256, sha256Hex as syncSha256Hex } from "../aws/signing-sha256.js";
import { IdempotencyInProgressError, IdempotencyKeyReusedError, IdempotencyResponseNotKeptError } from "./errors.js";
import { PROBLEM_CONTENT_TYPE, problemFor } from "./problem-details.js";
import { isVisibleAscii } from "./text-scan.js";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";

/**
 * Largest response body remembered for replay, in UTF-8 bytes (256 KiB): what every store keeps
 * (DynamoDB's item holds 400 KB; the in-memory store's per-caller share is 4 MiB). A larger one is
 * remembered as a 410 problem that names its status and size.
 */
export const MAX_REPLAYED_RESPONSE_BYTES = 256 * 1024;

/**
 * The `Idempotency-Key` header's value: a plain token, or an RFC 8941 string in quotes, as the
 * IETF draft writes it. `undefined` when absent.
 * @throws {ValidationError} empty, too long, not visible ASCII, or several keys; the issue names the header.
 */
export function idempotencyKeyFrom(headers: Headers): string | undefined {
  const raw = headers.get(IDEMPOTENCY_HEADER);
  if (raw === null) return undefined;
  let key = raw.trim();
  const quoted = key.length >= 2 && key.startsWith('"') && key.endsWith('"');
  if (quoted) key = key.slice(1, -1);
  // A header sent twice arrives as one value, its values joined by a comma (fetch's Headers, Node's and
  // Bun's servers: `a, b`; API Gateway's HTTP API: `a,b`, or `"a","b"` for quoted keys): taken as one key,
  // two different requests' keys became a third. A plain key with a comma, or a quoted one with a quote
  // inside, reads as several keys; a comma inside one quoted key is that key's.
  if (quoted ? key.includes('"') : key.includes(",")) {
    throw new ValidationError("Invalid Idempotency-Key header", [
      {
        path: ["headers", IDEMPOTENCY_HEADER],
        message: "Idempotency-Key was sent more than once (its values joined by commas): send one key",
      },
    ]);
  }
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !isVisibleAscii(key)) {
    throw new ValidationError("Invalid Idempotency-Key header", [
      {
        path: ["headers", IDEMPOTENCY_HEADER],
        message: `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`,
      },
    ]);
  }
  return key;
}

const encoder = new TextEncoder();

/**
 * Inputs up to this size are hashed synchronously in JavaScript (the SigV4 layer's SHA-256): a few
 * microseconds, where Web Crypto's asynchronous digest is a thread-pool round trip on Node (tens of
 * microseconds, and far more on a busy machine). Larger bodies go to Web Crypto, whose native code
 * is faster per byte and keeps a 1 MiB body from holding the event loop.
 */
const SYNC_DIGEST_LIMIT = 16 * 1024;

/** SHA-256 (hex) of what identifies a request: its command type and its exact body bytes. */
export async function requestFingerprint(type: string, body: Uint8Array | ArrayBuffer): Promise<string> {
  const bytes = body instanceof Uint8Array ? body : new Uint8Array(body);
  const prefix = encoder.encode(`${type}\n`);
  const input = new Uint8Array(prefix.length + bytes.length);
  input.set(prefix, 0);
  input.set(bytes, prefix.length);
  return input.length <= SYNC_DIGEST_LIMIT ? hexOf(sha256(input)) : sha256Hex(input);
}

/**
 * The key a store records for `key` sent by the caller `scope`: `<first 32 hex digits of
 * SHA-256(scope)>:<SHA-256(key) in hex>`. Fixed-length, so the documented 1 to 255 characters of a
 * key hold whatever the scope; the scope prefix lets a store bound each caller's share
 * (`InMemoryIdempotencyStore` does).
 */
export async function scopedIdempotencyKey(scope: string, key: string): Promise<string> {
  // A key is at most 255 characters; a scope longer than the synchronous limit goes to Web Crypto.
  const scopeDigest =
    scope.length * 3 <= SYNC_DIGEST_LIMIT ? syncSha256Hex(scope) : await sha256Hex(encoder.encode(scope));
  return `${scopeDigest.slice(0, 32)}:${syncSha256Hex(key)}`;
}

function hexOf(digest: Uint8Array): string {
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * A caller's identity as one string: the principal's `userId` and `metadata` (a tenant, say), in a
 * canonical form (sorted keys), or `undefined` when the principal carries neither.
 */
export function principalIdentity(
  principal: { readonly userId?: string; readonly metadata?: Readonly<Record<string, unknown>> } | undefined,
): string | undefined {
  if (principal === undefined) return undefined;
  const metadata = principal.metadata ?? {};
  if (principal.userId === undefined && Object.keys(metadata).length === 0) return undefined;
  return canonicalJson({ userId: principal.userId ?? null, metadata });
}

export interface RunOnce {
  readonly store: IdempotencyStore;
  /** The scoped key ({@link scopedIdempotencyKey}). */
  readonly key: string;
  readonly fingerprint: string;
  readonly run: () => Promise<unknown>;
  /** Told of failures to record or serialize, which the response does not disclose. */
  readonly report: (error: unknown) => void;
}

/**
 * Runs the request once for its key: a replay returns the stored response (`replayed: true`); the
 * same key for another request is 422, one still running 409.
 */
export async function runOnce(once: RunOnce): Promise<{ response: StoredResponse; replayed: boolean }> {
  const { store, key, fingerprint } = once;
  let claim: IdempotencyClaim;
  try {
    claim = await store.claim(key, fingerprint);
  } catch (error) {
    // The key and the fingerprint are digests this layer made: a store that refuses them (its clock
    // reads no time, say) is misconfigured, a server fault (500, told to onError), not the client's 400.
    if (!isValidationError(error)) throw error;
    throw new ServiceError("idempotency store", "claim", error.code, false, `the store refused: ${error.message}`, {
      cause: error,
    });
  }
  if (claim.state !== "claimed") {
    if (claim.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
    if (claim.state === "in-progress") throw new IdempotencyInProgressError();
    return { response: claim.response, replayed: true };
  }
  let result: unknown;
  try {
    result = await once.run();
  } catch (error) {
    await store.release(key, fingerprint, claim.token).catch(once.report);
    throw error;
  }
  // The command has run: whatever is answered now is what a retry must get, even a failure to serialize.
  let response: StoredResponse;
  try {
    response = storedResponse(result);
  } catch (error) {
    once.report(error);
    const details = problemFor(error);
    response = { status: details.status, body: JSON.stringify(details), contentType: PROBLEM_CONTENT_TYPE };
  }
  // A claim lost meanwhile (it expired and another request took the key) is an IdempotencyClaimLostError:
  // the other request's record stays, and this one's response still goes out.
  await store.complete(key, fingerprint, kept(response), claim.token).catch(once.report);
  return { response, replayed: false };
}

/** What a retry will get: the response itself, or, when its body is too large to keep, a 410 that says so. */
function kept(response: StoredResponse): StoredResponse {
  // UTF-8 is at most 3 bytes per UTF-16 unit: most bodies need no count.
  if (response.body.length * 3 <= MAX_REPLAYED_RESPONSE_BYTES) return response;
  const size = utf8Length(response.body);
  if (size <= MAX_REPLAYED_RESPONSE_BYTES) return response;
  const details = problemFor(new IdempotencyResponseNotKeptError(response.status, size, MAX_REPLAYED_RESPONSE_BYTES));
  return { status: details.status, body: JSON.stringify(details), contentType: PROBLEM_CONTENT_TYPE };
}

/** A handler's result as a response: JSON, or 204 when there is nothing to send. */
export function storedResponse(result: unknown): StoredResponse {
  const body = result === undefined ? undefined : JSON.stringify(result);
  return body === undefined
    ? { status: 204, body: "", contentType: "" }
    : { status: 200, body, contentType: "application/json" };
}

// JSON with object keys sorted at every level, so equal identities give equal strings.
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, current: unknown) => {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return current;
    // No prototype: a "__proto__" key (an own key, as JSON.parse makes it) stays a key of the identity
    // instead of setting a prototype that JSON.stringify would leave out.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const name of Object.keys(current).sort()) sorted[name] = (current as Record<string, unknown>)[name];
    return sorted;
  });
}
