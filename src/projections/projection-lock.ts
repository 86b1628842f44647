import { assertCheckpointId } from "../checkpoint/checkpoint-store.js";
import type { Issue } from "../errors.js";
import { assertFunction, assertKnownOptions, assertPositiveInteger } from "../internal/validate.js";

/** The issue of a `lock` option that is given but no ProjectionLock (what runners and rebuilds call on it). */
export function lockIssues(lock: unknown): Issue[] {
  if (lock === undefined) return [];
  const given = lock as Partial<ProjectionLock> | null;
  if (typeof given?.acquire === "function" && typeof given.release === "function") return [];
  return [{ path: ["lock"], message: "lock must be a ProjectionLock" }];
}

/**
 * The lock port that keeps one runner per projection active across instances: a lease that an
 * owner takes, renews by acquiring again before it expires, and releases. An owner that dies
 * stops renewing, and its lease lapses after `ttlMs` (or sooner, where the backend notices). The
 * lock is an optimisation: checkpoints moved with compare-and-set keep a batch from being
 * applied twice even when two runners briefly overlap.
 */
export abstract class ProjectionLock {
  /**
   * Takes the lease on `name` for `owner`, or renews it when `owner` holds it already.
   * Resolves to whether `owner` holds it now.
   */
  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertCheckpointId(name);
    assertCheckpointId(owner);
    assertPositiveInteger(ttlMs, "ttlMs");
    return this.tryAcquire(name, owner, ttlMs);
  }

  /** Gives the lease up if `owner` holds it; otherwise does nothing. */
  async release(name: string, owner: string): Promise<void> {
    assertCheckpointId(name);
    assertCheckpointId(owner);
    return this.releaseLease(name, owner);
  }

  protected abstract tryAcquire(name: string, owner: string, ttlMs: number): Promise<boolean>;
  protected abstract releaseLease(name: string, owner: string): Promise<void>;
}

/**
 * Leases in memory: one process's runners compete for them (share one instance between them).
 * `now` is injectable so that tests can make leases lapse without waiting.
 */
export class InMemoryProjectionLock extends ProjectionLock {
  readonly #leases = new Map<string, { owner: string; until: number }>();
  readonly #now: () => number;

  constructor(options: { readonly now?: () => number } = {}) {
    super();
    // null options are the defaults; a clock that is not one is refused now, not a TypeError at the first lease.
    // A misspelt `now` was dropped for the real clock without a word.
    assertKnownOptions(options, ["now"], "in-memory projection lock options");
    const now = options?.now;
    assertFunction(now, "now", "in-memory projection lock options", false);
    this.#now = now ?? Date.now;
  }

  protected async tryAcquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const lease = this.#leases.get(name);
    if (lease !== undefined && lease.owner !== owner && lease.until > now) return false;
    this.#leases.set(name, { owner, until: now + ttlMs });
    return true;
  }

  protected async releaseLease(name: string, owner: string): Promise<void> {
    if (this.#leases.get(name)?.owner === owner) this.#leases.delete(name);
  }
}
