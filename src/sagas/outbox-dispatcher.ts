import { isConcurrencyError, SagaStepTimeoutError } from "../errors.js";
import { sleep } from "../internal/sleep.js";
import { STUCK, within } from "../internal/within.js";
import type { ExecuteOptions } from "../messaging/message.js";
import { carry, describe } from "./records.js";
import type { SagaStore } from "./saga-store.js";
import type { OutboxEntry, SagaFailureReport, SagaRecord } from "./types.js";

/** What the runtime dispatches commands through: a `CommandBus`, or anything with its `execute`. */
export interface CommandDispatcher {
  execute(type: string, payload: unknown, options?: ExecuteOptions): Promise<unknown>;
}

export interface OutboxDispatcherOptions {
  readonly store: SagaStore;
  readonly commands: CommandDispatcher;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  /** How long one attempt at a command is waited for: past it, the attempt failed (the runtime's leaseMs). */
  readonly commandTimeoutMs: number;
  readonly now: () => number;
  readonly report: (failure: SagaFailureReport) => Promise<void>;
}

/** A step saving commands (see `OutboxDispatcher.saving`): stale once a loop for its instance has ended since. */
export interface SavingStep {
  stale: boolean;
}

/**
 * Dispatches an instance's outbox in order, each command under its deterministic id (so a command
 * handler that deduplicates by message id applies it once even if a crash makes us send it again),
 * marking each done after it succeeded. A command that fails `maxAttempts` times parks the
 * instance in `needs-attention` and stops there: later commands wait for an operator's `resume`.
 */
export class OutboxDispatcher {
  // Per instance, one dispatch loop at a time in this process, reading the outbox afresh on each
  // pass: two steps of one instance finishing together send each command once. A step that
  // finishes while the loop runs (its command's handler raised the event that caused the step,
  // say) asks for one more pass instead of waiting for the loop, which is waiting for it.
  // By saga, then key: no id string is built (and hashed) per step.
  readonly #running = new Map<string, Map<string, { again: boolean }>>();
  // Per instance, the steps of this process between saving commands and dispatching them. A loop for the
  // instance that ends meanwhile (a redelivery's, a re-drive's) may have read that save and sent them: such a
  // step then reads its outbox back rather than send the copy it saved a second time.
  readonly #saving = new Map<string, Map<string, Set<SavingStep>>>();

  constructor(private readonly options: OutboxDispatcherOptions) {}

