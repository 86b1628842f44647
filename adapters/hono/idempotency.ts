/**
 * Idempotency keys, kept here for the imports that name this file: the header handling lives in the
 * HTTP layer (../http/idempotency.ts), the store port and the in-memory store in the core.
 */
export {
  checkIdempotencyInput,
  type IdempotencyClaim,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  type InMemoryIdempotencyStoreOptions,
  idempotencyInputIssues,
  MAX_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
} from "../../src/index.js";
export {
  IDEMPOTENCY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyKeyFrom,
  requestFingerprint,
} from "../http/index.js";
