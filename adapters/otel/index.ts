/**
 * @module @eventflows/core/otel: OpenTelemetry wiring without an SDK in the library. `registerOpenTelemetry`
 * registers the application's SDK as the API globals in one call (Node, Bun, Lambda). The Prometheus
 * text serializer (also on the HTTP routes' `metrics` option), CloudWatch Embedded Metric Format
 * lines for Lambda, and a fetch-based OTLP/HTTP JSON export of metrics and spans for Workers, flushed
 * with `waitUntil`. Each takes what an SDK `MetricReader` collects or a `SpanBuffer` holds.
 */
export {
  type HistogramValue,
  type HrTimeLike,
  type MetricDataLike,
  type MetricDataPointLike,
  type MetricsCollector,
  PROMETHEUS_CONTENT_TYPE,
  prometheusName,
  prometheusText,
  type ResourceMetricsLike,
} from "../http/index.js";
export { type AsyncLocalStorageLike, asyncLocalContextManager } from "./async-local-context.js";
export {
  type EmfOptions,
  emfLines,
  MAX_EMF_DIMENSION_NAME,
  MAX_EMF_DIMENSION_VALUE,
  MAX_EMF_DIMENSIONS,
  writeEmf,
} from "./emf.js";
export {
  exportMetrics,
  exportSpans,
  flushMetrics,
  flushSpans,
  type OtlpFlushOptions,
  type OtlpHttpOptions,
  type WaitUntilContext,
} from "./otlp-http.js";
export { keyValues, type OtlpKeyValue, otlpMetricsJson } from "./otlp-json.js";
export { otlpTracesJson, type ReadableSpanLike } from "./otlp-traces-json.js";
export { type RegisteredOpenTelemetry, type RegisterOpenTelemetryOptions, registerOpenTelemetry } from "./register.js";
export { SpanBuffer, type SpanBufferOptions } from "./span-buffer.js";
