import { type Issue, ValidationError } from "../errors.js";
import { callHook } from "../internal/hooks.js";
import { functionIssues, integerOptionIssues, objectIssues, unknownKeyIssues } from "../internal/validate.js";
import type { SagaRuntime, TickResult } from "./saga-runtime.js";

/** A runtime, or how to make one from a Worker's bindings (e.g. a store client built from `env`). */
export type SagaRuntimeSource<Env> = SagaRuntime | ((env: Env) => SagaRuntime | Promise<SagaRuntime>);

/** The part of a Worker's `scheduled` controller the handler reads. */
export interface ScheduledControllerLike {
  readonly scheduledTime?: number;
  readonly cron?: string;
}

/** The part of a Worker's execution context the handler uses. */
export interface WaitUntilContext {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A Cloudflare Workers `scheduled` handler that fires the due saga timeouts on each Cron Trigger
 * (`crons = ["* * * * *"]` in wrangler.toml): `export default { fetch, ...sagaCronHandler(runtime) }`.
 * The tick runs under `waitUntil`, at the runtime's clock; overlapping invocations are safe (leases).
 * The tick re-drives the outboxes too, every `redriveIntervalMs` of the runtime: a factory should keep the
 * runtime it made, or each run (a new runtime's first tick) re-drives.
 */
export function sagaCronHandler<Env = unknown>(
  source: SagaRuntimeSource<Env>,
  given?: { readonly onTick?: (result: TickResult) => void } | null,
): { scheduled(controller: ScheduledControllerLike, env: Env, ctx: WaitUntilContext): Promise<void> } {
  // Checked here, as createSagaTimerHandler does: not a TypeError on every Cron Trigger (one after it fired).
  const issues: Issue[] = [];
  if (typeof source !== "function" && typeof (source as Partial<SagaRuntime> | null)?.tick !== "function") {
    issues.push({ path: ["source"], message: "source must be a SagaRuntime or a function of env that returns one" });
  }
  const options = given ?? {};
  issues.push(
    ...objectIssues(options, "options", false),
    // A misspelt `ontick` was dropped: the ticks went unobserved, without a word.
    ...unknownKeyIssues(options, ["onTick"]),
    ...functionIssues(options.onTick, "onTick"),
  );
  if (issues.length > 0) throw new ValidationError("Invalid saga cron handler", issues);
  return {
    async scheduled(_controller, env, ctx) {
      const run = (async () => {
        const runtime = typeof source === "function" ? await source(env) : source;
        if (typeof (runtime as Partial<SagaRuntime> | null)?.tick !== "function") {
          throw new ValidationError("Invalid saga cron handler", [
            { path: ["source"], message: "the runtime factory must return a SagaRuntime (or a promise of one)" },
          ]);
        }
        const result = await runtime.tick();
        // An observer, isolated as every hook is: its throw, after the timeouts fired, must not fail
        // the invocation. It is logged instead.
        if (options.onTick !== undefined) callHook("onTick", options.onTick, result);
      })();
      ctx.waitUntil(run);
      await run;
    },
  };
}

/** The part of a Durable Object's storage the alarm driver uses. */
export interface AlarmStorageLike {
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

export interface SagaAlarmDriverOptions {
  /** The longest the object sleeps (ms, default 60,000): it wakes then even with nothing known due. */
  readonly maxSleepMs?: number;
  /** The shortest alarm delay (ms, default 100), so timeouts held by another scheduler do not spin it. */
  readonly minDelayMs?: number;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

const SAGA_ALARM_DRIVER_OPTIONS = [
  "maxSleepMs",
  "minDelayMs",
  "now",
] as const satisfies readonly (keyof SagaAlarmDriverOptions)[];

/**
 * Saga timeouts on a Durable Object alarm: the object sleeps until the store's next due time
 * (`runtime.nextTimeoutAt()`), fires what is due with `tick` (which re-drives the outboxes every
 * `redriveIntervalMs` of the runtime), and sets its alarm again. Use one object
 * per store (or per shard of sagas): in its `alarm()` call `driver.alarm()`; after handling events
 * elsewhere, call the object (e.g. a `fetch` that runs `driver.wake()`) so a timeout scheduled earlier
 * than its alarm is not left waiting until `maxSleepMs`.
 */
export class SagaAlarmDriver {
  readonly #storage: AlarmStorageLike;
  readonly #runtime: SagaRuntime;
  readonly #maxSleepMs: number;
  readonly #minDelayMs: number;
  readonly #now: () => number;

  /** @throws {ValidationError} missing storage or runtime, or bad delays. */
  constructor(storage: AlarmStorageLike, runtime: SagaRuntime, given?: SagaAlarmDriverOptions | null) {
    // null is no options, as undefined is; a clock that is no function would fail every alarm and wake.
    const options = given ?? {};
    const issues: Issue[] = [
      ...objectIssues(options, "options", false),
      // A misspelt key was dropped and its default taken: `maxSleep: 5000` slept a minute.
      ...unknownKeyIssues(options, SAGA_ALARM_DRIVER_OPTIONS),
      ...integerOptionIssues(options.maxSleepMs, "maxSleepMs", 24 * 60 * 60 * 1000),
      ...integerOptionIssues(options.minDelayMs, "minDelayMs", 60_000),
      ...functionIssues(options.now, "now"),
    ];
    if (typeof storage?.setAlarm !== "function" || typeof storage?.getAlarm !== "function") {
      issues.push({ path: ["storage"], message: "storage must be a Durable Object's storage (getAlarm, setAlarm)" });
    }
    if (typeof runtime?.tick !== "function")
      issues.push({ path: ["runtime"], message: "runtime must be a SagaRuntime" });
    if (issues.length > 0) throw new ValidationError("Invalid saga alarm driver options", issues);
    this.#storage = storage;
    this.#runtime = runtime;
    this.#maxSleepMs = options.maxSleepMs ?? 60_000;
    this.#minDelayMs = options.minDelayMs ?? 100;
    this.#now = options.now ?? Date.now;
  }

  /** The object's `alarm()`: fires what is due, then sleeps until the next due time. */
  async alarm(): Promise<TickResult> {
    try {
      return await this.#runtime.tick(this.#now());
    } finally {
      // Re-armed whatever the tick did, so a failing tick is retried rather than never again.
      await this.#arm(true);
    }
  }

  /** Sets the alarm to the next due time if that is earlier than the alarm set (or none is). Returns it. */
  async wake(): Promise<number> {
    return this.#arm(false);
  }

  async #arm(replace: boolean): Promise<number> {
    const now = this.#now();
    const next = await this.#runtime.nextTimeoutAt();
    const at = Math.max(now + this.#minDelayMs, Math.min(next ?? Number.POSITIVE_INFINITY, now + this.#maxSleepMs));
    const current = replace ? null : await this.#storage.getAlarm();
    if (current !== null && current <= at) return current;
    await this.#storage.setAlarm(at);
    return at;
  }
}
