/**
 * Differential testing of idempotency stores (the Hono routes' `Idempotency-Key` store) through the
 * public API, as event-store-differential.ts does for event stores: generated sequences of claims,
 * completions, releases and clock moves past the (small) TTLs, with generated keys (any code point,
 * empty, the longest accepted and one longer), fingerprints and responses (any status, any body
 * text), on the store under test and on a fresh `InMemoryIdempotencyStore` with the same TTLs and
 * clock (the reference). Every answer must be the same: claims (the state, the fingerprint, the
 * stored response) and error codes. Keys are the run's own. Concurrency has its own tests (the
 * contract). Test-only code.
 */
import fc from "fast-check";
import {
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type StoredResponse,
  ulid,
} from "../../src/index.js";
import { assertSameAnswer, outcomeOf } from "./event-store-differential.ts";

/** The TTLs both sides are made with; the clock moves by steps around them. */
export const IDEMPOTENCY_TTL_MS = 50;
export const IDEMPOTENCY_IN_PROGRESS_TTL_MS = 20;

export interface IdempotencySettings {
  readonly now: () => number;
  readonly ttlMs: number;
  readonly inProgressTtlMs: number;
}

/**
 * Which token a completion or release names: that of the key's latest claim on its side, of the
 * claim before it (one that expired and was taken over), or one no claim gave.
 */
type TokenChoice = "latest" | "previous" | "unknown";

type IdempotencyOperation =
  | { readonly kind: "claim"; readonly key: number; readonly fingerprint: number }
  | {
      readonly kind: "complete";
      readonly key: number;
      readonly fingerprint: number;
      readonly response: unknown;
      readonly token: TokenChoice;
    }
  | { readonly kind: "release"; readonly key: number; readonly fingerprint: number; readonly token: TokenChoice }
  | { readonly kind: "advance"; readonly ms: number };

const KEYS = 5;
const FINGERPRINTS = 4;

/** Text of any code point: lone surrogates and U+0000 included, which every store must answer alike. */
const anyText = (maxLength: number) => fc.string({ unit: "binary", maxLength });

/** A key of a run: built from the run's own prefix, so no run meets another's records (shrinking included). */
type KeyOf = (prefix: string) => string;

/**
 * Keys of a run: the run's prefix and generated text, and the ones every store must refuse alike
 * (empty, one over the limit, U+0000, a lone surrogate).
 */
const keys: fc.Arbitrary<KeyOf[]> = fc.array(
  fc.oneof(
    { arbitrary: anyText(6).map((text) => (prefix: string) => `${prefix}${text}`), weight: 4 },
    fc.constantFrom<KeyOf>(
      () => "",
      (prefix) => `${prefix}:scoped`,
      (prefix) => prefix.padEnd(MAX_IDEMPOTENCY_KEY_LENGTH, "k"),
      (prefix) => prefix.padEnd(MAX_IDEMPOTENCY_KEY_LENGTH + 1, "k"),
      (prefix) => `${prefix}\u0000`,
      (prefix) => `${prefix}\ud800`,
      (prefix) => `${prefix}é流😀`,
      // The same text in NFD: another key.
      (prefix) => `${prefix}e\u0301流😀`,
    ),
  ),
  { minLength: KEYS, maxLength: KEYS },
);

const fingerprints: fc.Arbitrary<string[]> = fc.array(
  fc.oneof(
    { arbitrary: fc.constantFrom("fp-1", "fp-2", "a".repeat(64)), weight: 3 },
    anyText(4),
    fc.constantFrom("", "f".repeat(256), "fp\u0000", "fp\udc00"),
  ),
  { minLength: FINGERPRINTS, maxLength: FINGERPRINTS },
);

/** Responses a store must keep exactly, and malformed ones it must refuse. */
const responses: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.record({
      status: fc.constantFrom(200, 201, 204, 100, 599),
      body: anyText(12),
      contentType: fc.oneof(fc.constantFrom("application/json", "", "text/plain; charset=utf-8"), anyText(4)),
    }),
    weight: 4,
  },
  fc.record({
    status: fc.constantFrom(99, 600, 200.5, Number.NaN),
    body: fc.constant("{}"),
    contentType: fc.constant("application/json"),
  }),
  fc.constantFrom(null, { status: 200, body: 1, contentType: "" }, { status: 200, body: "", contentType: null }),
);

