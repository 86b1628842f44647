import { setOwn } from "../internal/json.js";
import { activeSpan } from "../telemetry/otel-global.js";
import type { LogFields, Logger, LogLevel } from "./logger.js";
import { levelRank } from "./logger.js";
import { assertLoggerOptions, assertPinoLike } from "./logger-options.js";
import { normalizeFieldName, redacting, redactText, redactValue } from "./redaction.js";

export interface JsonLoggerOptions {
  /** The lowest level written. Defaults to `"info"`. */
  readonly level?: LogLevel;
  /** Where each line goes. Defaults to `console.log` for debug/info and `console.error` for warn/error. */
  readonly write?: (line: string, level: LogLevel) => void;
  /**
   * More field names to redact (compared without case, `-`, `_`), on top of every field whose name
   * contains a word of `DEFAULT_REDACTED_FIELDS`.
   */
  readonly redact?: readonly string[];
  /** Fields on every line (a service name, say); a line's own fields win. */
  readonly base?: LogFields;
  /** The clock; defaults to `() => new Date()`. */
  readonly now?: () => Date;
}

/**
 * A logger that writes one JSON object per line: `time`, `level`, `msg`, then `traceId`/`spanId` of the
 * active span (when one is), then the fields (correlation and causation ids among them when the
 * library knows them). Credentials are redacted by field name and inside text.
 * @throws {ValidationError} options that are not an object, an unknown key or level, a `write` or `now` that is
 *   not a function, a `redact` that is not a list of field names, a `base` that is not an object.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  assertLoggerOptions(options, ["level", "write", "redact", "base", "now"], "logger");
  return uncheckedJsonLogger(options);
}

/**
 * {@link jsonLogger} with options already checked: the library's default logger (no options) makes it
 * so, and every store's bundle then carries no option checks of the loggers (logger-options.ts).
 */
export function uncheckedJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const min = levelRank(level);
  const write = options.write ?? defaultWrite;
  const names = new Set((options.redact ?? []).map(normalizeFieldName));
  const base = options.base;
  const now = options.now ?? (() => new Date());
  const line = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (levelRank(at) < min) return;
    const record: Record<string, unknown> = { time: now().toISOString(), level: at, msg: redactText(message) };
    addSpanIds(record);
    const merged = base === undefined ? fields : { ...base, ...fields };
    if (merged !== undefined) assignOwn(record, redactValue(merged, names), true);
    let text: string;
    try {
      text = JSON.stringify(record);
    } catch {
      text = JSON.stringify({ time: record.time, level: at, msg: record.msg, note: "fields not serializable" });
    }
    write(text, at);
  };
  return redacting({ debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") });
}

function defaultWrite(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}

export interface ConsoleLoggerOptions {
  /** The console written to; defaults to the global `console`. */
  readonly console?: Pick<Console, "debug" | "info" | "warn" | "error">;
  /** More field names to redact, as for {@link jsonLogger}. */
  readonly redact?: readonly string[];
}

/**
 * Writes through the `console` method of each level (message, then the fields object), redacted
 * like the JSON logger's lines: readable output for local development.
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  assertLoggerOptions(options, ["console", "redact"], "console logger");
  const names = new Set((options.redact ?? []).map(normalizeFieldName));
  const line = (at: LogLevel) => (message: string, fields?: LogFields) => {
    const target = options.console ?? console;
    const text = redactText(message);
    if (fields === undefined) target[at](text);
    else target[at](text, redactValue(fields, names));
  };
  return redacting({ debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") });
}

/** The shape of a pino logger (or any logger that takes the fields first, then the message). */
export interface PinoLike {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Adapts a pino-style logger (`logger.info(fields, message)`). Fields are redacted by the same rules
 * as the JSON logger (pino's own `redact` option still applies after), and the active span's ids added.
 */
export function pinoLogger(pino: PinoLike, options: Pick<JsonLoggerOptions, "redact"> = {}): Logger {
  assertPinoLike(pino);
  assertLoggerOptions(options, ["redact"], "pino logger");
  const names = new Set((options.redact ?? []).map(normalizeFieldName));
  const line = (at: LogLevel) => (message: string, fields?: LogFields) => {
    const record: Record<string, unknown> = {};
    addSpanIds(record);
    if (fields !== undefined) assignOwn(record, redactValue(fields, names));
    pino[at](record, redactText(message));
  };
  return redacting({ debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") });
}

/**
 * The active span's trace and span ids, when a span is active. A span that throws when asked (a
 * broken tracer's) adds none: the line is still written.
 */
function addSpanIds(record: Record<string, unknown>): void {
  try {
    const span = activeSpan()?.spanContext();
    if (span !== undefined && span.traceId !== "00000000000000000000000000000000") {
      record.traceId = span.traceId;
      record.spanId = span.spanId;
    }
  } catch {
    // The tracer's failure is reported where the library calls it (spans.ts); a log line is not the place.
  }
}

/** The JSON line's own keys, which a field of the same name must not forge (see `assignOwn`). */
const LINE_KEYS = ["time", "level", "msg", "traceId", "spanId"];

/**
 * `Object.assign(record, fields)`, but a field named "__proto__" stays a field instead of setting a
 * prototype, and with `guard` a field named like one of the line's own keys (from code that logs what
 * a caller sent, say) is written as `field.<name>`, so that it cannot forge a line's level or message.
 */
function assignOwn(record: Record<string, unknown>, fields: unknown, guard?: boolean): void {
  const source = fields as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    setOwn(record, guard && LINE_KEYS.includes(key) ? `field.${key}` : key, source[key]);
  }
}
