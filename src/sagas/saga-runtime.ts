import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import {
  HandlerNotFoundError,
  type Issue,
  isConcurrencyError,
  isEventFlowsError,
  SagaStepTimeoutError,
  ValidationError,
} from "../errors.js";
import type { EventBus, Unsubscribe } from "../event-bus/event-bus.js";
import type { EventStore } from "../event-store/event-store.js";
import type { StoreSubscription, SubscribeToAllOptions } from "../event-store/subscription.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { callHook } from "../internal/hooks.js";
import { jsonRoundTrip } from "../internal/json.js";
import {
  functionIssues,
  integerOptionIssues,
  isName,
  kindOf,
  MAX_DELAY_MS,
  nameIssues,
  objectIssues,
  unknownKeyIssues,
} from "../internal/validate.js";
import { STUCK, within } from "../internal/within.js";
import { getLogger } from "../logging/library-logger.js";
import { countSagaStep, recordSagaStatus } from "../telemetry/metrics.js";
import { activeTracer } from "../telemetry/tracer.js";
import { type FiredTimeout, type SagaDefinition, timeoutHandler } from "./define-saga.js";
import { type CommandDispatcher, OutboxDispatcher } from "./outbox-dispatcher.js";
import { carry, describe, recordedText } from "./records.js";
import { MAX_SAGA_ID_LENGTH, MAX_SAGA_KEY_LENGTH, type SagaStore, sagaConflict, sagaTimeoutId } from "./saga-store.js";
import { outboxTraceContext, traceStep, traceTimeout } from "./saga-telemetry.js";
import { StepContext } from "./step-context.js";
import {
  type Compensation,
  FINAL_STATUSES,
  type OutboxEntry,
  type SagaCommit,
  type SagaFailureReport,
  type SagaRecord,
  type SagaTimeout,
} from "./types.js";

// biome-ignore lint/suspicious/noExplicitAny: a runtime holds sagas of different event and state types
type AnySaga = SagaDefinition<any, any>;

export interface SagaRuntimeOptions {
  readonly store: SagaStore;
  readonly commands: CommandDispatcher;
  readonly sagas: readonly AnySaga[];
  /** The clock, in epoch milliseconds: timeouts' `after` and firing. Defaults to `Date.now`. */
  readonly now?: () => number;
  /** Told about every failed step, with the saga, instance and event. Defaults to an error line on the library's logger. */
  readonly onError?: (failure: SagaFailureReport) => void;
  /** Told about every fired timeout, with its lateness. */
  readonly onTimeoutFired?: (fired: FiredTimeoutReport) => void;
  /** Attempts per outbox command before the instance is parked in `needs-attention`. Defaults to 3. */
  readonly maxAttempts?: number;
  /** Wait between attempts, in milliseconds: a number from 0 to 60,000. Defaults to 100. */
  readonly retryDelayMs?: number;
  /**
   * How long a claimed timeout is held by this runtime before another may claim it, and how long
   * `handle` and `tick` wait for one step (an event's or a timeout's) before reporting it failed with a
   * `SagaStepTimeoutError`. Defaults to 30,000 ms.
   */
  readonly leaseMs?: number;
  /** Timeouts claimed per tick. Defaults to 500. */
  readonly tickLimit?: number;
  /**
   * How often `tick` (and so every timer driver) re-drives the outboxes a crash may have left, at most:
   * once per this many milliseconds, an integer from 1 to 86,400,000. Defaults to 300,000 (5 minutes).
   */
  readonly redriveIntervalMs?: number;
  /** This runtime's name in timeout leases. Defaults to a fresh ULID. */
  readonly owner?: string;
  /**
   * `false` turns this runtime's spans off. Defaults to true: each step gets a `saga <name>` span and
   * each fired timeout a `saga <name> timeout` span whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

/** What happened to one event in one saga. */
export type SagaOutcomeKind =
  /** A new instance was created. */
  | "started"
  | "applied"
  /** The step completed the instance (or started compensation that has now ended). */
  | "completed"
  /** The handler (or a process manager's `ignore`) declared it irrelevant; nothing was saved. */
  | "ignored"
  /** Already handled by this instance: not applied again. */
  | "duplicate"
  /** A `handles` event for an instance that does not exist. */
  | "no-instance"
  /** The instance is completed or compensated; not applied. */
  | "finished"
  /** The step failed: reported to `onError` and recorded; nothing was written. */
  | "failed";

export interface SagaOutcome {
  readonly saga: string;
  readonly key?: string | undefined;
  readonly eventId: string;
  readonly outcome: SagaOutcomeKind;
  /** The instance's version after the step, when it was saved. */
  readonly version?: number;
  readonly reason?: string;
  readonly error?: unknown;
  /** For `failed`: whether the cause was the store (worth retrying) rather than the saga or its input. */
  readonly retryable?: boolean;
}

export interface FiredTimeoutReport {
  readonly saga: string;
  readonly key: string;
  readonly name: string;
  readonly dueAt: number;
  readonly firedAt: number;
  readonly latenessMs: number;
  readonly outcome: SagaOutcomeKind;
  /** For `failed`: what failed. */
  readonly error?: unknown;
}

export interface TickResult {
  readonly fired: readonly FiredTimeoutReport[];
}

export interface SubscribeSagasOptions extends Omit<SubscribeToAllOptions, "handler" | "after"> {
  readonly checkpoints: CheckpointStore;
  /** The checkpoint id. Defaults to `sagas`. */
  readonly checkpointId?: string;
}

/**
 * What `subscribe` takes: every key of its options type, and no other. `after` and `handler` are the
 * runtime's to set (from the checkpoint, to `handle`); given, they were dropped without a word.
 */
const SUBSCRIBE_OPTIONS = Object.keys({
  checkpoints: true,
  checkpointId: true,
  batchSize: true,
  pollIntervalMs: true,
  retryDelayMs: true,
  onError: true,
  signal: true,
  name: true,
  telemetry: true,
} satisfies Record<keyof SubscribeSagasOptions, true>);

const CONFLICT_RETRIES = 20;

const SAGA_RUNTIME_OPTIONS = [
  "store",
  "commands",
  "sagas",
  "now",
  "onError",
  "onTimeoutFired",
  "maxAttempts",
  "retryDelayMs",
  "leaseMs",
  "tickLimit",
  "redriveIntervalMs",
  "owner",
  "telemetry",
] as const satisfies readonly (keyof SagaRuntimeOptions)[];

/**
 * Runs sagas: applies events to instances (deduplicated, with optimistic concurrency), saves each
 * step with its outbox in one commit, dispatches the outbox, fires due timeouts (`tick`) and
 * compensates. Every failure is caught, recorded and reported: a failing saga never stops the
 * feed, the other sagas or the other instances.
 */
export class SagaRuntime {
  readonly #store: SagaStore;
  readonly #sagas = new Map<string, AnySaga>();
  // The sagas each event type goes to, in registration order: `handle` looks them up instead of
  // filtering every saga on every event.
  readonly #byType = new Map<string, AnySaga[]>();
  readonly #now: () => number;
  readonly #onError: (failure: SagaFailureReport) => void;
  readonly #onTimeoutFired: ((fired: FiredTimeoutReport) => void) | undefined;
  readonly #leaseMs: number;
  readonly #tickLimit: number;
  readonly #redriveIntervalMs: number;
  // When the last re-drive of `tick` or `start` began (by the runtime's clock): none yet, so the first is due.
  #redriveStartedAt = Number.NEGATIVE_INFINITY;
  readonly #dispatcher: OutboxDispatcher;
  readonly #telemetry: boolean;
  readonly owner: string;

