/**
 * The idempotency-key store port: what a store remembers of a key, and the input every store refuses
 * alike. The HTTP dispatcher (Hono routes, Lambda handlers) uses it for `Idempotency-Key`s; the
 * in-memory store is here, shared ones are in the PostgreSQL, DynamoDB and SQLite adapters.
 */
import { type Issue, ValidationError } from "../errors.js";
import { isWellFormed, LONE_SURROGATE } from "../internal/unicode.js";

/** Longest key accepted: room for a UUID or ULID with a client prefix. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** A response as remembered for replay. */
export interface StoredResponse {
  readonly status: number;
  /** The body text; empty for 204. */
  readonly body: string;
  readonly contentType: string;
}

/**
 * What a store knows of a key when a request claims it. A request that claimed the key gets a
 * `token`, which names its claim: `complete` and `release` take it, so that a request whose claim
 * expired cannot overwrite or free the claim of the request that took the key over.
 */
export type IdempotencyClaim =
  | { readonly state: "claimed"; readonly token: string }
  | { readonly state: "in-progress"; readonly fingerprint: string }
  | { readonly state: "completed"; readonly fingerprint: string; readonly response: StoredResponse };

/**
 * Where keys are remembered. Implement it over a shared database to make retries idempotent across
 * instances: `claim` must be atomic (a conditional insert: PostgreSQL `INSERT … ON CONFLICT DO
 * NOTHING`, a DynamoDB `PutItem` with `attribute_not_exists`), and records should expire.
 */
export interface IdempotencyStore {
  /**
   * Atomically: when no live record exists for `key`, records it as in progress with `fingerprint`
   * and a new token, and returns `{ state: "claimed", token }`; otherwise returns the record,
   * whatever its fingerprint.
   */
  claim(key: string, fingerprint: string): Promise<IdempotencyClaim>;
  /**
   * Stores the response of the request that claimed `key` with `fingerprint` and got `token`. Also
   * when that claim has expired, as long as no other request has claimed the key since.
   * @throws {IdempotencyClaimLostError} another request holds a live claim (or response) for the key:
   * nothing was written.
   */
  complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void>;
  /**
   * Forgets the in-progress claim `token` names, made with this fingerprint (the request failed), so
   * the key may be used again; any other record (another request's claim, a response) stays.
   */
  release(key: string, fingerprint: string, token: string): Promise<void>;
  /** Resolves when the backend answers, for health checks. Optional for stores written before it. */
  ping?(signal?: AbortSignal): Promise<void>;
}

/** Longest fingerprint a store takes; a SHA-256 in hex is 64. */
export const MAX_FINGERPRINT_LENGTH = 255;

/** Longest claim token a store takes; the stores' own are ULIDs (26). */
export const MAX_CLAIM_TOKEN_LENGTH = 255;

/**
 * What every store checks before touching its records, so all refuse the same input: besides the
 * lengths and the response's shape, text no store can hold as it was given (U+0000, which PostgreSQL
 * text refuses; a lone surrogate, which has no UTF-8 form) in the key, the fingerprint or the
 * response. The HTTP layer never sends such text: its keys and fingerprints are hex digests, and
 * its bodies are `JSON.stringify` output, which escapes both.
 */
export function idempotencyInputIssues(key: unknown, fingerprint: unknown, ...response: [unknown?]): Issue[] {
  const issues: Issue[] = [];
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    issues.push({ path: ["key"], message: `must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` });
  } else textIssues(key, ["key"], issues);
  if (typeof fingerprint !== "string" || fingerprint.length === 0 || fingerprint.length > MAX_FINGERPRINT_LENGTH) {
    issues.push({ path: ["fingerprint"], message: `must be a string of 1 to ${MAX_FINGERPRINT_LENGTH} characters` });
  } else textIssues(fingerprint, ["fingerprint"], issues);
  if (response.length > 0) {
    const r = response[0] as Partial<StoredResponse> | null;
    if (typeof r !== "object" || r === null) issues.push({ path: ["response"], message: "must be an object" });
    else {
      // Not 1xx: an interim response is never the final one, and `new Response` refuses it on replay.
      if (!Number.isInteger(r.status) || (r.status as number) < 200 || (r.status as number) > 599) {
        issues.push({ path: ["response", "status"], message: "must be a final HTTP status, 200 to 599" });
      }
      if (typeof r.body !== "string") issues.push({ path: ["response", "body"], message: "must be a string" });
      else textIssues(r.body, ["response", "body"], issues);
      if (typeof r.contentType !== "string") {
        issues.push({ path: ["response", "contentType"], message: "must be a string" });
      } else textIssues(r.contentType, ["response", "contentType"], issues);
    }
  }
  return issues;
}

/**
 * What every store checks in `complete` and `release`: the input `claim` takes, the claim's token
 * (1 to 255 characters, held as given) and, for `complete`, the response.
 */
export function idempotencyClaimedInputIssues(
  key: unknown,
  fingerprint: unknown,
  token: unknown,
  ...response: [unknown?]
): Issue[] {
  const issues = idempotencyInputIssues(key, fingerprint, ...response);
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_CLAIM_TOKEN_LENGTH) {
    issues.push({
      path: ["token"],
      message: `must be the token claim returned, a string of 1 to ${MAX_CLAIM_TOKEN_LENGTH} characters`,
    });
  } else textIssues(token, ["token"], issues);
  return issues;
}

/** Adds the issue of text a store cannot hold: U+0000, or a lone surrogate. */
function textIssues(text: string, path: string[], issues: Issue[]): void {
  if (text.includes("\u0000")) issues.push({ path, message: NUL_TEXT });
  else if (!isWellFormed(text)) issues.push({ path, message: LONE_SURROGATE });
}

const NUL_TEXT = "contains U+0000 (NUL), which the stores cannot hold";

/**
 * @throws {ValidationError} a key or fingerprint that is not 1 to 255 characters, text with U+0000 or
 * a lone surrogate, or a malformed response.
 */
export function checkIdempotencyInput(key: unknown, fingerprint: unknown, ...response: [unknown?]): void {
  const issues = idempotencyInputIssues(key, fingerprint, ...response);
  if (issues.length > 0) throw new ValidationError("Invalid idempotency store input", issues);
}

/**
 * `complete`'s and `release`'s check: {@link checkIdempotencyInput}'s, and the claim's token.
 * @throws {ValidationError} as {@link checkIdempotencyInput}, or a token that is not 1 to 255 characters
 * a store can hold.
 */
export function checkIdempotencyClaimedInput(
  key: unknown,
  fingerprint: unknown,
  token: unknown,
  ...response: [unknown?]
): void {
  const issues = idempotencyClaimedInputIssues(key, fingerprint, token, ...response);
  if (issues.length > 0) throw new ValidationError("Invalid idempotency store input", issues);
}
