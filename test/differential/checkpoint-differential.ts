/**
 * Differential testing of checkpoint stores on their own through the public API, as
 * event-store-differential.ts does for event stores: generated sequences of loads, stores with and
 * without `expected` (compare-and-set) and deletes, with generated ids (any code point, empty,
 * blank, the longest accepted and one longer) and positions (0, small, large, the largest safe
 * integer; negative, fractional, unsafe and non-numbers, which every store must refuse alike), on
 * the store under test and on a fresh `InMemoryCheckpointStore` (the reference). Every answer must
 * be the same: positions, error codes, and a conflict's expected and actual positions. Ids are the
 * run's own. Test-only code.
 */
import fc from "fast-check";
import { type CheckpointStore, InMemoryCheckpointStore, MAX_CHECKPOINT_ID_LENGTH, ulid } from "../../src/index.js";
import { assertSameAnswer, outcomeOf, runNames } from "./event-store-differential.ts";

type CheckpointOperation =
  | { readonly kind: "load"; readonly id: number }
  | {
      readonly kind: "store";
      readonly id: number;
      readonly position: unknown;
      /** `"saved"`: what the reference has saved (0 for none), so compare-and-set often succeeds. */
      readonly expected?: unknown;
    }
  | { readonly kind: "delete"; readonly id: number };

const IDS = 4;

const ids = runNames(IDS, [
  () => "",
  () => " \t",
  (p) => `Orders_${p}`,
  (p) => `orders_${p}`,
  (p) => `${p}é`,
  (p) => `${p}e\u0301`,
  (p) => `${p}'; DROP TABLE checkpoints;--`,
  (p) => p.padEnd(MAX_CHECKPOINT_ID_LENGTH, "c"),
  (p) => p.padEnd(MAX_CHECKPOINT_ID_LENGTH + 1, "c"),
  (p) => `${p}\u0000`,
  (p) => `${p}\udbff`,
  (p) => `${p} 流😀 `,
]);

/** Mostly positions a store keeps; every kind of one it must refuse too. */
const positions: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.nat({ max: 6 }), weight: 6 },
  { arbitrary: fc.constantFrom(9_000_000_000_000, Number.MAX_SAFE_INTEGER), weight: 2 },
  fc.constantFrom(-1, -0, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, "3", null, 10n),
);

function operations(maxOperations: number): fc.Arbitrary<CheckpointOperation[]> {
  const id = fc.nat({ max: IDS - 1 });
  return fc.array(
    fc.oneof(
      {
        arbitrary: fc.record(
          {
            kind: fc.constant("store" as const),
            id,
            position: positions,
            expected: fc.oneof({ arbitrary: fc.constant("saved"), weight: 2 }, positions),
          },
          { requiredKeys: ["kind", "id", "position"] },
        ),
        weight: 4,
      },
      { arbitrary: fc.record({ kind: fc.constant("load" as const), id }), weight: 3 },
      fc.record({ kind: fc.constant("delete" as const), id }),
    ),
    { minLength: 1, maxLength: maxOperations, size: "max" },
  );
}

/** Runs generated sequences on `create()`'s store and on the reference; throws at the first answer that differs. */
export async function checkCheckpointsAgainstReference(
  create: () => CheckpointStore,
  options: { readonly numRuns?: number; readonly maxOperations?: number } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(ids, operations(options.maxOperations ?? 25), async (idMakers, ops) => {
      const prefix = `${ulid().slice(-10).toLowerCase()}-`;
      const names = idMakers.map((make) => make(prefix));
      const reference = new InMemoryCheckpointStore();
      const subject = create();
      for (const [step, op] of ops.entries()) {
        // The position the reference has saved, worked out before either side moves it.
        const saved = op.kind === "store" && op.expected === "saved" ? await savedOf(reference, names[op.id]) : 0;
        const want = await outcomeOf(() => apply(reference, op, names, saved));
        const got = await outcomeOf(() => apply(subject, op, names, saved));
        assertSameAnswer(step, op, want, got, `, id ${JSON.stringify(names[op.id])}`, describe(op));
      }
    }),
    { numRuns: options.numRuns ?? 25 },
  );
}

async function savedOf(reference: CheckpointStore, id: string | undefined): Promise<number> {
  return (await reference.load(id as string).catch(() => undefined)) ?? 0;
}

function apply(
  store: CheckpointStore,
  op: CheckpointOperation,
  names: readonly string[],
  saved: number,
): Promise<unknown> {
  const id = names[op.id] as string;
  switch (op.kind) {
    case "load":
      return store.load(id);
    case "store":
      return store.store(
        id,
        op.position as number,
        op.expected === undefined ? {} : { expected: (op.expected === "saved" ? saved : op.expected) as number },
      );
    case "delete":
      return store.delete(id);
  }
}

/** An operation as text: bigints and non-finite numbers spelled out. */
function describe(op: CheckpointOperation): string {
  return JSON.stringify(op, (_key, v: unknown) =>
    typeof v === "bigint" || (typeof v === "number" && !Number.isFinite(v)) || Object.is(v, -0)
      ? `${String(v)}${typeof v === "bigint" ? "n" : ""}`
      : v,
  );
}
