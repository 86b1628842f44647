import { knownOptions } from "../internal/validate.js";
import { outboxEntryInUse, SAGA_STORE_OPTIONS, SagaStore, type SagaStoreOptions, sagaConflict } from "./saga-store.js";
import {
  type ClaimDueTimeoutsOptions,
  FINAL_STATUSES,
  type ListSagasOptions,
  type SagaCommit,
  type SagaFailure,
  type SagaRecord,
  type SagaTimeout,
} from "./types.js";

interface Instance {
  record: SagaRecord;
  // The record's JSON, made once per write: a load is one parse, not a stringify and a parse.
  json: string | undefined;
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

/** A copy of the instance's record, from its JSON (made again only after the record changed). */
function loaded(instance: Instance): SagaRecord {
  instance.json ??= JSON.stringify(instance.record);
  return JSON.parse(instance.json) as SagaRecord;
}

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

  constructor(options: SagaStoreOptions = {}) {
    super(knownOptions(options, Object.keys(SAGA_STORE_OPTIONS), "in-memory saga store options"));
  }

  protected async readInstance(saga: string, key: string): Promise<SagaRecord | undefined> {
    const instance = this.#instances.get(idOf(saga, key));
    return instance === undefined ? undefined : loaded(instance);
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
    for (const entry of commit.outbox ?? []) {
      if (current?.record.outbox.some((pending) => pending.id === entry.id)) {
        throw outboxEntryInUse(commit.saga, commit.key, entry.id);
      }
    }
    // One JSON round trip copies everything the caller passed (state, compensations, new outbox
    // entries, attention) and gives the text the next load parses.
    const json = JSON.stringify({
      saga: commit.saga,
      key: commit.key,
      version: version + 1,
      state: commit.state,
      status: commit.status,
      step: commit.step,
      compensations: commit.compensations,
      outbox: current === undefined ? (commit.outbox ?? []) : [...current.record.outbox, ...(commit.outbox ?? [])],
      attention: commit.attention,
    } satisfies SagaRecord);
    const record = JSON.parse(json) as SagaRecord;
    const instance = current ?? { record, json, handled: new Set<string>() };
    instance.record = record;
    instance.json = json;
    if (commit.handledId !== undefined) instance.handled.add(commit.handledId);
    this.#instances.set(id, instance);
    // Only the instance's own: an id is no proof of whose it is.
    const fired = commit.firedTimeoutId === undefined ? undefined : this.#timeouts.get(commit.firedTimeoutId);
    if (fired !== undefined && idOf(fired.timeout.saga, fired.timeout.key) === id) {
      this.#removeTimeout(fired.timeout.id);
    }
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
    instance.json = undefined;
  }

  protected async claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const sagas = options.sagas === undefined ? undefined : new Set(options.sagas);
    const due = [...this.#timeouts.values()]
      .filter((p) => p.timeout.dueAt <= options.now && (p.owner === undefined || p.leaseUntil <= options.now))
      .filter((p) => sagas === undefined || sagas.has(p.timeout.saga))
      .sort((a, b) => a.timeout.dueAt - b.timeout.dueAt)
      .slice(0, options.limit);
    for (const pending of due) {
      pending.owner = options.owner;
      pending.leaseUntil = options.now + options.leaseMs;
    }
    return due.map((pending) => copy(pending.timeout));
  }

  protected override async readNextDue(sagas: readonly string[] | undefined): Promise<number | undefined> {
    const only = sagas === undefined ? undefined : new Set(sagas);
    let next: number | undefined;
    for (const { timeout, owner, leaseUntil } of this.#timeouts.values()) {
      if (only !== undefined && !only.has(timeout.saga)) continue;
      const at = owner === undefined ? timeout.dueAt : Math.max(timeout.dueAt, leaseUntil);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  protected override async readTimeoutPending(
    saga: string,
    key: string,
    timeoutId: string,
  ): Promise<boolean | undefined> {
    const pending = this.#timeouts.get(timeoutId);
    return pending !== undefined && idOf(pending.timeout.saga, pending.timeout.key) === idOf(saga, key);
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
    for (const instance of this.#instances.values()) {
      const { record } = instance;
      if (options.saga !== undefined && record.saga !== options.saga) continue;
      if (options.status !== undefined && record.status !== options.status) continue;
      if (options.pendingOutbox === true && record.outbox.length === 0) continue;
      found.push(loaded(instance));
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

// Names may hold "/": the saga name's length first makes every (saga, key) pair's id its own.
const idOf = (saga: string, key: string) => `${saga.length}:${saga}/${key}`;
