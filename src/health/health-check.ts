/**
 * A framework-free health check: runs named checks concurrently, each within a timeout, and returns a
 * typed report. The Hono routes, the Lambda handlers and the worker template answer `/health/ready`
 * with it; anything else (a CLI, a custom server, a scheduled job) can call it too. Check errors go to
 * `onError`, never into the report: a failing connection's message may name hosts or users.
 */
import { isEventFlowsError, ServiceError } from "../errors.js";

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

/** Runs the checks concurrently; each gets `timeoutMs` and an AbortSignal that fires when it runs out. */
export async function healthCheck(options: HealthCheckOptions): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const onError = options.onError ?? (() => undefined);
  const names = Object.keys(options.checks);
  const results = await Promise.all(
    names.map((name) =>
      runCheck(asFunction(options.checks[name] as HealthCheckTarget), timeoutMs, (error) => onError(name, error)),
    ),
  );
  const checks: Record<string, HealthCheckResult> = {};
  names.forEach((name, index) => {
    checks[name] = results[index] as HealthCheckResult;
  });
  return { healthy: results.every((result) => result.status === "ok"), checks };
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