  constructor(options: SagaRuntimeOptions) {
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid saga runtime options", [
        { path: [], message: `options must be an object, got ${kindOf(options)}` },
      ]);
    }
    const issues = [
      // A misspelt key was dropped and its default taken: `onErorr` logged failures instead of paging.
      ...unknownKeyIssues(options, SAGA_RUNTIME_OPTIONS),
      ...runtimePartIssues(options),
      ...integerOptionIssues(options.maxAttempts, "maxAttempts", 100),
      ...integerOptionIssues(options.leaseMs, "leaseMs", 24 * 60 * 60 * 1000),
      ...integerOptionIssues(options.tickLimit, "tickLimit", 10_000),
      ...integerOptionIssues(options.redriveIntervalMs, "redriveIntervalMs", 24 * 60 * 60 * 1000),
    ];
    // A number: a string ("5") passed a range check by coercion, and reached setTimeout as it was.
    const retryDelayMs = options.retryDelayMs;
    if (
      retryDelayMs !== undefined &&
      !(typeof retryDelayMs === "number" && retryDelayMs >= 0 && retryDelayMs <= 60_000)
    ) {
      issues.push({
        path: ["retryDelayMs"],
        message: `must be a number from 0 to 60000, got ${kindOf(retryDelayMs)}`,
      });
    }
    if (issues.length > 0) throw new ValidationError("Invalid saga runtime options", issues);
    this.#store = options.store;
    for (const saga of options.sagas) {
      if (this.#sagas.has(saga.name)) {
        throw new ValidationError("Invalid saga runtime options", [
          { path: ["sagas"], message: `two sagas are named "${saga.name}"` },
        ]);
      }
      this.#sagas.set(saga.name, saga);
      for (const type of saga.types) {
        const sagas = this.#byType.get(type);
        if (sagas === undefined) this.#byType.set(type, [saga]);
        else sagas.push(saga);
      }
    }
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? defaultOnError;
    this.#onTimeoutFired = options.onTimeoutFired;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#tickLimit = options.tickLimit ?? 500;
    this.#redriveIntervalMs = options.redriveIntervalMs ?? 300_000;
    this.owner = options.owner ?? ulid();
    this.#telemetry = options.telemetry !== false;
    this.#dispatcher = new OutboxDispatcher({
      store: options.store,
      commands: options.commands,
      maxAttempts: options.maxAttempts ?? 3,
      retryDelayMs: options.retryDelayMs ?? 100,
      commandTimeoutMs: this.#leaseMs,
      now: this.#now,
      report: (failure) => this.#report(failure),
    });
  }

  /** Every event type some saga reacts to. */
  get eventTypes(): string[] {
    return [...new Set([...this.#sagas.values()].flatMap((saga) => [...saga.types]))];
  }

  /**
   * Applies one event to every saga that reacts to it. Never throws: see each outcome. A step that
   * has not settled after `leaseMs` (a handler, the store or a command that never answers) is
   * `failed` with a `SagaStepTimeoutError`, retryable: a handler that returns later is not saved.
   */
  async handle(event: EventEnvelope): Promise<SagaOutcome[]> {
    // Not an event at all (null from an untyped source): no type, so no saga reacts; never a TypeError.
    const sagas = this.#byType.get((event as EventEnvelope | null | undefined)?.type as string);
    if (sagas === undefined) return [];
    // Most events go to one saga: no array of promises to wait on together.
    if (sagas.length === 1) return [countStep(await this.#applyBounded(sagas[0] as AnySaga, event))];
    return (await Promise.all(sagas.map((saga) => this.#applyBounded(saga, event)))).map(countStep);
  }

  /** The step, waited for `leaseMs` at most (as a timeout's firing is): then failed, and abandoned unsaved. */
  async #applyBounded(saga: AnySaga, event: EventEnvelope): Promise<SagaOutcome> {
    const run: StepRun = { abandoned: false };
    const settled = await within(this.#applyTraced(saga, event, run), this.#leaseMs);
    if (settled !== STUCK) return settled;
    run.abandoned = true;
    const keyOf = saga.keyOf(event);
    const key = typeof keyOf === "string" ? keyOf : undefined;
    // The id as the error can hold it: a step refused for its id may be what is stuck (recording it).
    const eventId = typeof event.id === "string" ? event.id : kindOf(event.id);
    const error = new SagaStepTimeoutError(saga.name, key, event.type, eventId, this.#leaseMs);
    // Reported and recorded without waiting for the record: the store may be what does not answer.
    void this.#report({ saga: saga.name, key, event: { id: event.id, type: event.type }, error });
    return { saga: saga.name, key, eventId: event.id, outcome: "failed", error, retryable: true };
  }

  // Without a tracer the step's own promise is all there is: no wrapper layer per step.
  #applyTraced(saga: AnySaga, event: EventEnvelope, run: StepRun): Promise<SagaOutcome> {
    const tracer = this.#telemetry ? activeTracer() : undefined;
    return tracer === undefined
      ? this.#apply(saga, event, run)
      : traceStep(tracer, saga.name, event, () => this.#apply(saga, event, run));
  }

  /** Feeds the sagas from an in-process bus. Returns the unsubscribe. */
  attach(bus: EventBus): Unsubscribe {
    if (typeof (bus as Partial<EventBus> | null)?.subscribe !== "function") {
      throw new ValidationError("Invalid saga bus", [
        { path: ["bus"], message: `must be an EventBus, got ${kindOf(bus)}` },
      ]);
    }
    return bus.subscribe({ type: this.eventTypes }, (event) => this.handle(event).then(() => undefined), {
      name: "sagas",
    });
  }

  /**
   * Feeds the sagas from a store's global feed, from a saved checkpoint, saving it after each
   * event. An event whose step failed in the store (retryable) is retried; one the saga refused
   * is recorded and passed.
   */
  async subscribe(store: EventStore, options: SubscribeSagasOptions): Promise<StoreSubscription> {
    // Checked before any read: from JavaScript, a missing store or checkpoint store was a TypeError.
    // A misspelt `checkpointID` was refused only by subscribeToAll, after the read, naming its options, not these.
    const issues = [...objectIssues(options, "options", true), ...unknownKeyIssues(options, SUBSCRIBE_OPTIONS)];
    if (typeof (store as Partial<EventStore> | null)?.subscribeToAll !== "function") {
      issues.push({ path: ["store"], message: `must be an EventStore, got ${kindOf(store)}` });
    }
    const given = (options as Partial<SubscribeSagasOptions> | null)?.checkpoints;
    if (issues.length === 0 && (typeof given?.load !== "function" || typeof given.store !== "function")) {
      issues.push({ path: ["checkpoints"], message: `must be a CheckpointStore, got ${kindOf(given)}` });
    }
    if (issues.length > 0) throw new ValidationError("Invalid saga subscription", issues);
    const id = options.checkpointId ?? "sagas";
    const after = (await options.checkpoints.load(id)) ?? 0;
    const { checkpoints, checkpointId: _, ...rest } = options;
    return store.subscribeToAll({
      ...rest,
      after,
      handler: async (event) => {
        const outcomes = await this.handle(event);
        const retry = outcomes.find((outcome) => outcome.retryable === true);
        if (retry !== undefined) throw retry.error;
        if (event.globalPosition !== undefined) await checkpoints.store(id, event.globalPosition);
      },
    });
  }

  /**
   * Fires the timeouts due at `now` that this runtime can claim, each once: its firing is saved
   * with the timeout's id as handled id, so a second scheduler that got it too fires nothing.
   * Then re-drives the outboxes, when `redriveIntervalMs` has passed since the last re-drive began.
   */
  async tick(now = this.#now()): Promise<TickResult> {
    const claimed = await this.#store.claimDueTimeouts({
      now,
      owner: this.owner,
      leaseMs: this.#leaseMs,
      limit: this.#tickLimit,
      // Only what this runtime can fire: another deployment's timeouts stay free for its own runtime.
      sagas: [...this.#sagas.keys()],
    });
    const fired: FiredTimeoutReport[] = [];
    for (const timeout of claimed) {
      const run: StepRun = { abandoned: false };
      const firing = traceTimeout(this.#telemetry, timeout, now, () => this.#fire(timeout, now, run));
      // A handler or command that never settles holds the tick up for leaseMs at most: the timeouts
      // claimed after it still fire, and it fires again once its lease expires.
      const settled = await within(firing, this.#leaseMs);
      let report: FiredTimeoutReport | undefined;
      if (settled === STUCK) {
        run.abandoned = true;
        report = stuck(timeout, now, this.#leaseMs);
        // As a stuck event step is: to onError and the failure log, without waiting for the store.
        const trigger = { id: timeout.id, type: `timeout:${timeout.name}` };
        void this.#report({ saga: timeout.saga, key: timeout.key, event: trigger, error: report.error });
      } else report = settled;
      if (report !== undefined) {
        fired.push(report);
        if (this.#onTimeoutFired !== undefined) callHook("onTimeoutFired", this.#onTimeoutFired, report);
      }
    }
    await this.#redriveWhenDue();
    return { fired };
  }

  /**
   * Re-drives when the last re-drive began `redriveIntervalMs` ago or more (or none has, or the clock went
   * back). What `tick` adds: on Lambda and Workers no process starts to run `redrive`, so without it the
   * commands a crash left in an outbox (a firing killed after its save) waited for ever; and a re-drive that
   * failed (the store not up yet at start) is tried again. At most one begins per interval, failed or not:
   * each reads every instance with a pending outbox (on DynamoDB, scans the table). A failure goes to
   * `onError`, not to the tick's caller: the timeouts have fired.
   */
  async #redriveWhenDue(always = false): Promise<void> {
    const now = this.#now();
    const since = now - this.#redriveStartedAt;
    if (!always && since >= 0 && since < this.#redriveIntervalMs) return;
    this.#redriveStartedAt = now;
    try {
      await this.redrive();
    } catch (error) {
      callHook("onError", this.#onError, {
        saga: "*",
        key: undefined,
        event: { id: "redrive", type: "redrive" },
        error,
      });
    }
  }

  /**
   * When the store's next timeout of this runtime's sagas can be claimed (undefined: none, or the
   * store cannot tell): what alarm drivers sleep until. Only those `tick` claims: another deployment's
   * overdue timeout in a shared store would wake the driver every `minDelayMs` for nothing.
   */
  async nextTimeoutAt(): Promise<number | undefined> {
    return this.#store.nextDueAt({ sagas: [...this.#sagas.keys()] });
  }

  /**
   * Ticks every `intervalMs` (default 1,000) until stopped, with `setTimeout`: the timer loop for
   * Bun and Node (on Workers, call `tick` from a Cron Trigger or a Durable Object alarm).
   * Re-drives undispatched outboxes at start (a crash may have left some), and the ticks again every
   * `redriveIntervalMs`: a re-drive that failed at start is tried again then.
   */
  start(options: { readonly intervalMs?: number } = {}): { stop(): Promise<void> } {
    const issues = [
      ...objectIssues(options ?? undefined, [], false),
      // A misspelt `intervallMs` was dropped, and the loop ticked every second instead.
      ...unknownKeyIssues(options, ["intervalMs"]),
      // Past the timer's range, or no number at all, setTimeout fires at once: the loop would spin.
      ...integerOptionIssues(options?.intervalMs, "intervalMs", MAX_DELAY_MS),
    ];
    if (issues.length > 0) throw new ValidationError("Invalid saga timer options", issues);
    const intervalMs = options?.intervalMs ?? 1000;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A command that never settles holds the loop up for leaseMs at most (a tick bounds each firing itself).
    const bounded = (work: Promise<unknown>): Promise<void> =>
      within(work.catch(this.#loopError), this.#leaseMs).then(() => undefined);
    // Always first, as the docs promise: a tick or start of this runtime within the interval skipped it.
    let running = bounded(this.#redriveWhenDue(true));
    const loop = () => {
      if (stopped) return;
      running = bounded(this.tick());
      void running.then(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs);
      });
    };
    void running.then(() => {
      if (!stopped) timer = setTimeout(loop, intervalMs);
    });
    return {
      stop: async () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        await running;
      },
    };
  }

  /**
   * Dispatches what instances still have in their outbox (after a crash), and ends the compensations
   * that sent everything but were not saved `compensated`. Returns how many instances.
   */
  async redrive(): Promise<number> {
    const pending = await this.#store.list({ pendingOutbox: true, limit: 10_000 });
    let count = 0;
    for (const record of pending) {
      if (!leftToSend(record) || !this.#sagas.has(record.saga)) continue;
      await this.#redriveOne(record);
      count++;
    }
    // A crash after a compensation's last command was marked sent, before the instance was saved
    // compensated, leaves it compensating with nothing to send: the list above cannot find it.
    const compensating = await this.#store.list({ status: "compensating", limit: 10_000 });
    for (const record of compensating) {
      if (record.outbox.length > 0 || !this.#sagas.has(record.saga)) continue;
      await this.#redriveOne(record);
      count++;
    }
    return count;
  }

  /**
   * Sends what an instance that an event finds already handled (or ended) still has to send: a crash between a
   * step's save and its dispatch left it in the outbox, and on a queue the redelivery of that very event may be
   * all that comes. Under the same ids, as every re-send; a parked instance waits for an operator, as in `redrive`.
   */
  async #sendLeftovers(record: SagaRecord): Promise<void> {
    if (leftToSend(record)) await this.#redriveOne(record);
  }

  async #redriveOne(record: SagaRecord): Promise<void> {
    const after = await this.#dispatcher.dispatch(record.saga, record.key);
    if (after !== undefined) recordSagaStatus(record.saga, record.status, after.status);
  }

  /** Instances parked in `needs-attention`, with their error: for operators. */
  needsAttention(saga?: string): Promise<SagaRecord[]> {
    return this.#store.list({ status: "needs-attention", ...(saga === undefined ? {} : { saga }) });
  }

  /** Recorded failures of steps, oldest first. */
  failures(saga?: string): ReturnType<SagaStore["failures"]> {
    return this.#store.failures(saga === undefined ? {} : { saga });
  }

  /**
   * Operator action: gives up on the commands an instance still has to send and compensates
   * instead: each undispatched forward command is dropped (and recorded as a failure saying so),
   * then the registered compensations are dispatched, newest first, and the instance ends
   * `compensated`. For an instance parked on a command that will not succeed. Final instances
   * are refused with a ValidationError.
   */
  async compensate(saga: string, key: string): Promise<SagaRecord> {
    this.#assertRuns(saga);
    for (let attempt = 0; ; attempt++) {
      const record = await this.#store.load(saga, key);
      if (record === undefined || FINAL_STATUSES.has(record.status)) {
        throw new ValidationError(`Saga "${saga}" "${key}" cannot be compensated`, [
          { path: ["status"], message: `is ${record?.status ?? "missing"}` },
        ]);
      }
      // Dropped first: a crash after this leaves the instance parked with nothing to send, and
      // compensate can be called again.
      for (const entry of record.outbox.filter((e) => !e.compensation)) {
        await this.#store.markDispatched(saga, key, entry.id);
        await this.#report({
          saga,
          key,
          event: { id: entry.id, type: entry.type },
          error: new ValidationError(`Command ${entry.type} ${entry.id} dropped by an operator: the saga compensates`),
        });
      }
      let step = record.step;
      const outbox = [...record.compensations].reverse().map((compensation) => ({
        id: `${saga}/${key}/c${++step}`,
        ...compensation,
        causationId: `operator/${record.version}`,
        compensation: true,
      }));
      try {
        await this.#store.commit({
          ...carry(record),
          status: "compensating",
          attention: undefined,
          step,
          compensations: [],
          outbox,
        });
      } catch (error) {
        if (isConcurrencyError(error) && attempt < CONFLICT_RETRIES) continue;
        throw error;
      }
      const after = (await this.#dispatcher.dispatch(saga, key)) ?? ((await this.#store.load(saga, key)) as SagaRecord);
      recordSagaStatus(saga, record.status, after.status);
      return after;
    }
  }

  /**
   * Operator action: takes an instance out of `needs-attention` (back to where it was) and
   * dispatches its outbox again, starting with the command that failed.
   */
  async resume(saga: string, key: string): Promise<SagaRecord> {
    this.#assertRuns(saga);
    for (let attempt = 0; ; attempt++) {
      const record = await this.#store.load(saga, key);
      if (record === undefined || record.status !== "needs-attention" || record.attention === undefined) {
        throw new ValidationError(`Saga "${saga}" "${key}" is not in needs-attention`, [
          { path: ["status"], message: `is ${record?.status ?? "missing"}` },
        ]);
      }
      try {
        await this.#store.commit({ ...carry(record), status: record.attention.resumeStatus, attention: undefined });
      } catch (error) {
        if (isConcurrencyError(error) && attempt < CONFLICT_RETRIES) continue;
        throw error;
      }
      const after = (await this.#dispatcher.dispatch(saga, key)) ?? ((await this.#store.load(saga, key)) as SagaRecord);
      recordSagaStatus(saga, record.status, after.status);
      return after;
    }
  }

  async #apply(saga: AnySaga, event: EventEnvelope, run: StepRun): Promise<SagaOutcome> {
    const key = saga.keyOf(event);
    if (key instanceof ValidationError) return this.#failed(saga.name, undefined, event, key);
    // The id is what makes a redelivery a duplicate: an event without one (or one no store keeps) is
    // refused, not applied undeduplicated on every delivery.
    if (!isName(event.id, MAX_SAGA_ID_LENGTH)) {
      const issues = nameIssues(event.id, "event id", MAX_SAGA_ID_LENGTH, ["id"]);
      return this.#failed(
        saga.name,
        key,
        event,
        new ValidationError(`Saga "${saga.name}" cannot handle ${event.type}`, issues),
      );
    }
    try {
      for (let attempt = 0; ; attempt++) {
        const record = await this.#store.load(saga.name, key);
        if (record === undefined && !saga.startedBy.includes(event.type)) {
          return { saga: saga.name, key, eventId: event.id, outcome: "no-instance" };
        }
        if (record !== undefined && (await this.#store.hasHandled(saga.name, key, event.id))) {
          await this.#sendLeftovers(record);
          return { saga: saga.name, key, eventId: event.id, outcome: "duplicate" };
        }
        if (record !== undefined && FINAL_STATUSES.has(record.status)) {
          await this.#sendLeftovers(record);
          return { saga: saga.name, key, eventId: event.id, outcome: "finished" };
        }
        const handler = saga.on[event.type] as (state: unknown, event: unknown, ctx: StepContext) => unknown;
        const outcome = await this.#step(saga, key, record, event, (state, ctx) => handler(state, event, ctx), run);
        if (outcome === "conflict") {
          if (attempt < CONFLICT_RETRIES) continue;
          // Still losing after every retry: reported as the conflict it is, and worth redelivering.
          const latest = (await this.#store.load(saga.name, key))?.version ?? 0;
          return this.#failed(saga.name, key, event, sagaConflict(saga.name, key, record?.version ?? 0, latest), true);
        }
        return outcome;
      }
    } catch (error) {
      // The store failed (not the saga): worth retrying the event.
      return this.#failed(saga.name, key, event, error, true);
    }
  }

  /**
   * One step: runs the handler against a collecting context, saves everything it decided in one
   * commit, then dispatches the outbox. Returns "conflict" when another delivery got there first.
   */
  async #step(
    saga: AnySaga,
    key: string,
    record: SagaRecord | undefined,
    trigger: { readonly id: string; readonly type: string },
    decide: (state: unknown, ctx: StepContext) => unknown,
    run: StepRun,
    firedTimeoutId?: string,
  ): Promise<SagaOutcome | "conflict"> {
    const ctx = new StepContext(key, this.#now, saga);
    const state = record === undefined ? this.#initialState(saga) : record.state;
    let next: unknown;
    try {
      const returned = decide(state, ctx);
      // A synchronous handler's state is used as it is: no turn of the microtask queue for it.
      next = (isThenable(returned) ? await returned : returned) ?? state;
    } catch (error) {
      return this.#failed(saga.name, key, trigger, error);
    }
    // Reported failed already (it outlived leaseMs): a handler that returns late saves nothing, so the
    // event's redelivery (or the timeout, claimed again) runs the step afresh.
    if (run.abandoned) return { saga: saga.name, key, eventId: trigger.id, outcome: "failed", retryable: true };
    if (ctx.ignored !== undefined) {
      if (firedTimeoutId !== undefined) await this.#store.dropTimeout(firedTimeoutId);
      return { saga: saga.name, key, eventId: trigger.id, outcome: "ignored", reason: ctx.ignored };
    }
    const commit = commitFor(saga.name, key, record, next, ctx, trigger.id, firedTimeoutId);
    const dispatches = commit.outbox?.length || commit.status === "compensating";
    const mark = dispatches ? this.#dispatcher.saving(saga.name, key) : undefined;
    let version: number;
    try {
      version = await this.#store.commit(commit);
    } catch (error) {
      if (mark !== undefined) this.#dispatcher.unmark(saga.name, key, mark);
      if (isConcurrencyError(error)) return "conflict";
      // Refused input (not JSON, too large) is the saga's failure; anything else is the store's.
      return this.#failed(saga.name, key, trigger, error, !isEventFlowsError(error) || isServiceFailure(error));
    }
    let status = commit.status;
    if (mark !== undefined) {
      // When the step started with an empty outbox, what it saved is the whole outbox: no read back.
      const saved: SagaRecord | undefined =
        record !== undefined && record.outbox.length > 0
          ? undefined
          : {
              saga: saga.name,
              key,
              version,
              state: commit.state,
              status: commit.status,
              step: commit.step,
              compensations: commit.compensations,
              outbox: commit.outbox ?? [],
              attention: commit.attention,
            };
      status = (await this.#dispatcher.dispatch(saga.name, key, saved, mark))?.status ?? status;
    }
    recordSagaStatus(saga.name, record?.status, status);
    const outcome = FINAL_STATUSES.has(status) ? "completed" : record === undefined ? "started" : "applied";
    return { saga: saga.name, key, eventId: trigger.id, outcome, version };
  }

  async #fire(timeout: SagaTimeout, now: number, run: StepRun): Promise<FiredTimeoutReport | undefined> {
    const saga = this.#sagas.get(timeout.saga);
    if (saga === undefined) return undefined; // another deployment's saga: leave it to its runtime
    const fired: FiredTimeout = {
      id: timeout.id,
      name: timeout.name,
      data: timeout.data,
      dueAt: timeout.dueAt,
      firedAt: now,
      latenessMs: Math.max(0, now - timeout.dueAt),
    };
    const trigger = { id: timeout.id, type: `timeout:${timeout.name}` };
    const report = (outcome: SagaOutcomeKind, error?: unknown): FiredTimeoutReport => ({
      saga: timeout.saga,
      key: timeout.key,
      name: timeout.name,
      dueAt: timeout.dueAt,
      firedAt: now,
      latenessMs: fired.latenessMs,
      outcome,
      ...(error === undefined ? {} : { error }),
    });
    try {
      for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
        const record = await this.#store.load(timeout.saga, timeout.key);
        if (
          record === undefined ||
          FINAL_STATUSES.has(record.status) ||
          (await this.#store.hasHandled(timeout.saga, timeout.key, timeout.id))
        ) {
          await this.#store.dropTimeout(timeout.id);
          return undefined;
        }
        // Claimed before a step cancelled it or scheduled its name again: that step won, nothing fires.
        // Asked after the load: a step committing after it moves the version on, and this firing conflicts.
        if ((await this.#store.isTimeoutPending(timeout.saga, timeout.key, timeout.id)) === false) return undefined;
        const handler = timeoutHandler(saga, timeout.name);
        if (handler === undefined) {
          // Scheduled by code that had a handler (steps cannot schedule one without): reported once,
          // then dropped, since nothing here can ever handle it (left claimed, it would fire every leaseMs).
          const error = new HandlerNotFoundError("event", trigger.type, {
            registered: Object.keys(saga.onTimeout ?? {}),
          });
          await this.#failed(saga.name, timeout.key, trigger, error);
          await this.#store.dropTimeout(timeout.id);
          return report("failed", error);
        }
        const outcome = await this.#step(
          saga,
          timeout.key,
          record,
          trigger,
          (s, ctx) => handler(s, fired, ctx),
          run,
          timeout.id,
        );
        if (outcome !== "conflict") return report(outcome.outcome, outcome.error);
      }
    } catch (error) {
      await this.#failed(saga.name, timeout.key, trigger, error, true);
      return report("failed", error);
    }
    // Still claimed: it fires again once the lease expires.
    return report("failed");
  }

  /**
   * Operator actions dispatch through this runtime's command bus: a saga another deployment runs
   * (one store shared by several) is refused, as `tick` and `redrive` leave it alone.
   */
  #assertRuns(saga: string): void {
    if (!this.#sagas.has(saga)) {
      throw new ValidationError(`Saga "${saga}" is not run by this runtime`, [
        { path: ["saga"], message: "is not one of the sagas this runtime was given" },
      ]);
    }
  }

  async #failed(
    saga: string,
    key: string | undefined,
    event: { readonly id: string; readonly type: string },
    error: unknown,
    retryable = false,
  ): Promise<SagaOutcome> {
    await this.#report({ saga, key, event: { id: event.id, type: event.type }, error });
    return { saga, key, eventId: event.id, outcome: "failed", error, retryable };
  }

  async #report(failure: SagaFailureReport): Promise<void> {
    callHook("onError", this.#onError, failure);
    try {
      await this.#store.recordFailure({
        saga: failure.saga,
        key: failure.key === undefined ? undefined : recordedText(failure.key),
        eventId: recordedText(failure.event.id),
        eventType: recordedText(failure.event.type),
        error: describe(failure.error),
        at: new Date(this.#now()).toISOString(),
      });
    } catch (error) {
      callHook("onError", this.#onError, { ...failure, error });
    }
  }

  // A fresh copy per new instance, so a handler that mutates its state cannot change the definition's.
  #initialState(saga: AnySaga): unknown {
    return jsonRoundTrip(saga.initialState);
  }

  readonly #loopError = (error: unknown) =>
    callHook("onError", this.#onError, { saga: "*", key: undefined, event: { id: "tick", type: "tick" }, error });
}

/** One run of a step: abandoned once `handle` or `tick` stopped waiting for it (it then saves nothing). */
interface StepRun {
  abandoned: boolean;
}

/** The report of a firing still running after leaseMs: failed for now, and claimed again once its lease expires. */
/**
 * Whether a re-send (a re-drive, a redelivered event) sends anything for this instance: commands left in its
 * outbox, or a compensation to finish; a parked instance waits for an operator.
 */
function leftToSend(record: SagaRecord): boolean {
  return record.status !== "needs-attention" && (record.outbox.length > 0 || record.status === "compensating");
}

function stuck(timeout: SagaTimeout, now: number, leaseMs: number): FiredTimeoutReport {
  return {
    error: new SagaStepTimeoutError(timeout.saga, timeout.key, `timeout:${timeout.name}`, timeout.id, leaseMs),
    saga: timeout.saga,
    key: timeout.key,
    name: timeout.name,
    dueAt: timeout.dueAt,
    firedAt: now,
    latenessMs: Math.max(0, now - timeout.dueAt),
    outcome: "failed",
  };
}

/** The commit a step makes: state, status, commands numbered from the instance's step counter. */
function commitFor(
  saga: string,
  key: string,
  record: SagaRecord | undefined,
  state: unknown,
  ctx: StepContext,
  handledId: string,
  firedTimeoutId: string | undefined,
): SagaCommit {
  let step = record?.step ?? 0;
  // The active span is looked up only when there are commands (or compensations: below) to carry it.
  const context =
    ctx.commands.length > 0 || ctx.compensating || ctx.compensations.length > 0 ? outboxTraceContext() : NO_TRACE;
  const traced = context.traceparent === undefined ? NO_TRACE : context;
  const outbox: OutboxEntry[] = [];
  for (const command of ctx.commands) {
    const entry = {
      id: `${saga}/${key}/${++step}`,
      type: command.type,
      payload: command.payload,
      causationId: handledId,
      compensation: false,
    };
    // No spread of an empty trace context per command: object spread is a slow path.
    outbox.push(traced === NO_TRACE ? entry : { ...entry, ...traced });
  }
  const before = record?.compensations ?? NONE;
  let compensations: readonly Compensation[] =
    ctx.compensations.length === 0
      ? before
      : before.length === 0
        ? ctx.compensations
        : [...before, ...ctx.compensations];
  const parked = record?.status === "needs-attention" ? record.attention : undefined;
  let status = parked?.resumeStatus ?? record?.status ?? "running";
  if (ctx.compensating) status = "compensating";
  else if (ctx.completed && status === "running") status = "completed";
  // Compensating, since this step or before: a step applied meanwhile (a late event, a timeout) may
  // have registered an undo of a command it still sends, and nothing else would ever send that undo.
  if (status === "compensating" && compensations.length > 0) {
    // Newest first, each under an id of its own: dispatched once, in reverse order of the steps.
    for (let i = compensations.length - 1; i >= 0; i--) {
      outbox.push({
        id: `${saga}/${key}/c${++step}`,
        ...(compensations[i] as Compensation),
        causationId: handledId,
        compensation: true,
        ...traced,
      });
    }
    compensations = [];
  }
  const version = (record?.version ?? 0) + 1;
  return {
    saga,
    key,
    expectedVersion: record?.version ?? 0,
    state,
    // A parked instance stays parked; its steps still apply and decide where resuming returns it.
    status: parked === undefined ? status : "needs-attention",
    step,
    compensations,
    attention: parked === undefined ? undefined : { ...parked, resumeStatus: status },
    handledId,
    outbox,
    schedule: ctx.schedules === undefined ? NO_TIMEOUTS : scheduled(saga, key, version, ctx.schedules),
    cancel: ctx.cancels === undefined ? NO_NAMES : [...ctx.cancels],
    // Every store reads it as "absent" when undefined: no spread of a conditional object per step.
    firedTimeoutId,
  };
}

const NO_TRACE: { traceparent?: string; tracestate?: string } = Object.freeze({});
const NONE: readonly Compensation[] = Object.freeze([]);
const NO_TIMEOUTS: readonly SagaTimeout[] = Object.freeze([]);
const NO_NAMES: readonly string[] = Object.freeze([]);

/** Counts one step by outcome (spans are the tracer's; the count is made with or without one). */
function countStep(outcome: SagaOutcome): SagaOutcome {
  countSagaStep(outcome.saga, outcome.outcome, outcome.error);
  return outcome;
}

function scheduled(
  saga: string,
  key: string,
  version: number,
  schedules: NonNullable<StepContext["schedules"]>,
): SagaTimeout[] {
  return [...schedules].map(([name, timeout]) => ({
    id: sagaTimeoutId(saga, key, name, version),
    saga,
    key,
    name,
    dueAt: timeout.dueAt,
    data: timeout.data,
  }));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

function isServiceFailure(error: unknown): boolean {
  return (error as { code?: unknown }).code === "SERVICE_ERROR";
}

function defaultOnError(failure: SagaFailureReport): void {
  getLogger().error(`saga "${failure.saga}" failed on ${failure.event.type}`, {
    saga: failure.saga,
    ...(failure.key === undefined ? {} : { sagaKey: failure.key }),
    eventId: failure.event.id,
    eventType: failure.event.type,
    error: failure.error,
  });
}

/**
 * What the runtime takes from its options and calls later: each missing or of the wrong kind failed
 * only then, as a TypeError (a store without `commit`, a `now` that is a number) or a ValidationError
 * on every tick (an empty `owner`).
 */
function runtimePartIssues(options: SagaRuntimeOptions): Issue[] {
  const issues: Issue[] = [];
  const store = options.store as Partial<SagaStore> | undefined;
  if (typeof store?.commit !== "function" || typeof store.load !== "function") {
    issues.push({ path: ["store"], message: `must be a SagaStore, got ${kindOf(options.store)}` });
  }
  if (typeof options.commands?.execute !== "function") {
    issues.push({ path: ["commands"], message: "must have an execute(type, payload) method (a CommandBus)" });
  }
  if (!Array.isArray(options.sagas)) {
    issues.push({
      path: ["sagas"],
      message: `must be an array of defineSaga() results, got ${kindOf(options.sagas)}`,
    });
  } else if (options.sagas.some((saga) => typeof saga?.name !== "string" || !(saga.types instanceof Set))) {
    issues.push({ path: ["sagas"], message: "each saga must be what defineSaga() returns" });
  }
  for (const key of ["now", "onError", "onTimeoutFired"] as const) issues.push(...functionIssues(options[key], key));
  // As every timeout claim checks it: one no claim takes failed every tick instead.
  if (options.owner !== undefined) issues.push(...nameIssues(options.owner, "owner", MAX_SAGA_KEY_LENGTH, ["owner"]));
  // As the event store's own `telemetry` is checked: "false" (a string) left the spans on unnoticed.
  if (options.telemetry !== undefined && typeof options.telemetry !== "boolean") {
    issues.push({ path: ["telemetry"], message: `must be a boolean, got ${kindOf(options.telemetry)}` });
  }
  return issues;
}
