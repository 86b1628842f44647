/**
 * Liveness and readiness. Liveness answers as long as the process serves requests; readiness probes
 * the event store, the bus and any probes of the application's own through the core's `healthCheck()`
 * (concurrently, each within a timeout), and answers 503 problem+json when one fails or hangs. Probe
 * errors are reported to the `onError` hook, never in the response: a failing connection's message
 * may name hosts or users.
 */
import {
  DEFAULT_HEALTH_TIMEOUT_MS,
  type EventPublisher,
  type EventStore,
  HEALTH_CHECK_STREAM,
  type HealthCheckFunction,
  type HealthCheckResult,
  type HealthCheckTarget,
  healthCheck,
} from "../../src/index.js";
import { HttpErrorCode } from "./errors.js";
import { type ProblemDetails, problem } from "./problem-details.js";

/** A readiness check: a function that resolves when the dependency answers, or a store or bus (its `ping()`). */
export type Probe = HealthCheckTarget;

export type ProbeResult = HealthCheckResult;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ProbeResult>>;
}

/** Default time each probe has to answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = DEFAULT_HEALTH_TIMEOUT_MS;
/** The stream a store's default `ping()` reads the version of. */
export const HEALTH_PROBE_STREAM = HEALTH_CHECK_STREAM;

/** Probes the store with its `ping()`: one cheap round trip (`select 1`, DescribeTable, a version read). */
export function storeProbe(store: EventStore): HealthCheckFunction {
  return (signal) => store.ping(signal);
}

/**
 * Probes a bus with its `ping()` when it has one (every bus of the library has), else by publishing
 * nothing, which every bus must accept (the EventBus contract checks it).
 */
export function busProbe(bus: EventPublisher): HealthCheckFunction {
  const ping = (bus as { ping?: (signal?: AbortSignal) => Promise<unknown> }).ping;
  return typeof ping === "function" ? (signal) => ping.call(bus, signal) : () => bus.publish([]);
}

/** Runs the probes concurrently through the core's `healthCheck()`; each gets `timeoutMs`. */
export async function checkReadiness(
  probes: Readonly<Record<string, Probe>>,
  timeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS,
  onProbeError: (name: string, error: unknown) => void = () => undefined,
): Promise<ReadinessReport> {
  const report = await healthCheck({ checks: probes, timeoutMs, onError: onProbeError });
  return { ready: report.healthy, checks: report.checks };
}

/** The 503 problem for a failed readiness report, naming each failing check. */
export function notReadyProblem(report: ReadinessReport): ProblemDetails {
  const failing = Object.entries(report.checks)
    .filter(([, result]) => result.status !== "ok")
    .map(([name, result]) => `${name} ${result.status === "timed-out" ? "timed out" : "failed"}`);
  return problem(503, HttpErrorCode.NotReady, `Not ready: ${failing.join(", ")}`, { checks: report.checks });
}

/** Default time a readiness report is reused: probes run at most once a second, however often asked. */
export const DEFAULT_READINESS_CACHE_MS = 1000;

/**
 * Reuses a readiness report for `cacheMs`: requests within that window (and requests arriving while
 * the probes run) share one run, so a flood of `/health/ready` requests costs the backend one probe
 * per window. `cacheMs: 0` probes on every request.
 */
export function readinessCache(
  cacheMs: number = DEFAULT_READINESS_CACHE_MS,
  now: () => number = () => performance.now(),
): (run: () => Promise<ReadinessReport>) => Promise<ReadinessReport> {
  let last: { readonly at: number; readonly report: Promise<ReadinessReport> } | undefined;
  return (run) => {
    const at = now();
    if (last !== undefined && at - last.at < cacheMs) return last.report;
    const report = run();
    last = { at, report };
    return report;
  };
}
