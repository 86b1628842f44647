/**
 * A framework-free health check: runs named checks concurrently, each within a timeout, and returns a
 * typed report. The Hono routes, the Lambda handlers and the worker template answer `/health/ready`
 * with it; anything else (a CLI, a custom server, a scheduled job) can call it too. Check errors go to
 * `onError`, never into the report: a failing connection's message may name hosts or users.
 */
import { type Issue, isEventFlowsError, ServiceError, ValidationError } from "../errors.js";
import { callHook } from "../internal/hooks.js";
import { setOwn } from "../internal/json.js";
import { functionIssues, MAX_DELAY_MS, unknownKeyIssues } from "../internal/validate.js";

/** Anything with a `ping()`: every store and bus of the library has one. */
export interface Pingable {
  /** Resolves when the backend answers; rejects (or never settles) when it does not. */
  ping(signal?: AbortSignal): Promise<unknown>;
}

/** A check: resolves when the dependency answers. The signal fires when its time runs out. */
export type HealthCheckFunction = (signal: AbortSignal) => Promise<unknown>;

/** A check by function, or a store or bus checked through its `ping()`. */
export type HealthCheckTarget = HealthCheckFunction | Pingable;

export interface HealthCheckResult {
  readonly status: "ok" | "failed" | "timed-out";
  readonly durationMs: number;
  /** The error's code when it is an EventFlows error (`SERVICE_ERROR`, say). */
  readonly code?: string;
}

export interface HealthReport {
  /** True when every check answered in time. */
  readonly healthy: boolean;
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
}

export interface HealthCheckOptions {
  /** The checks by name: functions, or stores and buses (their `ping()` runs). */
  readonly checks: Readonly<Record<string, HealthCheckTarget>>;
  /** Time each check has, in ms. Defaults to {@link DEFAULT_HEALTH_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Hears why a check failed (the error, or a `ServiceError` for a timeout); the report does not say. */
  readonly onError?: (name: string, error: unknown) => void;
}

/** Default time each check has to answer. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;
/** The stream a store's default `ping()` reads the version of: a single-key read on every backend. */
export const HEALTH_CHECK_STREAM = "eventflows-health";

/**
 * Runs the checks concurrently; each gets `timeoutMs` and an AbortSignal that fires when it runs out.
 * @throws {ValidationError} options without a `checks` object, a key it does not take, a check that is
 *   neither a function nor has a `ping()`, a `timeoutMs` that is not a number from 0 to `MAX_DELAY_MS` (2^31-1 ms, the longest timer
 *   a runtime keeps), or an `onError` that is not a function.
 */
export async function healthCheck(options: HealthCheckOptions): Promise<HealthReport> {
  const issues = optionIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid health check options", issues);
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const onError = options.onError;
  const names = Object.keys(options.checks);
  const results = await Promise.all(
    names.map((name) =>
      runCheck(asFunction(options.checks[name] as HealthCheckTarget), timeoutMs, (error) => {
        // A hook that throws must not turn the check's report into a failure of the whole probe.
        if (onError !== undefined) callHook("health onError", onError, name, error);
      }),
    ),
  );
  const checks: Record<string, HealthCheckResult> = {};
  // An own field whatever the name: a check named "__proto__" (an own key, as JSON.parse makes one)
  // set the report's prototype instead, and its failure was missing from the report.
  names.forEach((name, index) => {
    setOwn(checks, name, results[index]);
  });
  return { healthy: results.every((result) => result.status === "ok"), checks };
}

function optionIssues(options: unknown): Issue[] {
  const given = options as Partial<Record<keyof HealthCheckOptions, unknown>> | null | undefined;
  const checks = given?.checks;
  if (typeof checks !== "object" || checks === null || Array.isArray(checks)) {
    return [{ path: ["checks"], message: "checks must be an object of named checks" }];
  }
  // A misspelt key would be ignored: `timeout` for `timeoutMs` left each check the default 2 s.
  const issues = unknownKeyIssues(given, ["checks", "timeoutMs", "onError"]);
  for (const [name, target] of Object.entries(checks)) {
    const pingable = typeof target === "object" && target !== null && typeof target.ping === "function";
    if (typeof target !== "function" && !pingable) {
      issues.push({ path: ["checks", name], message: "a check must be a function or have a ping() method" });
    }
  }
  const timeoutMs = given?.timeoutMs;
  // Past 2^31-1 ms a timer fires at once: such a timeout timed every check out within a millisecond.
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_DELAY_MS)
  ) {
    issues.push({
      path: ["timeoutMs"],
      message: `timeoutMs must be a number of milliseconds from 0 to ${MAX_DELAY_MS}`,
    });
  }
  issues.push(...functionIssues(given?.onError, "onError"));
  return issues;
}

function asFunction(target: HealthCheckTarget): HealthCheckFunction {
  return typeof target === "function" ? target : (signal) => target.ping(signal);
}

const TIMED_OUT: unique symbol = Symbol("timed out");

async function runCheck(
  check: HealthCheckFunction,
  timeoutMs: number,
  onError: (error: unknown) => void,
): Promise<HealthCheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const outcome = await Promise.race([Promise.resolve().then(() => check(controller.signal)), timeout]);
    if (outcome === TIMED_OUT) {
      controller.abort();
      // A check that hangs is a failure the operator must hear of, like one that throws.
      onError(new ServiceError("health check", "ping", "TimeoutError", true, `no answer within ${timeoutMs} ms`));
      return { status: "timed-out", durationMs: elapsed() };
    }
    return { status: "ok", durationMs: elapsed() };
  } catch (error) {
    onError(error);
    const result: HealthCheckResult = { status: "failed", durationMs: elapsed() };
    return isEventFlowsError(error) ? { ...result, code: error.code } : result;
  } finally {
    clearTimeout(timer);
  }
}
