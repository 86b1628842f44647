import type { Span } from "@opentelemetry/api";
import { getLogger } from "../logging/library-logger.js";
import type { Logger } from "../logging/logger.js";
import { addSpanEvent } from "./spans.js";

export interface SlowPathReport {
  /** What was slow: `"append"`, `"readStream"`, `"rehydration"`... */
  readonly operation: string;
  readonly streamId?: string;
  readonly durationMs: number;
  readonly thresholdMs: number;
  /** Events written or replayed. */
  readonly events?: number;
}

/**
 * Reports a call that took longer than its threshold: a warning line and, on the call's span, an
 * `eventflows.slow` event with the same numbers. Thresholds come from `configureTelemetry`.
 */
export function reportSlowPath(report: SlowPathReport, span: Span | undefined, logger: Logger = getLogger()): void {
  const durationMs = Math.round(report.durationMs * 1000) / 1000;
  const fields: Record<string, unknown> = {
    operation: report.operation,
    durationMs,
    thresholdMs: report.thresholdMs,
  };
  if (report.streamId !== undefined) fields.streamId = report.streamId;
  if (report.events !== undefined) fields.events = report.events;
  logger.warn(`slow ${report.operation}: ${durationMs} ms (threshold ${report.thresholdMs} ms)`, fields);
  addSpanEvent(span, "eventflows.slow", {
    "eventflows.operation": report.operation,
    "eventflows.duration_ms": durationMs,
    "eventflows.threshold_ms": report.thresholdMs,
    ...(report.streamId === undefined ? {} : { "eventflows.stream_id": report.streamId }),
    ...(report.events === undefined ? {} : { "eventflows.event_count": report.events }),
  });
}
