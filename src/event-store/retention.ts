import { type EventFlowsError, type Issue, isEventFlowsError, ValidationError } from "../errors.js";
import { categoryOf, categorySeparatorIssue } from "../events/stream.js";
import { assertKnownOptions, assertObject, kindOf, unknownKeyIssues } from "../internal/validate.js";
import { throwIfAborted } from "../projections/progress.js";
import type { SnapshotStore } from "../snapshot/snapshot-store.js";
import { assertEventStore, type EventStore } from "./event-store.js";
import type { StreamChangeResult } from "./stream-deletion.js";

/** What a category keeps. Give one or both. */
export interface RetentionRule {
  /**
   * A stream whose newest event is older than this many milliseconds is hard-deleted (its events
   * removed, a `$stream-deleted` event recorded), along with its snapshots.
   */
  readonly maxAgeMs?: number;
  /** A stream keeps its newest `keepLast` events: older ones are removed (`truncateStream`). At least 1. */
  readonly keepLast?: number;
}

/** Retention rules by stream category (`Cart` for `Cart-01J...`). Categories not named are never touched. */
export type RetentionPolicies = Readonly<Record<string, RetentionRule>>;

/**
 * Declares retention rules per category, checked once here (and again by {@link applyRetention}, for policies written
 * as a literal).
 * @throws {ValidationError} a rule with neither limit, a limit that is not a positive integer, a key a rule does not
 * take (a misspelt `maxAgeMS` beside `keepLast` would keep expired streams for good), or a category that is a `$`
 * system stream or holds a `-` (a category ends at a stream id's first `-`: it would match no stream).
 */
export function retention(policies: Record<string, RetentionRule>): RetentionPolicies {
  const issues: Issue[] = [];
  if (typeof policies !== "object" || policies === null) {
    throw new ValidationError("Invalid retention policies", [
      { path: [], message: `expected an object of rules by category, got ${kindOf(policies)}` },
    ]);
  }
  for (const [category, rule] of Object.entries(policies)) {
    if (category === "" || category.startsWith("$")) {
      issues.push({ path: [category], message: "a category is a non-empty name, not a $ system stream" });
    }
    const separator = categorySeparatorIssue(category, "it would match no stream");
    if (separator !== undefined) issues.push({ path: [category], message: separator });
    if (typeof rule !== "object" || rule === null) {
      issues.push({ path: [category], message: `a rule is an object, got ${kindOf(rule)}` });
      continue;
    }
    issues.push(...unknownKeyIssues(rule, RULE_KEYS, [category]));
    if (rule.maxAgeMs === undefined && rule.keepLast === undefined) {
      issues.push({ path: [category], message: "a rule needs maxAgeMs, keepLast or both" });
    }
    for (const key of ["maxAgeMs", "keepLast"] as const) {
      const value = rule[key];
      if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)) {
        issues.push({ path: [category, key], message: `${key} must be a positive integer, got ${kindOf(value)}` });
      }
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid retention policies", issues);
  // Without a prototype: a stream's category is looked up here, and `constructor-1`'s must find no rule.
  const checked: Record<string, RetentionRule> = Object.create(null);
  for (const [category, rule] of Object.entries(policies)) checked[category] = Object.freeze({ ...rule });
  return Object.freeze(checked);
}

const RULE_KEYS = ["maxAgeMs", "keepLast"];
const APPLY_OPTIONS = ["store", "policies", "snapshots", "now", "signal"];

export interface ApplyRetentionOptions {
  readonly store: EventStore;
  readonly policies: RetentionPolicies;
  /** Their snapshots are deleted with hard-deleted streams, and when a truncation passed the newest one. */
  readonly snapshots?: SnapshotStore;
  /** The time ages are measured from; defaults to now. */
  readonly now?: Date;
  /** Stops the run (an `AbortedError`) while it reads the feed or between streams; what was done stays done. */
  readonly signal?: AbortSignal;
}

/** A stream retention left alone this run, and why (the error's code: a concurrent append, a deletion). */
export interface RetentionSkip {
  readonly streamId: string;
  readonly code: string;
}

/** What one `applyRetention` run did. */
export interface RetentionReport {
  /** Streams of the named categories seen (soft-deleted streams are not seen: they are hidden). */
  readonly scanned: number;
  readonly deleted: readonly StreamChangeResult[];
  readonly truncated: readonly StreamChangeResult[];
  /** Snapshots deleted with them. */
  readonly snapshotsDeleted: number;
  readonly skipped: readonly RetentionSkip[];
}

