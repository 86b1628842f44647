/**
 * Differential testing of snapshot stores through the public API (see event-store-differential.ts):
 * generated sequences of saves (any version, replacing, older than the newest, with and without a
 * schema version), loads (with and without `maxVersion`) and deletes over a few streams, with
 * generated JSON states, on the store under test and on a fresh `InMemorySnapshotStore` with the
 * same `keepLast` (the reference). Every answer must be the same. Test-only code.
 */
import fc from "fast-check";
import { InMemorySnapshotStore, type SnapshotStore, ulid } from "../../src/index.js";
import { anyJson, assertSameAnswer, outcomeOf } from "./event-store-differential.ts";
import { assertNoPollution } from "./hostile-values.ts";

type SnapshotOperation =
  | {
      readonly kind: "save";
      readonly stream: number;
      readonly version: number;
      readonly state: unknown;
      readonly schemaVersion?: number;
    }
  | { readonly kind: "load"; readonly stream: number; readonly maxVersion?: number }
  | { readonly kind: "delete"; readonly stream: number };

const STREAMS = 2;

function operations(states: fc.Arbitrary<unknown>): fc.Arbitrary<SnapshotOperation[]> {
  const stream = fc.nat({ max: STREAMS - 1 });
  const version = fc.integer({ min: 0, max: 9 });
  return fc.array(
    fc.oneof(
      {
        arbitrary: fc.record(
          {
            kind: fc.constant("save" as const),
            stream,
            version,
            state: states,
            schemaVersion: fc.option(fc.integer({ min: -1, max: 3 }), { nil: undefined }),
          },
          { requiredKeys: ["kind", "stream", "version", "state"] },
        ),
        weight: 3,
      },
      {
        arbitrary: fc.record(
          { kind: fc.constant("load" as const), stream, maxVersion: fc.option(version, { nil: undefined }) },
          { requiredKeys: ["kind", "stream"] },
        ),
        weight: 3,
      },
      fc.record({ kind: fc.constant("delete" as const), stream }),
    ),
    { minLength: 1, maxLength: 25, size: "max" },
  );
}

/** `create(keepLast)` makes the store under test; the reference keeps as many snapshots per stream. */
export async function checkSnapshotsAgainstReference(
  create: (keepLast: number) => SnapshotStore,
  options: { readonly numRuns?: number; readonly states?: fc.Arbitrary<unknown>; readonly seed?: number } = {},
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(1, 2, 3), operations(options.states ?? anyJson), async (keepLast, ops) => {
      const run = ulid().slice(-8).toLowerCase();
      const streams = Array.from({ length: STREAMS }, (_, i) => `Snap_${run}-${i}`);
      const reference = new InMemorySnapshotStore({ keepLast });
      const subject = create(keepLast);
      for (const [step, op] of ops.entries()) {
        const want = await outcomeOf(() => apply(reference, op, streams));
        assertSameAnswer(step, { ...op, keepLast }, want, await outcomeOf(() => apply(subject, op, streams)));
      }
      assertNoPollution();
    }),
    { numRuns: options.numRuns ?? 25, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

async function apply(store: SnapshotStore, op: SnapshotOperation, streams: readonly string[]): Promise<unknown> {
  const streamId = streams[op.stream] as string;
  switch (op.kind) {
    case "save": {
      const saved = await store.save({
        streamId,
        version: op.version,
        state: op.state,
        ...(op.schemaVersion === undefined ? {} : { schemaVersion: op.schemaVersion }),
      });
      // Encoding and stored bytes are each store's own (compression); what was pruned is not.
      return { version: saved.version, pruned: saved.pruned };
    }
    case "load": {
      const loaded = await store.load(streamId, op.maxVersion === undefined ? {} : { maxVersion: op.maxVersion });
      return loaded === undefined
        ? null
        : { version: loaded.version, schemaVersion: loaded.schemaVersion, state: loaded.state };
    }
    case "delete":
      return store.delete(streamId);
  }
}
