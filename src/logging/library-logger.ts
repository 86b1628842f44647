import { ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { uncheckedJsonLogger } from "./json-logger.js";
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "./logger.js";
import { redactsItself, redactText, redactValue } from "./redaction.js";

// Made on first use, not at import: importing the library has no side effects.
let configured: Logger | undefined;
// The logger whose failure was reported last: each logger that throws is reported once.
let reported: Logger | undefined;

/**
 * Sets the logger the library writes its own lines to (hook failures, failed deliveries, slow paths)
 * wherever a component was not given one. Defaults to `jsonLogger()`. Pass `undefined` to restore it.
 * The library's lines reach it redacted as the JSON logger redacts them (credentials in field names and
 * inside text, errors as `{ name, code, message, stack, cause }`); the library's own loggers
 * (`jsonLogger`, `consoleLogger`, `pinoLogger`) redact for themselves and get the line as it was.
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
  configured ??= guarded(uncheckedJsonLogger());
  return configured;
}

// No field names of its own to redact: a custom logger is given the default rules (see redactValue).
const NO_NAMES: ReadonlySet<string> = /* @__PURE__ */ new Set();

/**
 * The logger with methods that never throw (made once per `setLogger`, not per line). A line for a
 * logger that does not redact for itself is redacted here first, so that no credential in the
 * library's own fields (an error whose message holds a connection string) reaches an application's
 * logger; a logger of the library's redacts for itself, so each line is redacted once.
 */
function guarded(logger: Logger): Logger {
  const redact = !redactsItself(logger);
  const line = (level: LogLevel) => (message: string, fields?: LogFields) => {
    try {
      if (!redact) logger[level](message, fields);
      else {
        logger[level](
          redactText(message),
          fields === undefined ? undefined : (redactValue(fields, NO_NAMES) as LogFields),
        );
      }
    } catch (error) {
      if (reported === logger) return;
      reported = logger;
      try {
        uncheckedJsonLogger().error("the library's logger threw; its lines are dropped (reported once)", { error });
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
