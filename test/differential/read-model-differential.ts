/**
 * Differential testing of read-model stores through the public API, as event-store-differential.ts
 * does for event stores: generated sequences of `put`, `get`, `delete`, `list`, checkpoint loads
 * and compare-and-set stores, swaps and drops of whole collections, and transactions holding any of
 * these that commit or roll back (the work throws), with generated JSON documents and generated
 * document ids (any code point, empty, long: the invalid ones must be refused alike). Each sequence
 * runs on the store under test and on a fresh `InMemoryReadModelStore` (the reference); every
 * answer must be the same. Collections and checkpoint ids are the run's own. Test-only code.
 */
import fc from "fast-check";
import {
  InMemoryReadModelStore,
  type ReadModelStore,
  type ReadModelTransaction,
  type ReadModelWriter,
  ulid,
} from "../../src/index.js";
import { anyJson, assertSameAnswer, outcomeOf } from "./event-store-differential.ts";
import { assertNoPollution } from "./hostile-values.ts";

type Writes =
  | { readonly kind: "put"; readonly collection: number; readonly id: number; readonly document: unknown }
  | { readonly kind: "get"; readonly collection: number; readonly id: number }
  | { readonly kind: "delete"; readonly collection: number; readonly id: number }
  | { readonly kind: "load"; readonly checkpoint: number }
  | {
      readonly kind: "store";
      readonly checkpoint: number;
      readonly position: number;
      readonly expected?: number;
    };

export type ReadModelOperation =
  | Writes
  | { readonly kind: "list"; readonly collection: number }
  | { readonly kind: "transaction"; readonly work: readonly Writes[]; readonly rollback: boolean }
  | { readonly kind: "swap"; readonly from: number; readonly to: number; readonly checkpoints: boolean }
  | { readonly kind: "drop"; readonly collection: number };

const COLLECTIONS = 3;
const CHECKPOINTS = 2;

/**
 * Document ids a run uses: a few ordinary ones and generated ones of any code point and length, and
 * ones with a lone surrogate (no UTF-8 form, refused alike).
 */
const ids = fc.tuple(
  fc.constantFrom("a", "b", "order-1"),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }),
  fc.oneof(
    fc.constant(""),
    fc.constant("x".repeat(300)),
    fc.string({ maxLength: 3 }),
    fc.constantFrom("\ud800", "a\udfff"),
  ),
);

function operations(maxOperations: number, documents: fc.Arbitrary<unknown>): fc.Arbitrary<ReadModelOperation[]> {
  const collection = fc.nat({ max: COLLECTIONS - 1 });
  const id = fc.nat({ max: 3 });
  const checkpoint = fc.nat({ max: CHECKPOINTS - 1 });
  const position = fc.oneof(fc.nat({ max: 20 }), fc.constant(9_000_000_000_000));
  const checkpointStore: fc.Arbitrary<Writes> = fc.record(
    { kind: fc.constant("store" as const), checkpoint, position, expected: fc.option(position, { nil: undefined }) },
    { requiredKeys: ["kind", "checkpoint", "position"] },
  );
  const documentWrites: fc.Arbitrary<Writes> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant("put" as const), collection, id, document: documents }), weight: 4 },
    fc.record({ kind: fc.constant("get" as const), collection, id }),
    fc.record({ kind: fc.constant("delete" as const), collection, id }),
    fc.record({ kind: fc.constant("load" as const), checkpoint }),
  );
  const writes = fc.oneof({ arbitrary: documentWrites, weight: 4 }, checkpointStore);
  return fc.array(
    fc.oneof(
      { arbitrary: writes, weight: 4 },
      fc.record({ kind: fc.constant("list" as const), collection }),
      {
        // A checkpoint's compare-and-set may be checked when it is stored or when the transaction
        // commits (DynamoDB and SQLite check it then): it comes last, in a transaction that commits.
        arbitrary: fc.oneof(
          fc.record({
            kind: fc.constant("transaction" as const),
            work: fc.array(documentWrites, { maxLength: 6 }),
            rollback: fc.boolean(),
          }),
          fc.record({
            kind: fc.constant("transaction" as const),
            work: fc.tuple(fc.array(documentWrites, { maxLength: 5 }), checkpointStore).map(([w, c]) => [...w, c]),
            rollback: fc.constant(false),
          }),
        ),
        weight: 2,
      },
      fc.record({ kind: fc.constant("swap" as const), from: collection, to: collection, checkpoints: fc.boolean() }),
      fc.record({ kind: fc.constant("drop" as const), collection }),
    ),
    { minLength: 1, maxLength: maxOperations, size: "max" },
  );
}

