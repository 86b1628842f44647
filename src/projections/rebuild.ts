import { MAX_CHECKPOINT_ID_LENGTH } from "../checkpoint/checkpoint-store.js";
import { type Issue, isAbortedError, RebuildNotSupportedError, ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { nameIssues, unknownKeyIssues } from "../internal/validate.js";
import {
  abortableSleep,
  feedOrigin,
  type Progress,
  ProgressMeter,
  progressOptionIssues,
  throwIfAborted,
  untilAborted,
} from "./progress.js";
import type { Projection } from "./projection.js";
import { lockIssues, type ProjectionLock } from "./projection-lock.js";
import {
  catchUpBatchSize,
  isBatchSize,
  PROJECTION_STATE_COLLECTION,
  ProjectionRunner,
  projectionCheckpointId,
  runnerTargetIssues,
  waitBoundIssues,
} from "./projection-runner.js";
import type { ReadModelStore } from "./read-model-store.js";
import { MAX_READ_MODEL_KEY_LENGTH } from "./read-model-store.js";
import { ShadowReadModels, shadowCollection } from "./shadow-read-models.js";

export interface RebuildProjectionOptions<E extends EventEnvelope = EventEnvelope, S = undefined> {
  /** The projection to rebuild: its handler (the new code) runs over the whole feed into the shadow. */
  readonly projection: Projection<E, S>;
  /** The store whose global feed is read from the start. It must have a global order. */
  readonly eventStore: EventStore;
  /** The live read models; the shadow lives beside them in the same store. Needs the `rebuilds` capability. */
  readonly readModels: ReadModelStore;
  /**
   * Every collection the projection reads or writes. The swap replaces exactly these (and the
   * projection's state and checkpoint); a read or write of any other collection fails the rebuild.
   */
  readonly collections: readonly string[];
  /**
   * Events read and applied per shadow transaction: given alone, every batch's size. Defaults to
   * 1,000 where the read-model store gives no `capabilities.maxBatchSize`; at most 10,000.
   */
  readonly batchSize?: number;
  /**
   * How large shadow batches are: each catch-up of the rebuild reads this many events a batch (after
   * a batch split in halves, the next grows back to it, doubling). Defaults to `batchSize` when that
   * is given, else to the read-model store's `capabilities.maxBatchSize` (PostgreSQL: 10,000; none:
   * 1,000); at least `batchSize`, at most 10,000.
   */
  readonly maxBatchSize?: number;
  /**
   * Swap the shadow in once it has caught up with the feed. Defaults to true; false leaves it built
   * (a later rebuild resumes at its checkpoint and swaps).
   */
  readonly swap?: boolean;
  /** Drop a shadow left by an earlier, unfinished rebuild and start from the feed's start. Defaults to false (resume). */
  readonly restart?: boolean;
  /**
   * The lock the projection's runners share. Given, the swap waits for the lease (stop the live
   * runners running the old code), catches up under it and swaps, so no live batch lands between.
   */
  readonly lock?: ProjectionLock;
  /** The rebuild's name in the lock. Defaults to a random UUID. */
  readonly owner?: string;
  /** How often to try for the lease before the swap. Defaults to 1,000 ms. */
  readonly lockPollMs?: number;
  /**
   * The lease's length. It is taken once, before the final catch-up and the swap, and not renewed:
   * on leases that lapse (in memory, DynamoDB) keep it longer than those take. Defaults to 30,000 ms.
   */
  readonly leaseMs?: number;
  /** Stops the rebuild after the batch in hand: nothing is swapped; see `onAbort`. */
  readonly signal?: AbortSignal;
  /** On abort: `"keep"` the shadow for a later rebuild to resume (the default), or `"drop"` it. */
  readonly onAbort?: "keep" | "drop";
  /** Called after each committed shadow batch. */
  readonly onProgress?: (progress: Progress) => void;
}

export interface RebuildProjectionResult {
  /** Events read by this run (a resumed rebuild counts from where it resumed). */
  readonly read: number;
  /** The shadow's checkpoint, which became the live one when swapped. */
  readonly position: number;
  /** Whether the shadow was swapped in. */
  readonly swapped: boolean;
  readonly elapsedMs: number;
}

/**
 * Rebuilds a projection blue/green: runs it from the start of the feed into a shadow generation of
 * its read models while the live ones keep serving, then swaps the shadow in atomically (documents,
 * state and checkpoint in one step of the read-model store). The shadow keeps its own checkpoint,
 * so a rebuild that crashed or was aborted resumes where it stopped.
 * @throws {RebuildNotSupportedError} the read-model store cannot swap atomically; nothing was written.
 * @throws {AbortedError} `signal` fired; nothing was swapped.
 * @throws {ProjectionFailedError} the handler threw; the shadow keeps what committed before.
 */
export async function rebuildProjection<E extends EventEnvelope, S>(
  options: RebuildProjectionOptions<E, S>,
): Promise<RebuildProjectionResult> {
  const issues = rebuildIssues(options as unknown as RebuildProjectionOptions);
  if (issues.length > 0) throw new ValidationError("Invalid projection rebuild", issues);
  const { projection, eventStore, readModels, signal } = options;
  if (readModels.capabilities.rebuilds !== true) throw new RebuildNotSupportedError(readModels.constructor.name);
  const operation = `rebuild of projection "${projection.name}"`;
  const shadow = new ShadowReadModels(readModels, projection.name, options.collections, () =>
    throwIfAborted(signal, operation),
  );
  const started = Date.now();
  try {
    throwIfAborted(signal, operation);
    if (options.restart === true) await readModels.drop(shadow.dropPlan);
    const from =
      (await untilAborted(shadow.checkpoints.load(projectionCheckpointId(projection.name)), signal, operation)) ?? 0;
    const meter = new ProgressMeter(
      await untilAborted(feedOrigin(eventStore, from), signal, operation),
      await untilAborted(eventStore.getLastGlobalPosition(), signal, operation),
      started,
    );
    const runner = new ProjectionRunner<E, S>({
      projection,
      eventStore,
      readModels: shadow,
      batchSize: options.batchSize ?? 1000,
      maxBatchSize: options.maxBatchSize ?? catchUpBatchSize(shadow, options.batchSize, options.batchSize ?? 1000),
      onFailure: () => undefined,
      onBatch: (batch) => {
        meter.advance(batch.read, batch.position);
        options.onProgress?.(meter.report());
      },
    });
    const catchUp = async () => {
      const done = await runner.catchUp();
      // The runner's own lock is private to it: it is never held elsewhere.
      return done?.position ?? from;
    };
    let position = await catchUp();
    let swapped = false;
    if (options.swap !== false) {
      const { lock } = options;
      const owner = options.owner ?? crypto.randomUUID();
      const leaseMs = options.leaseMs ?? 30_000;
      if (lock !== undefined) {
        while (!(await lock.acquire(projection.name, owner, leaseMs))) {
          await abortableSleep(options.lockPollMs ?? 1000, signal, operation);
        }
      }
      try {
        // What was appended while the shadow caught up, or while waiting for the lease.
        position = await catchUp();
        throwIfAborted(signal, operation);
        await readModels.swap(shadow.swapPlan);
        swapped = true;
      } finally {
        await lock?.release(projection.name, owner);
      }
    }
    return { read: meter.report().done, position, swapped, elapsedMs: Date.now() - started };
  } catch (error) {
    if (isAbortedError(error) && options.onAbort === "drop") await readModels.drop(shadow.dropPlan);
    throw error;
  }
}

/**
 * A rebuild keeps each collection and the projection's state under a longer name until the swap
 * (`shadowCollection`): one that would not fit a read-model key is refused here, before anything is
 * written, rather than at the rebuild's first write. The state counts for a stateless projection too:
 * the swap moves its slot all the same (clearing what an earlier stateful version left), so a name
 * that slot does not fit built the whole shadow and then had every swap refused.
 */
function shadowNameIssues(options: RebuildProjectionOptions): Issue[] {
  const name = (options.projection as { name?: unknown } | undefined)?.name;
  if (typeof name !== "string") return [];
  const issues: Issue[] = [];
  const kept: [string, (string | number)[]][] = options.collections.map((c, i) => [c, ["collections", i]]);
  kept.push([PROJECTION_STATE_COLLECTION, ["projection", "name"]]);
  for (const [collection, path] of kept) {
    if (typeof collection !== "string") continue;
    const shadow = shadowCollection(name, collection);
    if (shadow.length > MAX_READ_MODEL_KEY_LENGTH) {
      issues.push({
        path,
        message: `a rebuild keeps "${collection}" as "~rebuild/<projection name>/${collection}", ${shadow.length} characters (at most ${MAX_READ_MODEL_KEY_LENGTH}): shorten the projection's name or the collection's`,
      });
    }
  }
  return issues;
}

const REBUILD_OPTIONS = [
  "projection",
  "eventStore",
  "readModels",
  "collections",
  "batchSize",
  "maxBatchSize",
  "swap",
  "restart",
  "lock",
  "owner",
  "lockPollMs",
  "leaseMs",
  "signal",
  "onAbort",
  "onProgress",
] as const satisfies readonly (keyof RebuildProjectionOptions)[];

/** What is wrong with a rebuild's options, before anything is read or written (the `eventflows` command asks too). */
export function rebuildIssues(options: RebuildProjectionOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  // Checked here, as the rest, before `restart` drops a shadow: the runner made later refused an
  // event store without a global order only after that, and a store of the wrong kind was a TypeError.
  // A misspelt key was dropped for its default: `lockPolMs` polled every second.
  const issues: Issue[] = [...unknownKeyIssues(options, REBUILD_OPTIONS), ...runnerTargetIssues(options)];
  if (!Array.isArray(options.collections) || options.collections.length === 0) {
    issues.push({ path: ["collections"], message: "name every collection the projection writes (at least one)" });
  } else {
    options.collections.forEach((c, i) => {
      issues.push(...nameIssues(c, "collection", MAX_READ_MODEL_KEY_LENGTH, ["collections", i]));
      if (c === PROJECTION_STATE_COLLECTION) {
        issues.push({
          path: ["collections", i],
          message: `"${c}" holds every projection's state; it is not swapped whole`,
        });
      }
    });
    issues.push(...shadowNameIssues(options));
  }
  if (options.onAbort !== undefined && options.onAbort !== "keep" && options.onAbort !== "drop") {
    issues.push({ path: ["onAbort"], message: 'onAbort must be "keep" or "drop"' });
  }
  // Checked here, before `restart` drops a shadow: a runner built later would refuse it only then.
  for (const key of ["batchSize", "maxBatchSize"] as const) {
    const size = options[key];
    if (size !== undefined && !isBatchSize(size)) {
      issues.push({ path: [key], message: `${key} must be an integer from 1 to 10,000` });
    }
  }
  const batchSize = options.batchSize ?? 1000;
  if (isBatchSize(options.maxBatchSize) && isBatchSize(batchSize) && options.maxBatchSize < batchSize) {
    issues.push({ path: ["maxBatchSize"], message: `maxBatchSize must be at least batchSize (${batchSize})` });
  }
  for (const key of ["swap", "restart"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "boolean") {
      issues.push({ path: [key], message: `${key} must be a boolean` });
    }
  }
  if (options.owner !== undefined)
    issues.push(...nameIssues(options.owner, "owner", MAX_CHECKPOINT_ID_LENGTH, ["owner"]));
  for (const key of ["lockPollMs", "leaseMs"] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)) {
      issues.push({ path: [key], message: `${key} must be an integer of at least 1` });
    }
  }
  // The runner's bound: lockPollMs is a sleep, and the lease is held as long as a runner's may be.
  issues.push(...waitBoundIssues(options, ["lockPollMs", "leaseMs"]));
  issues.push(...lockIssues(options.lock));
  issues.push(...progressOptionIssues(options));
  return issues;
}