  /** Marks a step about to save commands: hand the mark to `dispatch` once saved, or to `unmark` if not. */
  saving(saga: string, key: string): SavingStep {
    const savingOfSaga = ofSaga(this.#saving, saga);
    let steps = savingOfSaga.get(key);
    if (steps === undefined) {
      steps = new Set();
      savingOfSaga.set(key, steps);
    }
    const mark = { stale: false };
    steps.add(mark);
    return mark;
  }

  /** The step's save is over (dispatched, or nothing saved): its mark goes. */
  unmark(saga: string, key: string, mark: SavingStep): void {
    const savingOfSaga = this.#saving.get(saga);
    const steps = savingOfSaga?.get(key);
    if (steps === undefined || !steps.delete(mark) || steps.size > 0) return;
    savingOfSaga?.delete(key);
    if (savingOfSaga?.size === 0) this.#saving.delete(saga);
  }

  /**
   * Dispatches the instance's outbox as stored now; returns the instance as it ends up, or
   * undefined when a loop already running for it in this process will do it. `saved` (with the
   * step's `mark`) is the instance as a step just saved it, used unless a loop ended since the mark.
   */
  async dispatch(saga: string, key: string, saved?: SagaRecord, mark?: SavingStep): Promise<SagaRecord | undefined> {
    if (mark !== undefined) this.unmark(saga, key, mark);
    const runningOfSaga = ofSaga(this.#running, saga);
    const running = runningOfSaga.get(key);
    if (running !== undefined) {
      running.again = true;
      return undefined;
    }
    const loop = { again: true };
    runningOfSaga.set(key, loop);
    // `saved` is the instance as a step just saved it: the first pass need not read it back.
    let known = mark?.stale === true ? undefined : saved;
    try {
      let result: SagaRecord | undefined;
      while (loop.again) {
        loop.again = false;
        const record = known ?? (await this.options.store.load(saga, key));
        known = undefined;
        // The outbox is sent here, not in a method of its own: one async layer less on every step.
        if (record === undefined || record.status === "needs-attention") {
          result = record;
          continue;
        }
        let failed: { readonly entry: OutboxEntry; readonly error: unknown } | undefined;
        for (const entry of record.outbox) {
          try {
            await this.#execute(record, entry);
          } catch (error) {
            failed = await this.#retry(record, entry, error);
            if (failed !== undefined) break;
          }
          await this.options.store.markDispatched(saga, key, entry.id);
        }
        if (failed !== undefined) result = await this.#park(record, failed.entry.id, failed.entry.type, failed.error);
        else if (record.status !== "compensating") result = { ...record, outbox: [] };
        else result = await this.#finishCompensation(record);
      }
      return result;
    } finally {
      runningOfSaga.delete(key);
      for (const step of this.#saving.get(saga)?.get(key) ?? []) step.stale = true;
    }
  }

  /**
   * One attempt at a command, failed with a SagaStepTimeoutError when it does not answer within
   * `commandTimeoutMs`: a command bus that never answers would hold this instance's dispatch loop, and
   * with it every later command of the instance in this process, for ever. A late answer is ignored;
   * the retry goes under the same id, so a handler that deduplicates applies it once.
   */
  async #execute(record: SagaRecord, entry: OutboxEntry): Promise<void> {
    const sent = this.options.commands.execute(entry.type, entry.payload, this.#options(record, entry));
    if (typeof (sent as PromiseLike<unknown> | undefined)?.then !== "function") return;
    // Promise.resolve: a thenable whose `then` throws is a rejection here, as under Promise.race.
    const ms = this.options.commandTimeoutMs;
    if ((await within(Promise.resolve(sent), ms)) === STUCK) {
      throw new SagaStepTimeoutError(record.saga, record.key, `command:${entry.type}`, entry.id, ms);
    }
  }

  // Fresh per attempt: a handler that changes what it was given cannot change the retry.
  #options(record: SagaRecord, entry: OutboxEntry): ExecuteOptions {
    const metadata: Record<string, string> = {
      correlationId: `${record.saga}/${record.key}`,
      causationId: entry.causationId,
    };
    // The decision's trace: a command re-driven after a crash still joins it.
    if (entry.traceparent !== undefined) metadata.traceparent = entry.traceparent;
    if (entry.tracestate !== undefined) metadata.tracestate = entry.tracestate;
    return { id: entry.id, metadata };
  }

  /** The attempts after a command's first failure; the entry and the last error once all failed (reported). */
  async #retry(
    record: SagaRecord,
    entry: OutboxEntry,
    first: unknown,
  ): Promise<{ readonly entry: OutboxEntry; readonly error: unknown } | undefined> {
    let lastError = first;
    for (let attempt = 2; attempt <= this.options.maxAttempts; attempt++) {
      await sleep(this.options.retryDelayMs);
      try {
        await this.#execute(record, entry);
        return undefined;
      } catch (error) {
        lastError = error;
      }
    }
    await this.options.report({
      saga: record.saga,
      key: record.key,
      event: { id: entry.id, type: entry.type },
      error: lastError,
    });
    return { entry, error: lastError };
  }

  // Parking and finishing are status changes only: retried on a conflict from a concurrent step.
  async #park(loaded: SagaRecord, entryId: string, commandType: string, error: unknown): Promise<SagaRecord> {
    let record = loaded;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (record.status === "needs-attention") return record;
      const attention = {
        entryId,
        commandType,
        error: describe(error),
        attempts: this.options.maxAttempts,
        at: new Date(this.options.now()).toISOString(),
        resumeStatus: record.status,
      };
      try {
        await this.options.store.commit({ ...carry(record), status: "needs-attention", attention });
        return { ...record, status: "needs-attention", attention, version: record.version + 1 };
      } catch (e) {
        if (!isConcurrencyError(e)) throw e;
        record = (await this.options.store.load(record.saga, record.key)) ?? record;
      }
    }
    return record;
  }

  async #finishCompensation(loaded: SagaRecord): Promise<SagaRecord> {
    let record = loaded;
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.options.store.load(record.saga, record.key);
      if (current === undefined || current.status !== "compensating" || current.outbox.length > 0) {
        return current ?? record;
      }
      record = current;
      try {
        await this.options.store.commit({ ...carry(record), status: "compensated" });
        return { ...record, status: "compensated", version: record.version + 1 };
      } catch (e) {
        if (!isConcurrencyError(e)) throw e;
      }
    }
    return record;
  }
}

/** A saga's entries of a by-saga-then-key map, made on first use. */
function ofSaga<V>(bySaga: Map<string, Map<string, V>>, saga: string): Map<string, V> {
  let ofKey = bySaga.get(saga);
  if (ofKey === undefined) {
    ofKey = new Map();
    bySaga.set(saga, ofKey);
  }
  return ofKey;
}
