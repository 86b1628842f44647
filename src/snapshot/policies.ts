import { ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { kindOf } from "../internal/validate.js";

/** What a policy sees after a successful save. */
export interface SnapshotPolicyContext<A = unknown> {
  readonly aggregate: A;
  readonly streamId: string;
  /** The stream's version after the save. */
  readonly version: number;
  /** The version before it (0 for a new stream). */
  readonly previousVersion: number;
  /** The events just saved. */
  readonly events: readonly EventEnvelope[];
  /** Version of the newest snapshot this aggregate was loaded from or saved, 0 when none is known. */
  readonly lastSnapshotVersion: number;
  /** When that snapshot was taken (ms since the epoch), `undefined` when none is known. */
  readonly lastSnapshotAt: number | undefined;
  /** The repository's clock, ms since the epoch. */
  readonly now: number;
}

/** Decides after each successful save whether to take a snapshot. Any function of the context will do. */
export type SnapshotPolicy<A = unknown> = (context: SnapshotPolicyContext<A>) => boolean;

/**
 * Snapshot once `n` events have been saved since the last snapshot. An aggregate loaded without one
 * counts all its events, so a long stream is snapshotted at its next save.
 */
export function everyNEvents(n: number): SnapshotPolicy {
  assertPositive(n, "everyNEvents(n)", true);
  return (context) => context.version - context.lastSnapshotVersion >= n;
}

/**
 * Snapshot when the last snapshot is `ms` milliseconds old or older (its age compared with `>=`), or
 * when there is none. Combine it with {@link everyNEvents} through {@link allPolicies} to skip short
 * streams.
 */
export function olderThan(ms: number): SnapshotPolicy {
  assertPositive(ms, "olderThan(ms)", false);
  return (context) =>
    context.version > context.lastSnapshotVersion &&
    (context.lastSnapshotAt === undefined || context.now - context.lastSnapshotAt >= ms);
}

/** Snapshot when any of the policies says so. */
export function anyPolicy<A>(...policies: readonly SnapshotPolicy<A>[]): SnapshotPolicy<A> {
  assertPolicies(policies, "anyPolicy");
  return (context) => policies.some((policy, index) => answerOf(policy, context, "anyPolicy", index));
}

/** Snapshot when all of the policies say so. */
export function allPolicies<A>(...policies: readonly SnapshotPolicy<A>[]): SnapshotPolicy<A> {
  assertPolicies(policies, "allPolicies");
  return (context) => policies.every((policy, index) => answerOf(policy, context, "allPolicies", index));
}

/**
 * One member's answer. A combinator must not turn an answer that is not a boolean into one: an async
 * policy's promise is truthy, so `anyPolicy(async)` said yes after every save (and `allPolicies`
 * let the others decide) where the repository refuses that policy on its own. Throwing makes the
 * repository report it with operation "policy" and take no snapshot, as for a policy used alone.
 */
function answerOf<A>(policy: SnapshotPolicy<A>, context: SnapshotPolicyContext<A>, what: string, index: number) {
  const answer: unknown = policy(context);
  if (typeof answer === "boolean") return answer;
  const hint = answer instanceof Promise ? " (policies are synchronous)" : "";
  throw new ValidationError("Invalid snapshot policy", [
    { path: [index], message: `${what}'s policy ${index} returned ${kindOf(answer)}, not true or false${hint}` },
  ]);
}

function assertPositive(value: unknown, what: string, integer: boolean): void {
  const ok = typeof value === "number" && value > 0 && (integer ? Number.isSafeInteger(value) : Number.isFinite(value));
  if (!ok) {
    throw new ValidationError("Invalid snapshot policy", [
      { path: [], message: `${what} needs a positive ${integer ? "integer" : "number"}, got ${kindOf(value)}` },
    ]);
  }
}

function assertPolicies(policies: readonly unknown[], what: string): void {
  const bad = policies.findIndex((policy) => typeof policy !== "function");
  if (policies.length === 0 || bad >= 0) {
    throw new ValidationError("Invalid snapshot policy", [
      { path: bad >= 0 ? [bad] : [], message: `${what} takes one or more policy functions` },
    ]);
  }
}
