import { ConcurrencyError, type Issue, PayloadTooLargeError, ValidationError } from "../errors.js";
import { jsonIssues, utf8Length } from "../internal/json.js";
import { integerOptionIssues, kindOf, MAX_TYPE_LENGTH, nameIssues } from "../internal/validate.js";
import type {
  ClaimDueTimeoutsOptions,
  ListSagasOptions,
  SagaCommit,
  SagaFailure,
  SagaRecord,
  SagaTimeout,
} from "./types.js";

/** Longest saga name or correlation key accepted, in characters. */
export const MAX_SAGA_KEY_LENGTH = 512;
/** Default cap on a saga's serialized state, in bytes: well inside a DynamoDB item (400 KB). */
export const DEFAULT_MAX_SAGA_STATE_BYTES = 262_144;

export interface SagaStoreOptions {
  /** Largest state accepted, in UTF-8 bytes of its JSON. Defaults to {@link DEFAULT_MAX_SAGA_STATE_BYTES}. */
  readonly maxStateBytes?: number;
}

/**
 * The saga store port: instances with optimistic concurrency, the ids of what each has handled,
 * its outbox and its due timeouts. This base checks every input, so each adapter refuses the same
 * mistakes with the same errors before writing; subclasses implement storage, and must apply a
 * commit (state, handled id, outbox, timeouts) as one atomic write.
 */
export abstract class SagaStore {
  readonly maxStateBytes: number;

  constructor(options: SagaStoreOptions = {}) {
    const issues = integerOptionIssues(options.maxStateBytes, "maxStateBytes", 64 * 1024 * 1024);
    if (issues.length > 0) throw new ValidationError("Invalid saga store options", issues);
    this.maxStateBytes = options.maxStateBytes ?? DEFAULT_MAX_SAGA_STATE_BYTES;
  }

  /** The instance, with its undispatched outbox, or undefined. */
  async load(saga: string, key: string): Promise<SagaRecord | undefined> {
    assertSagaKey(saga, key);
    return this.readInstance(saga, key);
  }

