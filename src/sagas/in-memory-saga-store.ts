import { SagaStore, sagaConflict } from "./saga-store.js";
import {
  type ClaimDueTimeoutsOptions,
  FINAL_STATUSES,
  type ListSagasOptions,
  type OutboxEntry,
  type SagaCommit,
  type SagaFailure,
  type SagaRecord,
  type SagaTimeout,
} from "./types.js";

interface Instance {
  record: SagaRecord;
  readonly handled: Set<string>;
}

interface Pending {
  readonly timeout: SagaTimeout;
  owner?: string;
  leaseUntil: number;
}

// Records are copied in and out through JSON (the base class has checked they are JSON), so a
// caller mutating what it loaded cannot change the store behind its back.
const copy = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * The reference saga store, in memory: for tests and single-process apps. Every method runs
 * without awaiting in between, so each commit and each claim is atomic within the process.
 */
export class InMemorySagaStore extends SagaStore {
  readonly #instances = new Map<string, Instance>();
  readonly #timeouts = new Map<string, Pending>();
  // Per instance, its pending timeouts by name: a commit touches its own, whatever the total.
  readonly #timeoutsOf = new Map<string, Map<string, string>>();
  readonly #failures: SagaFailure[] = [];

  protected async readInstance(saga: string, key: string): Promise<SagaRecord | undefined> {
    return copy(this.#instances.get(idOf(saga, key))?.record);
  }

  protected async readHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    return this.#instances.get(idOf(saga, key))?.handled.has(handledId) ?? false;
  }

  protected async writeCommit(commit: SagaCommit): Promise<number> {
    const id = idOf(commit.saga, commit.key);
    const current = this.#instances.get(id);
    const version = current?.record.version ?? 0;
    if (version !== commit.expectedVersion)
      throw sagaConflict(commit.saga, commit.key, commit.expectedVersion, version);
    if (commit.handledId !== undefined && current?.handled.has(commit.handledId)) {
      throw sagaConflict(commit.saga, commit.key, commit.expectedVersion, version);
    }
    const outbox: OutboxEntry[] = [...(current?.record.outbox ?? []), ...copy(commit.outbox ?? [])];
    const record: SagaRecord = {
      saga: commit.saga,
      key: commit.key,
      version: version + 1,
      state: copy(commit.state),
      status: commit.status,
      step: commit.step,
      compensations: copy(commit.compensations),
      outbox,
      attention: copy(commit.attention),
    };
    const instance = current ?? { record, handled: new Set<string>() };
    instance.record = record;
    if (commit.handledId !== undefined) instance.handled.add(commit.handledId);
    this.#instances.set(id, instance);
    if (commit.firedTimeoutId !== undefined) this.#removeTimeout(commit.firedTimeoutId);
    const pending = this.#timeoutsOf.get(id);
    if (pending !== undefined) {
      // A final instance fires nothing more; otherwise cancelled and rescheduled names go.
      const names = FINAL_STATUSES.has(commit.status)
        ? [...pending.keys()]
        : [...(commit.cancel ?? []), ...(commit.schedule ?? []).map((t) => t.name)];
      for (const name of names) {
        const timeoutId = pending.get(name);
        if (timeoutId !== undefined) this.#removeTimeout(timeoutId);
      }
    }
    if (!FINAL_STATUSES.has(commit.status)) {
      for (const timeout of commit.schedule ?? []) {
        this.#timeouts.set(timeout.id, { timeout: copy(timeout), leaseUntil: 0 });
        const byName = this.#timeoutsOf.get(id) ?? new Map<string, string>();
        byName.set(timeout.name, timeout.id);
        this.#timeoutsOf.set(id, byName);
      }
    }
    return version + 1;
  }

  protected async writeDispatched(saga: string, key: string, entryId: string): Promise<void> {
    const instance = this.#instances.get(idOf(saga, key));
    if (instance === undefined) return;
    instance.record = { ...instance.record, outbox: instance.record.outbox.filter((entry) => entry.id !== entryId) };
  }

  protected async claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const due = [...this.#timeouts.values()]
      .filter((p) => p.timeout.dueAt <= options.now && (p.owner === undefined || p.leaseUntil <= options.now))
      .sort((a, b) => a.timeout.dueAt - b.timeout.dueAt)
      .slice(0, options.limit);
    for (const pending of due) {
      pending.owner = options.owner;
      pending.leaseUntil = options.now + options.leaseMs;
    }
    return due.map((pending) => copy(pending.timeout));
  }

  protected override async readNextDue(): Promise<number | undefined> {
    let next: number | undefined;
    for (const { timeout, owner, leaseUntil } of this.#timeouts.values()) {
      const at = owner === undefined ? timeout.dueAt : Math.max(timeout.dueAt, leaseUntil);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  protected async deleteTimeout(timeoutId: string): Promise<void> {
    this.#removeTimeout(timeoutId);
  }

  #removeTimeout(timeoutId: string): void {
    const pending = this.#timeouts.get(timeoutId);
    if (pending === undefined) return;
    this.#timeouts.delete(timeoutId);
    const instance = idOf(pending.timeout.saga, pending.timeout.key);
    const byName = this.#timeoutsOf.get(instance);
    if (byName?.get(pending.timeout.name) === timeoutId) byName.delete(pending.timeout.name);
    if (byName?.size === 0) this.#timeoutsOf.delete(instance);
  }

  protected async listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]> {
    const found: SagaRecord[] = [];
    for (const { record } of this.#instances.values()) {
      if (options.saga !== undefined && record.saga !== options.saga) continue;
      if (options.status !== undefined && record.status !== options.status) continue;
      if (options.pendingOutbox === true && record.outbox.length === 0) continue;
      found.push(copy(record));
      if (found.length >= options.limit) break;
    }
    return found;
  }

  protected async writeFailure(failure: SagaFailure): Promise<void> {
    this.#failures.push(copy(failure));
  }

  protected async readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]> {
    return this.#failures.filter((f) => saga === undefined || f.saga === saga).slice(0, limit);
  }
}

// A separator no saga name contains unescaped: names may hold "/", so the key is JSON.
const idOf = (saga: string, key: string) => JSON.stringify([saga, key]);