function operations(maxOperations: number): fc.Arbitrary<IdempotencyOperation[]> {
  const key = fc.nat({ max: KEYS - 1 });
  const fingerprint = fc.nat({ max: FINGERPRINTS - 1 });
  const token = fc.oneof(
    { arbitrary: fc.constant<TokenChoice>("latest"), weight: 4 },
    fc.constantFrom<TokenChoice>("previous", "unknown"),
  );
  return fc.array(
    fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("claim" as const), key, fingerprint }), weight: 4 },
      {
        arbitrary: fc.record({ kind: fc.constant("complete" as const), key, fingerprint, response: responses, token }),
        weight: 2,
      },
      fc.record({ kind: fc.constant("release" as const), key, fingerprint, token }),
      // Around both TTLs: just before, at, just after.
      fc.record({
        kind: fc.constant("advance" as const),
        ms: fc.constantFrom(
          1,
          IDEMPOTENCY_IN_PROGRESS_TTL_MS - 1,
          IDEMPOTENCY_IN_PROGRESS_TTL_MS,
          IDEMPOTENCY_TTL_MS - 1,
          IDEMPOTENCY_TTL_MS,
        ),
      }),
    ),
    { minLength: 1, maxLength: maxOperations, size: "max" },
  );
}

/**
 * Runs generated sequences on `create(settings)`'s store and on the reference, both on one clock
 * that only the sequence moves; throws at the first answer that differs.
 */
export async function checkIdempotencyAgainstReference(
  create: (settings: IdempotencySettings) => IdempotencyStore,
  options: {
    readonly numRuns?: number;
    readonly maxOperations?: number;
    /** To replay a failure fast-check reported (its seed and path). */
    readonly seed?: number;
    readonly path?: string;
  } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      keys,
      fingerprints,
      operations(options.maxOperations ?? 25),
      async (keyMakers, fingerprintPool, ops) => {
        const prefix = `${ulid().slice(-10).toLowerCase()}-`;
        const keyPool = keyMakers.map((make) => make(prefix));
        // A year ahead of the wall clock: DynamoDB (Local too) deletes items whose TTL attribute, set
        // from this clock, is in the real past, at a moment of its own; a clock in the past made
        // remembered keys vanish mid-run (1 run in about 50).
        const clock = { now: Date.now() + 365 * 24 * 3600 * 1000 + Math.floor(Math.random() * 1e9) };
        const settings: IdempotencySettings = {
          now: () => clock.now,
          ttlMs: IDEMPOTENCY_TTL_MS,
          inProgressTtlMs: IDEMPOTENCY_IN_PROGRESS_TTL_MS,
        };
        const reference = new InMemoryIdempotencyStore(settings);
        const subject = create(settings);
        // The tokens each side's claims gave, per key: each side names its own.
        const referenceTokens = new Map<number, string[]>();
        const subjectTokens = new Map<number, string[]>();
        for (const [step, op] of ops.entries()) {
          if (op.kind === "advance") {
            clock.now += op.ms;
            continue;
          }
          const want = await outcomeOf(() => apply(reference, op, keyPool, fingerprintPool, referenceTokens));
          const got = await outcomeOf(() => apply(subject, op, keyPool, fingerprintPool, subjectTokens));
          const about = `, key ${JSON.stringify(keyPool[op.key])}, fingerprint ${JSON.stringify(fingerprintPool[op.fingerprint])}`;
          assertSameAnswer(step, op, want, got, about);
        }
      },
    ),
    {
      numRuns: options.numRuns ?? 25,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.path === undefined ? {} : { path: options.path }),
    },
  );
}

async function apply(
  store: IdempotencyStore,
  op: Exclude<IdempotencyOperation, { kind: "advance" }>,
  keyPool: readonly string[],
  fingerprintPool: readonly string[],
  tokens: Map<number, string[]>,
): Promise<unknown> {
  const key = keyPool[op.key] as string;
  const fingerprint = fingerprintPool[op.fingerprint] as string;
  if (op.kind === "claim") {
    const claim = await store.claim(key, fingerprint);
    if (claim.state !== "claimed") return claim;
    tokens.set(op.key, [...(tokens.get(op.key) ?? []), claim.token]);
    // Tokens are each store's own: compared by whether there is one.
    return { state: "claimed", token: typeof claim.token === "string" && claim.token.length > 0 };
  }
  const given = tokens.get(op.key) ?? [];
  const token =
    (op.token === "latest" ? given.at(-1) : op.token === "previous" ? given.at(-2) : undefined) ?? "no-claim";
  return op.kind === "complete"
    ? store.complete(key, fingerprint, op.response as StoredResponse, token)
    : store.release(key, fingerprint, token);
}