interface Names {
  readonly collections: readonly string[];
  readonly ids: readonly string[];
  readonly checkpoints: readonly string[];
}

/**
 * Runs generated sequences on `create()`'s store and on the reference; throws at the first answer
 * that differs (fast-check's report holds the shrunk sequence).
 */
export async function checkReadModelsAgainstReference(
  create: () => ReadModelStore,
  options: {
    readonly numRuns?: number;
    readonly maxOperations?: number;
    readonly documents?: fc.Arbitrary<unknown>;
    readonly seed?: number;
  } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      ids,
      operations(options.maxOperations ?? 25, options.documents ?? anyJson),
      async (idPool, ops) => {
        const run = ulid().slice(-8).toLowerCase();
        const names: Names = {
          collections: Array.from({ length: COLLECTIONS }, (_, i) => `diff_${run}_${i}`),
          ids: idPool,
          checkpoints: Array.from({ length: CHECKPOINTS }, (_, i) => `diff-${run}-${i}`),
        };
        const reference = new InMemoryReadModelStore();
        const subject = create();
        for (const [step, op] of ops.entries()) {
          const want = await outcomeOf(() => apply(reference, op, names));
          assertSameAnswer(step, op, want, await outcomeOf(() => apply(subject, op, names)));
        }
        assertNoPollution();
      },
    ),
    { numRuns: options.numRuns ?? 25, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

class Rollback extends Error {}

async function apply(store: ReadModelStore, op: ReadModelOperation, names: Names): Promise<unknown> {
  switch (op.kind) {
    case "list":
      return (await store.list(names.collections[op.collection] as string)).map((d) => [d.id, d.document]);
    case "transaction": {
      // What a failed transaction answered before it failed is not compared: a store may report a
      // checkpoint conflict at the call or at the commit. Its error is.
      const answers: unknown[] = [];
      try {
        await store.transaction(async (tx) => {
          // A write that fails ends the work, as in a handler: the transaction rolls back with its error.
          for (const write of op.work) answers.push((await write_(tx, write, names)) ?? null);
          if (op.rollback) throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
        return { answers, rolledBack: true };
      }
      return { answers, rolledBack: false };
    }
    case "swap": {
      const from = names.collections[op.from] as string;
      const to = names.collections[op.to] as string;
      const [a, b] = names.checkpoints as [string, string];
      await store.swap({
        collections: [{ from, to }],
        documents: [],
        checkpoints: op.checkpoints ? [{ from: a, to: b }] : [],
      });
      return "swapped";
    }
    case "drop":
      await store.drop({ collections: [names.collections[op.collection] as string], documents: [], checkpoints: [] });
      return "dropped";
    default:
      return write_(store, op, names);
  }
}

async function write_(
  target: ReadModelWriter & Pick<ReadModelTransaction, "checkpoints">,
  op: Writes,
  names: Names,
): Promise<unknown> {
  const collection = "collection" in op ? (names.collections[op.collection] as string) : "";
  const id = "id" in op ? (names.ids[op.id] as string) : "";
  switch (op.kind) {
    case "put":
      return target.put(collection, id, op.document);
    case "get":
      return (await target.get(collection, id)) ?? null;
    case "delete":
      return target.delete(collection, id);
    case "load":
      return (await target.checkpoints.load(names.checkpoints[op.checkpoint] as string)) ?? null;
    case "store":
      return target.checkpoints.store(
        names.checkpoints[op.checkpoint] as string,
        op.position,
        op.expected === undefined ? {} : { expected: op.expected },
      );
  }
}
