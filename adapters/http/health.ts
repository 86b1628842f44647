/**
 * Liveness and readiness. Liveness answers as long as the process serves requests; readiness probes
 * the event store, the bus and any probes of the application's own, concurrently, each within a
 * timeout, and answers 503 problem+json when one fails or hangs. Probe errors are reported to the
 * `onError` hook, never in the response: a failing connection's message may name hosts or users.
 */
import { type EventPublisher, type EventStore, isEventFlowsError, ServiceError } from "../../src/index.js";
import { HttpErrorCode } from "./errors.js";
import { type ProblemDetails, problem } from "./problem-details.js";

/** A readiness check: resolves when the dependency answers. */
export type Probe = (signal: AbortSignal) => Promise<unknown>;

export interface ProbeResult {
  readonly status: "ok" | "failed" | "timed-out";
  readonly durationMs: number;
  /** The error's code when it is an EventFlows error (`SERVICE_ERROR`, say). */
  readonly code?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, ProbeResult>>;
}

/** Default time each probe has to answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
/** The stream the store probe reads the version of: a single-key read on every backend. */
export const HEALTH_PROBE_STREAM = "eventflows-health";

/** Probes the store with one cheap read: the version of a stream that need not exist. */
export function storeProbe(store: EventStore): Probe {
  return () => store.getStreamVersion(HEALTH_PROBE_STREAM);
}

/**
 * Probes a bus with its `ping()` when it has one (remote buses should), else by publishing nothing,
 * which every bus must accept (the EventBus contract checks it).
 */
export function busProbe(bus: EventPublisher): Probe {
  const ping = (bus as { ping?: (signal?: AbortSignal) => Promise<unknown> }).ping;
  return typeof ping === "function" ? (signal) => ping.call(bus, signal) : () => bus.publish([]);
}

/** Runs the probes concurrently; each gets `timeoutMs` and an AbortSignal that fires when it runs out. */
export async function checkReadiness(
  probes: Readonly<Record<string, Probe>>,
  timeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS,
  onProbeError: (name: string, error: unknown) => void = () => undefined,
): Promise<ReadinessReport> {
  const names = Object.keys(probes);
  const results = await Promise.all(
    names.map((name) => runProbe(probes[name] as Probe, timeoutMs, (error) => onProbeError(name, error))),
  );
  const checks: Record<string, ProbeResult> = {};
  names.forEach((name, index) => {
    checks[name] = results[index] as ProbeResult;
  });
  return { ready: results.every((result) => result.status === "ok"), checks };
}

/** The 503 problem for a failed readiness report, naming each failing check. */
export function notReadyProblem(report: ReadinessReport): ProblemDetails {
  const failing = Object.entries(report.checks)
    .filter(([, result]) => result.status !== "ok")
    .map(([name, result]) => `${name} ${result.status === "timed-out" ? "timed out" : "failed"}`);
  return problem(503, HttpErrorCode.NotReady, `Not ready: ${failing.join(", ")}`, { checks: report.checks });
}

const TIMED_OUT: unique symbol = Symbol("timed out");

async function runProbe(probe: Probe, timeoutMs: number, onError: (error: unknown) => void): Promise<ProbeResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const outcome = await Promise.race([Promise.resolve().then(() => probe(controller.signal)), timeout]);
    if (outcome === TIMED_OUT) {
      controller.abort();
      // A probe that hangs is a failure the operator must hear of, like one that throws.
      onError(new ServiceError("readiness probe", "probe", "TimeoutError", true, `no answer within ${timeoutMs} ms`));
      return { status: "timed-out", durationMs: elapsed() };
    }
    return { status: "ok", durationMs: elapsed() };
  } catch (error) {
    onError(error);
    const result: ProbeResult = { status: "failed", durationMs: elapsed() };
    return isEventFlowsError(error) ? { ...result, code: error.code } : result;
  } finally {
    clearTimeout(timer);
  }
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
