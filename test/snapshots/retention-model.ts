/**
 * Checks a snapshot store's retention against InMemorySnapshotStore, the reference: random
 * sequences of saves (any version order, replacements included, any keepLast) must report the same
 * `pruned` counts and leave the same versions. Shared by the PostgreSQL and DynamoDB tests.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import { InMemorySnapshotStore, type SnapshotStore, type SnapshotStoreOptions, ulid } from "../../src/index.js";

/** The versions a stream has snapshots at, newest first, found through `load` alone. */
export async function storedVersions(store: SnapshotStore, streamId: string): Promise<number[]> {
  const versions: number[] = [];
  let snapshot = await store.load(streamId);
  while (snapshot !== undefined) {
    versions.push(snapshot.version);
    snapshot = snapshot.version > 1 ? await store.load(streamId, { maxVersion: snapshot.version - 1 }) : undefined;
  }
  return versions;
}

export async function checkRetentionAgainstModel(
  make: (options: SnapshotStoreOptions) => SnapshotStore,
  runs: number,
): Promise<void> {
  const saves = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 14 });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 4 }), saves, async (keepLast, versions) => {
      const model = new InMemorySnapshotStore({ keepLast });
      const store = make({ keepLast });
      const streamId = `Retention-${ulid()}`;
      for (const version of versions) {
        const expected = await model.save({ streamId, version, state: { version } });
        const actual = await store.save({ streamId, version, state: { version } });
        expect(actual.pruned).toBe(expected.pruned);
      }
      expect(await storedVersions(store, streamId)).toEqual(await storedVersions(model, streamId));
    }),
    { numRuns: runs },
  );
}
