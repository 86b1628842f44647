/** How much a logger writes: each level includes the ones after it. */
export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The logger port: what the library writes its own lines to (failed hooks, failed deliveries, slow
 * paths). Any object with these four methods fits: the default JSON-lines logger, `consoleLogger`,
 * or a pino instance through `pinoLogger`.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}
