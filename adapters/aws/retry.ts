import {
  assertDelayMs,
  assertObject,
  functionIssues,
  MAX_DELAY_MS,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";

export interface RetryOptions {
  /** Attempts per call, the first one included. Defaults to 8; 1 turns retries off. */
  readonly maxAttempts?: number;
  /** The backoff ceiling of the first retry, in ms; it doubles with every retry. Defaults to 25. */
  readonly baseDelayMs?: number;
  /** The highest backoff ceiling, in ms. Defaults to 2,000. */
  readonly maxDelayMs?: number;
  /**
   * Tokens in the client's retry budget, shared by all its calls. A retry spends 5 (10 after a
   * timeout or network error), a success earns 1 back (a success after retries refunds what it
   * spent). With the budget spent, failures are thrown without retrying, so an outage does not
   * turn into a retry storm. Defaults to 500, as in the AWS SDKs.
   */
  readonly budget?: number;
  /** A number in [0, 1): the jitter's source. For tests; defaults to `Math.random`. */
  readonly random?: () => number;
}

export const RETRY_COST = 5;
export const TIMEOUT_RETRY_COST = 10;

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly random: () => number;
  readonly budget: RetryBudget;
}

const RETRY_OPTIONS = Object.keys({
  maxAttempts: true,
  baseDelayMs: true,
  maxDelayMs: true,
  budget: true,
  random: true,
} satisfies Record<keyof RetryOptions, true>);

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  assertObject(options, "retry", "retry options", false);
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 25;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const budget = options.budget ?? 500;
  const issues = [
    // A misspelt `maxAttempt` kept the default 8 attempts without a word.
    ...unknownKeyIssues(options, RETRY_OPTIONS, ["retry"]),
    ...integerIssue("maxAttempts", maxAttempts, 1),
    ...delayIssue("baseDelayMs", baseDelayMs),
    ...delayIssue("maxDelayMs", maxDelayMs),
    ...integerIssue("budget", budget, 0),
    ...functionIssues(options.random, ["retry", "random"]),
  ];
  if (issues.length > 0) throw new ValidationError("Invalid retry options", issues);
  return {
    maxAttempts,
    baseDelayMs,
    maxDelayMs,
    random: options.random ?? Math.random,
    budget: new RetryBudget(budget),
  };
}

/** Full jitter: a uniform delay between 0 and the capped exponential ceiling of this retry. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  assertPolicy(policy, retry);
  return backoff(policy, retry);
}

/** {@link backoffDelay} without the checks: what the client, whose policy `retryPolicy` made, calls. */
function backoff(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 30));
  return Math.floor(policy.random() * ceiling);
}

/**
 * The pause before retry `retry` of a call with `leftMs` to its deadline, or undefined when the
 * pause would leave no time for the attempt after it: then the call gives up now rather than sleep
 * into its deadline.
 */
export function retryDelay(policy: RetryPolicy, retry: number, leftMs: number): number | undefined {
  if (typeof leftMs !== "number" || Number.isNaN(leftMs)) {
    throw new ValidationError("Invalid retry delay", [{ path: ["leftMs"], message: "must be a number of ms" }]);
  }
  assertPolicy(policy, retry);
  return pauseWithin(policy, retry, leftMs);
}

/** {@link retryDelay} without the checks: the client's own calls, with its own policy. */
export function pauseWithin(policy: RetryPolicy, retry: number, leftMs: number): number | undefined {
  const delay = backoff(policy, retry);
  return delay < leftMs ? delay : undefined;
}

/** A token bucket bounding retries across all calls of one client. */
export class RetryBudget {
  #tokens: number;
  constructor(readonly capacity: number) {
    this.#tokens = capacity;
  }
  get tokens(): number {
    return this.#tokens;
  }
  /** Takes `cost` tokens for a retry; false (and nothing taken) when there are not enough. */
  spend(cost: number): boolean {
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }
  /** A call succeeded: it gives back what its retries spent, or 1 token when it needed none. */
  succeeded(spent: number): void {
    this.#tokens = Math.min(this.capacity, this.#tokens + (spent > 0 ? spent : 1));
  }
}

/**
 * Waits `ms`; rejects with the signal's reason if it aborts first.
 * @throws {ValidationError} (the promise rejects) `ms` not from 0 to 2^31 - 1, or `signal` not an AbortSignal.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    assertDelayMs(ms, "ms", "Invalid sleep arguments");
    const listens = (signal as { addEventListener?: unknown; removeEventListener?: unknown } | null)?.addEventListener;
    if (signal !== undefined && (typeof listens !== "function" || typeof signal?.removeEventListener !== "function")) {
      throw new ValidationError("Invalid signal", [{ path: ["signal"], message: "must be an AbortSignal" }]);
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

export function positiveIntegerIssue(name: string, value: unknown): { path: string[]; message: string }[] {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1
    ? []
    : [{ path: [name], message: `${name} must be a positive integer (ms)` }];
}

function integerIssue(name: string, value: unknown, min: number): { path: string[]; message: string }[] {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min
    ? []
    : [{ path: ["retry", name], message: `${name} must be an integer of at least ${min}` }];
}

/**
 * A delay: an integer from 0 to MAX_DELAY_MS. A longer one passed the check, and the wait it made
 * (past setTimeout's limit) failed the call with "Invalid sleep arguments" mid-way: a throttled
 * EventBridge entry was then neither retried nor dead-lettered.
 */
function delayIssue(name: string, value: unknown): { path: string[]; message: string }[] {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= MAX_DELAY_MS
    ? []
    : [{ path: ["retry", name], message: `${name} must be an integer from 0 to ${MAX_DELAY_MS}` }];
}

/** A policy as `retryPolicy` makes it, and a retry number from 1: checked before the delay is computed. */
function assertPolicy(policy: RetryPolicy, retry: number): void {
  assertObject(policy, "policy", "retry policy");
  const issues = [
    ...delayIssue("baseDelayMs", policy.baseDelayMs),
    ...delayIssue("maxDelayMs", policy.maxDelayMs),
    ...functionIssues(policy.random, ["retry", "random"], true),
  ];
  if (typeof retry !== "number" || !Number.isSafeInteger(retry) || retry < 1) {
    issues.push({ path: ["retry"], message: "the retry number must be an integer of at least 1" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid retry policy", issues);
}