  /** Whether the instance has committed with this handled id (an event id or a timeout id). */
  async hasHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    assertSagaKey(saga, key);
    return this.readHandled(saga, key, handledId);
  }

  /**
   * Saves a step atomically.
   * @throws {ValidationError} a bad name, a state or payload that is not JSON; nothing is written.
   * @throws {PayloadTooLargeError} the state is over `maxStateBytes`; nothing is written.
   * @throws {ConcurrencyError} the instance is not at `expectedVersion`, or `handledId` was
   *   handled already; nothing is written.
   * @returns the new version.
   */
  async commit(commit: SagaCommit): Promise<number> {
    this.check(commit);
    return this.writeCommit(commit);
  }

  /** Checks a commit as {@link commit} does, without writing: for callers that want the error early. */
  check(commit: SagaCommit): void {
    assertSagaKey(commit.saga, commit.key);
    const issues: Issue[] = [];
    if (!Number.isSafeInteger(commit.expectedVersion) || commit.expectedVersion < 0) {
      issues.push({
        path: ["expectedVersion"],
        message: `must be a non-negative integer, got ${kindOf(commit.expectedVersion)}`,
      });
    }
    issues.push(...jsonIssues(commit.state, ["state"]));
    for (const [i, entry] of (commit.outbox ?? []).entries()) {
      issues.push(...nameIssues(entry.type, "command type", MAX_TYPE_LENGTH, ["outbox", i, "type"]));
      issues.push(...jsonIssues(entry.payload, ["outbox", i, "payload"]));
    }
    for (const [i, compensation] of commit.compensations.entries()) {
      issues.push(...nameIssues(compensation.type, "command type", MAX_TYPE_LENGTH, ["compensations", i, "type"]));
      issues.push(...jsonIssues(compensation.payload, ["compensations", i, "payload"]));
    }
    for (const [i, timeout] of (commit.schedule ?? []).entries()) {
      issues.push(...nameIssues(timeout.name, "timeout name", MAX_TYPE_LENGTH, ["schedule", i, "name"]));
      if (!Number.isFinite(timeout.dueAt)) {
        issues.push({ path: ["schedule", i, "dueAt"], message: `must be a finite time, got ${kindOf(timeout.dueAt)}` });
      }
      issues.push(...jsonIssues(timeout.data, ["schedule", i, "data"]));
    }
    if (issues.length > 0) throw new ValidationError(`Invalid saga step for "${commit.saga}" "${commit.key}"`, issues);
    const size = utf8Length(JSON.stringify(commit.state) ?? "");
    if (size > this.maxStateBytes) {
      throw new PayloadTooLargeError(`The state of saga "${commit.saga}" "${commit.key}"`, size, this.maxStateBytes);
    }
  }

  /** Marks an outbox entry dispatched; it is no longer loaded. Marking twice is harmless. */
  async markDispatched(saga: string, key: string, entryId: string): Promise<void> {
    assertSagaKey(saga, key);
    return this.writeDispatched(saga, key, entryId);
  }

  /**
   * Claims timeouts due at `now` that no one holds (or whose lease expired), for `leaseMs`, so
   * competing schedulers each fire a different one. Oldest due first.
   */
  async claimDueTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const issues = [
      ...(Number.isFinite(options.now) ? [] : [{ path: ["now"], message: "must be a finite time" }]),
      ...nameIssues(options.owner, "owner", MAX_SAGA_KEY_LENGTH, ["owner"]),
      ...integerOptionIssues(options.leaseMs, "leaseMs", 24 * 60 * 60 * 1000),
      ...integerOptionIssues(options.limit, "limit", 10_000),
    ];
    if (issues.length > 0) throw new ValidationError("Invalid timeout claim", issues);
    return this.claimTimeouts(options);
  }

  /**
   * When a pending timeout can next be claimed: the earliest due time, or a held timeout's lease
   * end if later; undefined when none is pending. For drivers that sleep until then (a Durable
   * Object alarm). A store that cannot tell answers undefined, and such drivers wake on their own
   * period instead.
   */
  async nextDueAt(): Promise<number | undefined> {
    return this.readNextDue();
  }

  /** Removes a timeout without firing it (its instance is gone or final). */
  async dropTimeout(timeoutId: string): Promise<void> {
    return this.deleteTimeout(timeoutId);
  }

  /** Instances by saga, status or pending outbox, oldest first. */
  async list(options: ListSagasOptions = {}): Promise<SagaRecord[]> {
    const issues = integerOptionIssues(options.limit, "limit", 10_000);
    if (issues.length > 0) throw new ValidationError("Invalid saga listing", issues);
    return this.listInstances({ ...options, limit: options.limit ?? 100 });
  }

  /** Records a failed step for operators. */
  async recordFailure(failure: SagaFailure): Promise<void> {
    return this.writeFailure(failure);
  }

  /** Recorded failures, oldest first: at most `limit` (an integer from 1 to 10,000; default 100). */
  async failures(options: { readonly saga?: string; readonly limit?: number } = {}): Promise<SagaFailure[]> {
    const issues = integerOptionIssues(options.limit, "limit", 10_000);
    if (issues.length > 0) throw new ValidationError("Invalid saga failure listing", issues);
    return this.readFailures(options.saga, options.limit ?? 100);
  }

  protected abstract readInstance(saga: string, key: string): Promise<SagaRecord | undefined>;
  protected abstract readHandled(saga: string, key: string, handledId: string): Promise<boolean>;
  /** Applies the whole commit atomically or throws {@link sagaConflict} with nothing written. */
  protected abstract writeCommit(commit: SagaCommit): Promise<number>;
  protected abstract writeDispatched(saga: string, key: string, entryId: string): Promise<void>;
  protected abstract claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]>;
  protected abstract deleteTimeout(timeoutId: string): Promise<void>;
  /** See {@link nextDueAt}; by default the store cannot tell. */
  protected async readNextDue(): Promise<number | undefined> {
    return undefined;
  }
  protected abstract listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]>;
  protected abstract writeFailure(failure: SagaFailure): Promise<void>;
  protected abstract readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]>;
}

/** The error a lost race raises; adapters call this so every store reports it alike. */
export function sagaConflict(saga: string, key: string, expected: number, actual: number): ConcurrencyError {
  return new ConcurrencyError(`${saga}/${key}`, expected, actual, {
    subject: "Saga",
    hint: "another delivery changed this instance, or already handled this event; load it again and decide again",
  });
}

export function sagaKeyIssues(saga: unknown, key: unknown): Issue[] {
  return [
    ...nameIssues(saga, "saga name", MAX_SAGA_KEY_LENGTH, ["saga"]),
    ...nameIssues(key, "correlation key", MAX_SAGA_KEY_LENGTH, ["key"]),
  ];
}

function assertSagaKey(saga: unknown, key: unknown): void {
  const issues = sagaKeyIssues(saga, key);
  if (issues.length > 0) throw new ValidationError("Invalid saga instance", issues);
}
