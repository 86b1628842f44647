import { AbortedError, ErrorCode } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import type { Progress } from "../projections/progress.js";
import { projection } from "../projections/projection.js";
import type { ProjectionLock } from "../projections/projection-lock.js";
import {
  PROJECTION_STATE_COLLECTION,
  ProjectionRunner,
  projectionCheckpointId,
} from "../projections/projection-runner.js";
import type { ReadModelStore } from "../projections/read-model-store.js";
import { type RebuildProjectionOptions, rebuildProjection } from "../projections/rebuild.js";
import { rebuildCheckpointId, shadowCollection } from "../projections/shadow-read-models.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { untilReadable } from "./feed.js";

/** What a rebuild case runs on (the projection contract's fixture has these). */
interface RebuildFixture {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  readonly lock: ProjectionLock;
}

type Counted = EventEnvelope<"Counted", { readonly n: number }>;
interface Totals {
  readonly count: number;
  readonly sum: number;
}

/**
 * The rebuild cases of the projection contract. A store with the `rebuilds` capability must build
 * the shadow beside the live read model and swap it in whole; one without must refuse every rebuild
 * with `RebuildNotSupportedError` before writing anything.
 */
export function rebuildCases(add: (name: string, run: (fixture: RebuildFixture) => Promise<void>) => void): void {
  const category = () => `Pr${ulid()}`;
  // Each append is read by a rebuild or a catch-up next: wait until the feed's readers see it (see untilReadable).
  const append = async (store: EventStore, stream: string, values: readonly number[]) =>
    untilReadable(
      store,
      await store.appendToStream(
        stream,
        values.map((n) => ({ type: "Counted", data: { n } })),
      ),
    );
  // Version 1 counts; version 2 (the rebuild's new code) also keeps the last value.
  const totals = (cat: string, name: string, version: 1 | 2) =>
    projection<Counted, Totals>({
      name,
      categories: [cat],
      types: ["Counted"],
      initialState: { count: 0, sum: 0 },
      handle: async (event, { state, readModels }) => {
        const doc = (await readModels.get<Totals>(cat, event.streamId)) ?? { count: 0, sum: 0 };
        const next = { count: doc.count + 1, sum: doc.sum + event.data.n };
        await readModels.put(cat, event.streamId, version === 1 ? next : { ...next, last: event.data.n });
        return { count: state.count + 1, sum: state.sum + event.data.n };
      },
    });
  const rebuild = (
    fixture: RebuildFixture,
    cat: string,
    name: string,
    extra: Partial<RebuildProjectionOptions<Counted, Totals>> = {},
  ) =>
    rebuildProjection<Counted, Totals>({
      projection: totals(cat, name, 2),
      eventStore: fixture.eventStore,
      readModels: fixture.readModels,
      collections: [cat],
      batchSize: 2,
      ...extra,
    });
  /** Refused before anything is written, where the store cannot swap. */
  const refused = async (fixture: RebuildFixture, cat: string, name: string) => {
    if (fixture.readModels.capabilities.rebuilds === true) return false;
    await assertRejects(() => rebuild(fixture, cat, name), ErrorCode.RebuildNotSupported, "rebuild refused");
    assertEqual(await fixture.readModels.list(shadowCollection(name, cat)), [], "no shadow written");
    assertEqual(
      await fixture.readModels.checkpoints.load(rebuildCheckpointId(name)),
      undefined,
      "no shadow checkpoint",
    );
    return true;
  };

  add(
    "rebuild: the shadow fills beside the live read model, then swaps in documents, state and checkpoint (a store without the capability refuses, writing nothing)",
    async (fixture) => {
      const cat = category();
      const name = `rebuilt-${ulid()}`;
      const models = fixture.readModels;
      await append(fixture.eventStore, `${cat}-a`, [1, 2, 3]);
      await append(fixture.eventStore, `${cat}-b`, [10]);
      const live = new ProjectionRunner({
        projection: totals(cat, name, 1),
        eventStore: fixture.eventStore,
        readModels: models,
        onFailure: () => undefined,
      });
      await live.catchUp();
      await models.put(cat, "stale", { count: 99, sum: 99 });
      if (await refused(fixture, cat, name)) return;
      const progress: Progress[] = [];
      const built = await rebuild(fixture, cat, name, { swap: false, onProgress: (p) => progress.push(p) });
      assertEqual(built.swapped, false, "not swapped");
      assertEqual(await models.get(cat, `${cat}-a`), { count: 3, sum: 6 }, "live still v1 while the shadow is built");
      assertEqual(
        await models.get(shadowCollection(name, cat), `${cat}-a`),
        { count: 3, sum: 6, last: 3 },
        "shadow is v2",
      );
      assert(progress.length > 0, "progress reported");
      const last = progress[progress.length - 1];
      assertEqual(last?.remaining, 0, "progress ends at the head");
      assertEqual(last?.position, built.position, "progress position");
      assert(
        progress.every((p, i) => i === 0 || p.done >= (progress[i - 1]?.done ?? 0)),
        "done only grows",
      );

      // Appended after the shadow was built: the next rebuild resumes there and takes only these.
      await append(fixture.eventStore, `${cat}-b`, [20]);
      const swapped = await rebuild(fixture, cat, name);
      assertEqual(swapped.swapped, true, "swapped");
      assert(swapped.read >= 1 && swapped.read < built.read + 1, "resumed from the shadow's checkpoint");
      assertEqual(
        await models.list(cat),
        [
          { id: `${cat}-a`, document: { count: 3, sum: 6, last: 3 } },
          { id: `${cat}-b`, document: { count: 2, sum: 30, last: 20 } },
        ],
        "live is the rebuilt generation, the stale document gone",
      );
      assertEqual(await models.get(PROJECTION_STATE_COLLECTION, name), { count: 5, sum: 36 }, "state swapped");
      const head = await fixture.eventStore.getLastGlobalPosition();
      assertEqual(await models.checkpoints.load(projectionCheckpointId(name)), head, "live checkpoint swapped");
      assertEqual(await models.checkpoints.load(rebuildCheckpointId(name)), undefined, "shadow checkpoint gone");
      assertEqual(await models.list(shadowCollection(name, cat)), [], "shadow emptied");

      // The new code runs on from the swapped checkpoint: nothing counted twice.
      await append(fixture.eventStore, `${cat}-a`, [4]);
      await new ProjectionRunner({
        projection: totals(cat, name, 2),
        eventStore: fixture.eventStore,
        readModels: models,
      }).catchUp();
      assertEqual(await models.get(cat, `${cat}-a`), { count: 4, sum: 10, last: 4 }, "continued once");
    },
  );

  add("rebuild: an abort swaps nothing and keeps the shadow to resume, or drops it on request", async (fixture) => {
    const cat = category();
    const name = `aborted-${ulid()}`;
    const models = fixture.readModels;
    await append(fixture.eventStore, `${cat}-a`, [1, 2, 3, 4, 5, 6]);
    if (await refused(fixture, cat, name)) return;
    const controller = new AbortController();
    const error = await assertRejects(
      () => rebuild(fixture, cat, name, { signal: controller.signal, onProgress: () => controller.abort("enough") }),
      ErrorCode.Aborted,
      "aborted",
    );
    assert(error instanceof AbortedError && error.cause === "enough", "the signal's reason is the cause");
    assertEqual(await models.list(cat), [], "nothing swapped");
    const kept = (await models.checkpoints.load(rebuildCheckpointId(name))) ?? 0;
    assert(kept > 0, "the shadow's checkpoint is kept");
    await rebuild(fixture, cat, name);
    assertEqual(await models.get(cat, `${cat}-a`), { count: 6, sum: 21, last: 6 }, "resumed: every event once");

    const other = `dropped-${ulid()}`;
    const dropper = new AbortController();
    await assertRejects(
      () =>
        rebuild(fixture, cat, other, { signal: dropper.signal, onAbort: "drop", onProgress: () => dropper.abort() }),
      ErrorCode.Aborted,
      "aborted, dropping",
    );
    assertEqual(await models.checkpoints.load(rebuildCheckpointId(other)), undefined, "shadow checkpoint dropped");
    assertEqual(await models.list(shadowCollection(other, cat)), [], "shadow documents dropped");
  });

  add("rebuild: writes outside the declared collections fail it; restart starts the shadow over", async (fixture) => {
    const cat = category();
    const name = `declared-${ulid()}`;
    await append(fixture.eventStore, `${cat}-a`, [1, 2]);
    if (await refused(fixture, cat, name)) return;
    await assertRejects(
      () => rebuild(fixture, cat, name, { collections: [`${cat}-elsewhere`] }),
      ErrorCode.ProjectionFailed,
      "undeclared collection",
    );
    await assertRejects(() => rebuild(fixture, cat, name, { collections: [] }), ErrorCode.Validation, "no collections");
    await rebuild(fixture, cat, name, { swap: false });
    const restarted = await rebuild(fixture, cat, name, { restart: true });
    assert(restarted.read >= 2, "restart read the feed again from the start");
    assertEqual(await fixture.readModels.get(cat, `${cat}-a`), { count: 2, sum: 3, last: 2 }, "counted once");
  });

  add(
    "rebuild: with the runners' lock, the swap waits for the live runner's lease, then takes in what it missed",
    async (fixture) => {
      const cat = category();
      const name = `locked-${ulid()}`;
      const models = fixture.readModels;
      await append(fixture.eventStore, `${cat}-a`, [1, 2]);
      if (await refused(fixture, cat, name)) return;
      const live = new ProjectionRunner({
        projection: totals(cat, name, 1),
        eventStore: fixture.eventStore,
        readModels: models,
        lock: fixture.lock,
        pollIntervalMs: 20,
        standbyPollMs: 20,
        retryDelayMs: 20,
        onError: () => undefined,
        onFailure: () => undefined,
      });
      live.start();
      await live.whenCaughtUp();
      let settled = false;
      const rebuilt = rebuild(fixture, cat, name, { lock: fixture.lock, lockPollMs: 20 }).finally(() => {
        settled = true;
      });
      await append(fixture.eventStore, `${cat}-a`, [3]);
      await live.whenCaughtUp();
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert(!settled, "the swap waits while the live runner holds the lease");
      assertEqual(
        await models.get(cat, `${cat}-a`),
        { count: 3, sum: 6 },
        "the live runner kept the live model current",
      );
      await live.stop();
      const result = await rebuilt;
      assertEqual(result.swapped, true, "swapped once the lease was free");
      assertEqual(await models.get(cat, `${cat}-a`), { count: 3, sum: 6, last: 3 }, "every event once, new code");
      assertEqual(
        await models.checkpoints.load(projectionCheckpointId(name)),
        await fixture.eventStore.getLastGlobalPosition(),
        "live checkpoint at the head",
      );
      assert(await fixture.lock.acquire(name, "after", 1000), "the rebuild released the lease");
      await fixture.lock.release(name, "after");

      // Waiting for a lease that is never freed ends with the signal.
      const holder = `holder-${ulid()}`;
      assert(await fixture.lock.acquire(name, holder, 30_000), "lease taken");
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      await assertRejects(
        () => rebuild(fixture, cat, name, { lock: fixture.lock, lockPollMs: 20, signal: controller.signal }),
        ErrorCode.Aborted,
        "aborted while waiting for the lease",
      );
      await fixture.lock.release(name, holder);
    },
  );
}
