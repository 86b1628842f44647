import { type Issue, ValidationError } from "../errors.js";
import { functionIssues, isArray, kindOf, unknownKeyIssues } from "../internal/validate.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

const METHODS = ["debug", "info", "warn", "error"] as const;

/**
 * Throws a ValidationError naming each bad option of a logger factory, when the logger is made: a
 * `redact` that is not a list (or `write` that is not a function) was a TypeError at the library's
 * first line, which the logger guard then dropped, and a misspelt key was ignored, so a misspelt
 * `redact` wrote the very fields it named.
 */
export function assertLoggerOptions(options: unknown, known: readonly string[], what: string): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || isArray(options) !== false) {
    throw new ValidationError(`Invalid ${what} options`, [
      { path: [], message: `options must be an object, got ${kindOf(options)}` },
    ]);
  }
  const o = options as Record<string, unknown>;
  const issues: Issue[] = unknownKeyIssues(o, known);
  if (known.includes("level") && o.level !== undefined && !LOG_LEVELS.includes(o.level as LogLevel)) {
    issues.push({ path: ["level"], message: `level must be one of ${LOG_LEVELS.join(", ")}` });
  }
  for (const key of ["write", "now"]) if (known.includes(key)) issues.push(...functionIssues(o[key], key));
  if (o.redact !== undefined) {
    if (!Array.isArray(o.redact)) {
      issues.push({ path: ["redact"], message: `redact must be a list of field names, got ${kindOf(o.redact)}` });
    } else {
      o.redact.forEach((name, index) => {
        if (typeof name !== "string" || name === "") {
          issues.push({ path: ["redact", index], message: `must be a non-empty field name, got ${kindOf(name)}` });
        }
      });
    }
  }
  if (
    known.includes("base") &&
    o.base !== undefined &&
    (typeof o.base !== "object" || o.base === null || Array.isArray(o.base))
  ) {
    issues.push({ path: ["base"], message: `base must be an object of fields, got ${kindOf(o.base)}` });
  }
  if (known.includes("console") && o.console !== undefined && !hasLogMethods(o.console)) {
    issues.push({ path: ["console"], message: "console must have debug, info, warn and error functions" });
  }
  if (issues.length > 0) throw new ValidationError(`Invalid ${what} options`, issues);
}

/** Throws a ValidationError unless `pino` has the four level methods `pinoLogger` calls. */
export function assertPinoLike(pino: unknown): void {
  if (!hasLogMethods(pino)) {
    throw new ValidationError("Invalid pino logger", [
      { path: ["pino"], message: `must have debug, info, warn and error functions, got ${kindOf(pino)}` },
    ]);
  }
}

function hasLogMethods(value: unknown): boolean {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const target = value as Record<string, unknown>;
  return METHODS.every((method) => typeof target[method] === "function");
}
