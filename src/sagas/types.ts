/** The records a {@link SagaStore} keeps: instances, their outbox and their timeouts. */

/**
 * Where an instance is in its life. `completed` and `compensated` are final: later events are not
 * applied. `needs-attention` is parked by the runtime after a command kept failing; an operator
 * resumes it (`SagaRuntime.resume`).
 */
export type SagaStatus = "running" | "compensating" | "completed" | "compensated" | "needs-attention";

/** A command decided by a step, saved with the step and dispatched after the save. */
export interface OutboxEntry {
  /** Deterministic: `<saga>/<key>/<step>` (`/c<n>` for a compensation), used as the command's id. */
  readonly id: string;
  readonly type: string;
  readonly payload: unknown;
  /** The event (or timeout) id whose handling decided it: the command's causation id. */
  readonly causationId: string;
  readonly compensation: boolean;
  /** The W3C trace context of the step that decided it (when traced): sent in the command's metadata. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** A compensating command a step registered, dispatched only if the saga compensates. */
export interface Compensation {
  readonly type: string;
  readonly payload: unknown;
}

/** Why an instance is parked in `needs-attention`, and where resuming it returns it to. */
export interface SagaAttention {
  /** The outbox entry that kept failing. */
  readonly entryId: string;
  readonly commandType: string;
  /** The last error's name and message (never its stack or payload). */
  readonly error: string;
  readonly attempts: number;
  /** ISO-8601 time it was parked. */
  readonly at: string;
  readonly resumeStatus: SagaStatus;
}

/** One saga instance as stored. */
export interface SagaRecord<State = unknown> {
  readonly saga: string;
  /** The correlation key the instance is found by. */
  readonly key: string;
  /** Optimistic-concurrency version: 1 after the first save. */
  readonly version: number;
  readonly state: State;
  readonly status: SagaStatus;
  /** Commands decided so far: the next deterministic command id's number. */
  readonly step: number;
  /** Registered compensations, oldest first; emptied once they are moved to the outbox. */
  readonly compensations: readonly Compensation[];
  /** Outbox entries not yet dispatched, in the order they were decided. */
  readonly outbox: readonly OutboxEntry[];
  readonly attention?: SagaAttention | undefined;
}

/** A timeout an instance scheduled. Scheduling a name again replaces the pending one. */
export interface SagaTimeout {
  /** Unique per scheduling: `<saga>/<key>/t/<name>/<version>` (`%` and `/` of the name escaped), the dedup id of its firing. */
  readonly id: string;
  readonly saga: string;
  readonly key: string;
  readonly name: string;
  /** Due time, milliseconds since the epoch. */
  readonly dueAt: number;
  readonly data: unknown;
}

/**
 * One atomic write: the instance's new state, the id of the event that caused it (deduplication),
 * new outbox entries and timeout changes. A store applies all of it or nothing.
 */
export interface SagaCommit {
  readonly saga: string;
  readonly key: string;
  /** The version loaded; 0 for a new instance. */
  readonly expectedVersion: number;
  readonly state: unknown;
  readonly status: SagaStatus;
  readonly step: number;
  readonly compensations: readonly Compensation[];
  /** Undefined clears it. */
  readonly attention?: SagaAttention | undefined;
  /** Recorded as handled in the same write; a second commit with the same id conflicts. */
  readonly handledId?: string;
  /** Appended to the outbox. */
  readonly outbox?: readonly OutboxEntry[];
  /** Scheduled (each replacing any pending timeout of the same name). */
  readonly schedule?: readonly SagaTimeout[];
  /** Names of pending timeouts to cancel. */
  readonly cancel?: readonly string[];
  /** The id of a timeout this commit is the firing of: removed, if it is still that one. */
  readonly firedTimeoutId?: string;
}

/** A step that failed: recorded with its event and instance, for operators. */
export interface SagaFailure {
  readonly saga: string;
  /** Absent when the event could not be correlated. */
  readonly key?: string | undefined;
  readonly eventId: string;
  readonly eventType: string;
  /** The error's name, code (if any) and message. */
  readonly error: string;
  /** ISO-8601. */
  readonly at: string;
}

/** A failed step as the runtime's error hook sees it: the saga, the instance (if known), the event, the error. */
export interface SagaFailureReport {
  readonly saga: string;
  readonly key: string | undefined;
  /** The event (or fired timeout, or outbox command) the failure happened on. */
  readonly event: { readonly id: string; readonly type: string };
  readonly error: unknown;
}

export interface ClaimDueTimeoutsOptions {
  /** Milliseconds since the epoch: timeouts due at or before it are claimed. */
  readonly now: number;
  /** Who claims: another owner cannot claim them until the lease expires. */
  readonly owner: string;
  /** How long the claim holds, in milliseconds. */
  readonly leaseMs: number;
  /** At most this many. */
  readonly limit: number;
  /**
   * Only the timeouts of these sagas (all when absent): a runtime claims those it can fire, so it holds
   * no other deployment's timeouts under its lease nor spends its `limit` on them.
   */
  readonly sagas?: readonly string[];
}

export interface NextDueAtOptions {
  /**
   * Only the timeouts of these sagas (all when absent): the runtime asks for those it can fire, so an
   * alarm driver does not wake for another deployment's overdue timeout sharing the store.
   */
  readonly sagas?: readonly string[];
}

export interface ListSagasOptions {
  readonly saga?: string;
  readonly status?: SagaStatus;
  /** Only instances with undispatched outbox entries (what a restart re-drives). */
  readonly pendingOutbox?: boolean;
  /** At most this many; defaults to 100. */
  readonly limit?: number;
}

/** Statuses after which events are no longer applied. */
export const FINAL_STATUSES: ReadonlySet<SagaStatus> = new Set(["completed", "compensated"]);
