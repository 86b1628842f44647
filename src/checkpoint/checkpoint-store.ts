import { ConcurrencyError, ValidationError } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import { kindOf, nameIssues, objectIssues, unknownKeyIssues } from "../internal/validate.js";

/** Longest checkpoint id accepted, in characters. */
export const MAX_CHECKPOINT_ID_LENGTH = 256;

export interface StoreCheckpointOptions {
  /**
   * Compare-and-set: store only if the saved position is this one (0 also matches "none saved yet").
   * Pass what `load` returned, so two runners of one projection cannot both move it.
   */
  readonly expected?: number;
}

/**
 * The checkpoint store port: where a subscription or projection records the global position it has
 * handled, to resume from after a restart. Subclasses implement storage (`readCheckpoint`,
 * `writeCheckpoint`, `deleteCheckpoint`); this base validates every input, so each adapter answers
 * the same mistakes with the same errors.
 */
export abstract class CheckpointStore {
  /** The saved position, or undefined when none was saved under this id. */
  async load(id: string): Promise<number | undefined> {
    assertCheckpointId(id);
    return this.readCheckpoint(id);
  }

  /**
   * Saves a position. Positions may move backwards (a projection being rebuilt).
   * @throws {ValidationError} bad id, position, options or expected position; nothing is written.
   * @throws {ConcurrencyError} `expected` was given and the saved position differs; nothing is written.
   */
  async store(id: string, position: number, options: StoreCheckpointOptions = {}): Promise<void> {
    assertCheckpointId(id);
    assertPosition(position, "position");
    // null is no options, as for the event store's calls (not a TypeError).
    if (options !== null) assertStoreOptions(options);
    const expected = options?.expected;
    if (expected !== undefined) assertPosition(expected, "expected");
    // + 0 turns -0 into 0: an integer column or a DynamoDB number keeps no sign on zero, so every store saves 0.
    return this.writeCheckpoint(id, position + 0, expected === undefined ? undefined : expected + 0);
  }

  /** Forgets a checkpoint; the next `load` returns undefined. Deleting an unknown id does nothing. */
  async delete(id: string): Promise<void> {
    assertCheckpointId(id);
    return this.deleteCheckpoint(id);
  }

  /**
   * Resolves when the backend answers, for health checks. This default reads a checkpoint that need
   * not exist; adapters answer it with their cheapest round trip.
   */
  async ping(_signal?: AbortSignal): Promise<void> {
    await this.readCheckpoint(HEALTH_CHECK_STREAM);
  }

  protected abstract readCheckpoint(id: string): Promise<number | undefined>;
  /** Stores `position`; when `expected` is given, only if the saved one equals it (none counts as 0). */
  protected abstract writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void>;
  protected abstract deleteCheckpoint(id: string): Promise<void>;
}

/** The error a failed compare-and-set raises; adapters call this so every store reports it alike. */
export function checkpointConflict(id: string, expected: number, actual: number | undefined): ConcurrencyError {
  return new ConcurrencyError(id, expected, actual ?? 0, {
    subject: "Checkpoint",
    hint: "another runner moved this checkpoint since it was loaded; only one runner may own a checkpoint at a time",
  });
}

export function assertCheckpointId(id: unknown): asserts id is string {
  const issues = nameIssues(id, "checkpoint id", MAX_CHECKPOINT_ID_LENGTH);
  if (issues.length > 0) throw new ValidationError("Invalid checkpoint id", issues);
}

const STORE_OPTIONS = ["expected"];

/**
 * A number or string where the options go (`store(id, 9, 5)`), or a misspelt `expected`, would store
 * without the compare-and-set that was meant: two runners could both move the checkpoint.
 */
function assertStoreOptions(options: unknown): void {
  const issues = [...objectIssues(options, "options"), ...unknownKeyIssues(options, STORE_OPTIONS, ["options"])];
  if (issues.length > 0) throw new ValidationError("Invalid checkpoint", issues);
}

function assertPosition(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError("Invalid checkpoint", [
      { path: [what], message: `${what} must be a non-negative integer, got ${kindOf(value)}` },
    ]);
  }
}
