import { getLogger } from "../logging/library-logger.js";
import { reportContextFailuresTo } from "./otel-global.js";

/** What a failure came from: the registered tracer (its spans included), meter or context manager. */
export type TelemetrySource = "tracer" | "meter" | "context manager";

// The sources reported since their provider was last (re)registered.
const reported = new Set<TelemetrySource>();

/**
 * Reports that the application's OpenTelemetry provider threw while the library traced or measured
 * something. The error never reaches what was observed (telemetry must not change an outcome), and
 * is not swallowed silently either: the first one after each registration goes to the library's
 * logger as an error line; later ones are dropped, since a broken provider would throw on every call.
 */
export function reportTelemetryFailure(source: TelemetrySource, error: unknown): void {
  if (reported.has(source)) return;
  reported.add(source);
  getLogger().error(`the OpenTelemetry ${source} threw; its errors are ignored (reported once)`, {
    error,
  });
}

/** A new provider is registered: its first failure is reported again. */
export function forgetTelemetryFailures(source: TelemetrySource): void {
  reported.delete(source);
}

reportContextFailuresTo((error) => reportTelemetryFailure("context manager", error));
