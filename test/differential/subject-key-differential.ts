/**
 * Differential testing of subject key stores (crypto-shredding) through the public API, as
 * event-store-differential.ts does for event stores: generated sequences of `createOrGet`, `get`
 * and `delete` through two instances over one backend (two processes, each with its key cache),
 * and clock moves past the caches' age limit, with generated subject ids (any code point, empty,
 * blank, the longest accepted and one longer), on the store under test and on an
 * `InMemorySubjectKeyStore` and another sharing its keys (the reference). Every answer must be the
 * same: statuses, error codes, and which key: keys are compared by what they are (the same key
 * seals alike), each side's keys numbered in the order they first appear. Subject ids are the
 * run's own. Test-only code.
 */
import fc from "fast-check";
import {
  InMemorySubjectKeyStore,
  MAX_SUBJECT_ID_LENGTH,
  type SubjectKeyStore,
  ulid,
  type WebCryptoKey,
} from "../../src/index.js";
import { assertSameAnswer, outcomeOf, runNames } from "./event-store-differential.ts";

/** The caches' age limit on both sides; the clock moves by steps around it. */
export const SUBJECT_KEY_CACHE_TTL_MS = 1_000;

export interface SubjectKeySettings {
  readonly now: () => number;
  readonly cacheTtlMs: number;
}

type SubjectKeyOperation =
  | {
      readonly kind: "createOrGet" | "get" | "delete";
      readonly subject: number;
      /** Which of the side's two instances (processes) answers. */
      readonly instance: 0 | 1;
    }
  | { readonly kind: "advance"; readonly ms: number };

const SUBJECTS = 4;

/** Generated text of any code point: lone surrogates and control characters included. */
const subjects = runNames(SUBJECTS, [
  () => "",
  () => "   ",
  (p) => `${p}Émilie`,
  (p) => `${p}émilie`,
  (p) => `${p}e\u0301milie`,
  (p) => p.padEnd(MAX_SUBJECT_ID_LENGTH, "s"),
  (p) => p.padEnd(MAX_SUBJECT_ID_LENGTH + 1, "s"),
  (p) => `${p}\u0000`,
  (p) => `${p}\ud800`,
  (p) => `${p}\u007f`,
  (p) => `${p} 流😀 `,
]);

function operations(maxOperations: number): fc.Arbitrary<SubjectKeyOperation[]> {
  const subject = fc.nat({ max: SUBJECTS - 1 });
  const instance = fc.constantFrom(0 as const, 1 as const);
  return fc.array(
    fc.oneof(
      {
        arbitrary: fc.record({ kind: fc.constantFrom("createOrGet" as const, "get" as const), subject, instance }),
        weight: 5,
      },
      { arbitrary: fc.record({ kind: fc.constant("delete" as const), subject, instance }), weight: 2 },
      fc.record({
        kind: fc.constant("advance" as const),
        ms: fc.constantFrom(1, SUBJECT_KEY_CACHE_TTL_MS - 1, SUBJECT_KEY_CACHE_TTL_MS),
      }),
    ),
    { minLength: 1, maxLength: maxOperations, size: "max" },
  );
}

/** One side: its two instances over one backend, and the keys it has answered, in order. */
interface Side {
  readonly instances: readonly [SubjectKeyStore, SubjectKeyStore];
  readonly keys: string[];
}

/**
 * Runs generated sequences on two of `create(settings)`'s stores (two instances over the backend
 * under test) and on the reference, both on one clock that only the sequence moves; throws at the
 * first answer that differs.
 */
export async function checkSubjectKeysAgainstReference(
  create: (settings: SubjectKeySettings) => SubjectKeyStore,
  options: { readonly numRuns?: number; readonly maxOperations?: number } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(subjects, operations(options.maxOperations ?? 20), async (subjectMakers, ops) => {
      const prefix = `${ulid().slice(-10).toLowerCase()}-`;
      const ids = subjectMakers.map((make) => make(prefix));
      const clock = { now: 1_700_000_000_000 };
      const settings: SubjectKeySettings = { now: () => clock.now, cacheTtlMs: SUBJECT_KEY_CACHE_TTL_MS };
      const shared = new InMemorySubjectKeyStore(settings);
      const reference: Side = { instances: [shared, shared.sharing(settings)], keys: [] };
      const subject: Side = { instances: [create(settings), create(settings)], keys: [] };
      for (const [step, op] of ops.entries()) {
        if (op.kind === "advance") {
          clock.now += op.ms;
          continue;
        }
        const want = await outcomeOf(() => apply(reference, op, ids));
        const got = await outcomeOf(() => apply(subject, op, ids));
        assertSameAnswer(step, op, want, got, `, subject ${JSON.stringify(ids[op.subject])}`);
      }
    }),
    { numRuns: options.numRuns ?? 25 },
  );
}

async function apply(
  side: Side,
  op: Exclude<SubjectKeyOperation, { kind: "advance" }>,
  ids: readonly string[],
): Promise<unknown> {
  const store = side.instances[op.instance];
  const id = ids[op.subject] as string;
  switch (op.kind) {
    case "createOrGet":
      return { key: await keyNumber(side, await store.createOrGet(id)) };
    case "get": {
      const lookup = await store.get(id);
      return lookup.status === "active" ? { status: "active", key: await keyNumber(side, lookup.key) } : lookup;
    }
    case "delete":
      return store.delete(id);
  }
}

const probeIv = new Uint8Array(12);
const probe = new TextEncoder().encode("which key");

/** The key's number on its side: the same key seals the probe alike, with the same IV. */
async function keyNumber(side: Side, key: WebCryptoKey): Promise<number> {
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: probeIv }, key, probe));
  const print = Array.from(sealed, (b) => b.toString(16).padStart(2, "0")).join("");
  const known = side.keys.indexOf(print);
  if (known !== -1) return known;
  side.keys.push(print);
  return side.keys.length - 1;
}
