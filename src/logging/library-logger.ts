import { ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { jsonLogger } from "./json-logger.js";
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "./logger.js";

// Made on first use, not at import: importing the library has no side effects.
let configured: Logger | undefined;
// The logger whose failure was reported last: each logger that throws is reported once.
let reported: Logger | undefined;

/**
 * Sets the logger the library writes its own lines to (hook failures, failed deliveries, slow paths)
 * wherever a component was not given one. Defaults to `jsonLogger()`. Pass `undefined` to restore it.
 * A logger that throws never fails what the library was doing: the line is dropped, and the first
 * failure of each logger is written once through the default JSON logger (standard error).
 * @throws {ValidationError} a logger without the four methods `debug`, `info`, `warn` and `error`.
 */
export function setLogger(logger: Logger | undefined): void {
  if (logger !== undefined) {
    const missing = LOG_LEVELS.filter((level) => typeof (logger as Partial<Logger> | null)?.[level] !== "function");
    if (missing.length > 0) {
      throw new ValidationError("Invalid logger", [
        { path: [], message: `a logger has debug, info, warn and error methods (missing: ${missing.join(", ")})` },
      ]);
    }
  }
  configured = logger === undefined ? undefined : guarded(logger);
}

/** The logger set by {@link setLogger}, else the default JSON-lines logger; its methods never throw. */
export function getLogger(): Logger {
  configured ??= guarded(jsonLogger());
  return configured;
}

/** The logger with methods that never throw (made once per `setLogger`, not per line). */
function guarded(logger: Logger): Logger {
  const line = (level: LogLevel) => (message: string, fields?: LogFields) => {
    try {
      logger[level](message, fields);
    } catch (error) {
      if (reported === logger) return;
      reported = logger;
      try {
        jsonLogger().error("the library's logger threw; its lines are dropped (reported once)", { error });
      } catch {
        // Standard error itself failed: nothing is left to report to.
      }
    }
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

/** What a log line says about an event: ids and type, never its data or other metadata. */
export function eventFields(event: EventEnvelope | undefined): LogFields {
  if (event === undefined) return {};
  const fields: Record<string, unknown> = { eventId: event.id, eventType: event.type, streamId: event.streamId };
  const metadata = event.metadata;
  if (typeof metadata?.correlationId === "string") fields.correlationId = metadata.correlationId;
  if (typeof metadata?.causationId === "string") fields.causationId = metadata.causationId;
  return fields;
}
