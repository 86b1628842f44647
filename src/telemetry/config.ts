import { ValidationError } from "../errors.js";
import { unknownKeyIssues } from "../internal/validate.js";

/** Library-wide telemetry settings; every component also takes its own `telemetry: false`. */
export interface TelemetryConfig {
  /** `false` turns every EventFlows span off, whatever provider is registered. Defaults to true. */
  readonly tracing?: boolean;
  /**
   * A store call (append, a whole read) slower than this many ms logs a warning and adds a
   * `eventflows.slow` event to its span. `false` turns the check off. Defaults to 1000.
   */
  readonly slowStoreCallMs?: number | false;
  /**
   * Loading an aggregate (snapshot and replay) slower than this many ms logs a warning and adds a
   * `eventflows.slow` event to its span. `false` turns the check off. Defaults to 1000.
   */
  readonly slowRehydrationMs?: number | false;
}

export interface ResolvedTelemetryConfig {
  readonly tracing: boolean;
  readonly slowStoreCallMs: number | false;
  readonly slowRehydrationMs: number | false;
}

const DEFAULTS: ResolvedTelemetryConfig = { tracing: true, slowStoreCallMs: 1000, slowRehydrationMs: 1000 };

let current: ResolvedTelemetryConfig = DEFAULTS;

/**
 * Changes the library-wide telemetry settings; fields left out keep their current value. Call with
 * no argument to restore the defaults.
 * @throws {ValidationError} settings that are not an object (null, a string), a threshold that is not
 *   a non-negative number or `false`, or `tracing` that is not a boolean; nothing is changed.
 */
export function configureTelemetry(config?: TelemetryConfig): void {
  if (config === undefined) {
    current = DEFAULTS;
    return;
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ValidationError("Invalid telemetry options", [
      { path: [], message: "options must be an object ({ tracing, slowStoreCallMs, slowRehydrationMs })" },
    ]);
  }
  // A misspelt key was dropped without a word: `tracng: false` left tracing on.
  const unknown = unknownKeyIssues(config, ["tracing", "slowStoreCallMs", "slowRehydrationMs"]);
  if (unknown.length > 0) throw new ValidationError("Invalid telemetry options", unknown);
  for (const key of ["slowStoreCallMs", "slowRehydrationMs"] as const) {
    const value = config[key];
    if (value === undefined || value === false) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new ValidationError("Invalid telemetry options", [
        { path: [key], message: "must be a non-negative number of milliseconds or false" },
      ]);
    }
  }
  if (config.tracing !== undefined && typeof config.tracing !== "boolean") {
    throw new ValidationError("Invalid telemetry options", [{ path: ["tracing"], message: "must be a boolean" }]);
  }
  current = {
    tracing: config.tracing ?? current.tracing,
    slowStoreCallMs: config.slowStoreCallMs ?? current.slowStoreCallMs,
    slowRehydrationMs: config.slowRehydrationMs ?? current.slowRehydrationMs,
  };
}

export function telemetryConfig(): ResolvedTelemetryConfig {
  return current;
}