interface StreamSummary {
  version: number;
  newest: string;
}

/**
 * Applies retention rules once: call it from a timer or a cron job (a scheduled Worker, an
 * EventBridge schedule). It reads the feed to find the streams of the named categories, then
 * hard-deletes those past `maxAgeMs` and truncates those over `keepLast`, each with the version it
 * saw as the expected version: a stream appended to meanwhile is skipped (`CONCURRENCY_CONFLICT`)
 * and taken up by the next run. Streams of other categories and the `$` system streams are never
 * touched. Running it again right away changes nothing.
 * @throws {ValidationError} no options, a store that is no event store, an option it does not take, or
 *   policies {@link retention} refuses.
 * @throws {StreamDeletionNotSupportedError} the store has no stream deletion.
 * @throws {AbortedError} `signal` fired; the changes made before it stay made.
 */
export async function applyRetention(options: ApplyRetentionOptions): Promise<RetentionReport> {
  assertObject(options, [], "retention options");
  // A misspelt `snapshots` would hard-delete streams and leave their snapshots, personal data included.
  assertKnownOptions(options, APPLY_OPTIONS, "retention options");
  const { store, snapshots, signal } = options;
  assertEventStore(store, "store", "Invalid retention options");
  const policies = retention(options.policies);
  const now = (options.now ?? new Date()).getTime();
  const streams = await summarize(store, policies, signal);
  const deleted: StreamChangeResult[] = [];
  const truncated: StreamChangeResult[] = [];
  const skipped: RetentionSkip[] = [];
  let snapshotsDeleted = 0;
  for (const [streamId, summary] of streams) {
    throwIfAborted(signal, "applyRetention");
    const rule = policies[categoryOf(streamId)] as RetentionRule;
    const expectedVersion = summary.version;
    try {
      if (rule.maxAgeMs !== undefined && now - Date.parse(summary.newest) > rule.maxAgeMs) {
        deleted.push(await store.deleteStream(streamId, { mode: "hard", expectedVersion }));
        if (snapshots !== undefined) snapshotsDeleted += await snapshots.delete(streamId);
        continue;
      }
      if (rule.keepLast !== undefined && summary.version > rule.keepLast) {
        const before = summary.version - rule.keepLast + 1;
        const result = await store.truncateStream(streamId, { before, expectedVersion });
        if (result.changed) truncated.push(result);
        if (snapshots !== undefined) snapshotsDeleted += await dropStaleSnapshots(snapshots, streamId, before);
      }
    } catch (error) {
      if (!isEventFlowsError(error) || isUnsupported(error)) throw error;
      skipped.push({ streamId, code: error.code });
    }
  }
  return { scanned: streams.size, deleted, truncated, snapshotsDeleted, skipped };
}

function isUnsupported(error: EventFlowsError): boolean {
  return error.code === "STREAM_DELETION_NOT_SUPPORTED";
}

/** Each stream of a named category: its version and the time of its newest event, from one pass over the feed. */
async function summarize(
  store: EventStore,
  policies: RetentionPolicies,
  signal: AbortSignal | undefined,
): Promise<Map<string, StreamSummary>> {
  const streams = new Map<string, StreamSummary>();
  for await (const event of store.readAll({ raw: true })) {
    if (policies[categoryOf(event.streamId)] === undefined || event.streamId.startsWith("$")) continue;
    throwIfAborted(signal, "applyRetention");
    const summary = streams.get(event.streamId);
    if (summary === undefined) streams.set(event.streamId, { version: event.version, newest: event.timestamp });
    else if (event.version > summary.version) {
      summary.version = event.version;
      summary.newest = event.timestamp;
    }
  }
  return streams;
}

/**
 * After a truncation before `before`: the newest snapshot still works when it is at `before - 1` or
 * later (the events after it are kept). An older one would be followed by removed events, so the
 * stream's snapshots are deleted and the next save writes a fresh one.
 */
async function dropStaleSnapshots(snapshots: SnapshotStore, streamId: string, before: number): Promise<number> {
  const newest = await snapshots.load(streamId);
  if (newest === undefined || newest.version >= before - 1) return 0;
  return snapshots.delete(streamId);
}
