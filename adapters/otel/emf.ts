/**
 * CloudWatch Embedded Metric Format: metrics as JSON log lines that CloudWatch Logs turns into
 * CloudWatch metrics, with no exporter, agent or network call. On Lambda, write them to stdout
 * (`console.log`) before the handler returns: the runtime ships the log lines.
 *
 * One line per data point, its attributes as dimensions (but for one named `_aws` or like one of the
 * line's metric values, which would overwrite that part of the line: left out). Counters are written as they were
 * collected, so give the reader delta temporality (`aggregationTemporalitySelector: () =>
 * AggregationTemporality.DELTA`): CloudWatch sums what each line reports. A histogram becomes its
 * `.sum`, `.count` and `.max` (and `.min`) over the collection interval.
 */
import { ValidationError } from "../../src/index.js";
import type { HistogramValue, MetricDataLike, MetricsCollector, ResourceMetricsLike } from "../http/index.js";

export interface EmfOptions {
  /** The CloudWatch namespace, `EventFlows/orders` say. */
  readonly namespace: string;
  /** The lines' timestamp in ms. Defaults to now. */
  readonly timestamp?: number;
}

/** CloudWatch allows at most 30 dimensions per metric. */
export const MAX_EMF_DIMENSIONS = 30;

const HISTOGRAM = 0;
const GAUGE = 2;
const SUM = 3;

/** The EMF lines (JSON text, one per data point) of what a reader collected. */
export function emfLines(resourceMetrics: ResourceMetricsLike, options: EmfOptions): string[] {
  if (typeof options?.namespace !== "string" || options.namespace.length === 0 || options.namespace.length > 255) {
    throw new ValidationError("Invalid EMF options", [{ path: ["namespace"], message: "must be 1 to 255 characters" }]);
  }
  const timestamp = options.timestamp ?? Date.now();
  const lines: string[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const kind = metric.dataPointType;
      if (kind !== HISTOGRAM && kind !== SUM && kind !== GAUGE) continue;
      for (const point of metric.dataPoints) {
        const values =
          kind === HISTOGRAM ? histogramValues(metric, point.value as HistogramValue) : single(metric, point.value);
        if (values.length === 0) continue;
        // The line's own members: an attribute of the same name would overwrite `_aws` (the metric
        // definitions) or a metric's value, so such an attribute is left out of the dimensions.
        const reserved = new Set(["_aws", ...values.map(([name]) => name)]);
        const dimensions: Record<string, string> = {};
        for (const [key, value] of Object.entries(point.attributes)) {
          if (value === undefined || value === null || reserved.has(key)) continue;
          if (Object.keys(dimensions).length === MAX_EMF_DIMENSIONS) break;
          dimensions[key] = Array.isArray(value) ? JSON.stringify(value) : String(value);
        }
        lines.push(
          JSON.stringify({
            _aws: {
              Timestamp: timestamp,
              CloudWatchMetrics: [
                {
                  Namespace: options.namespace,
                  Dimensions: [Object.keys(dimensions)],
                  Metrics: values.map(([name, , unit]) => ({ Name: name, Unit: unit })),
                },
              ],
            },
            ...dimensions,
            ...Object.fromEntries(values.map(([name, value]) => [name, value])),
          }),
        );
      }
    }
  }
  return lines;
}

/**
 * Collects and writes the EMF lines (to `console.log` unless `write` is given): call it at the end of
 * a Lambda invocation.
 */
export async function writeEmf(
  collector: MetricsCollector,
  options: EmfOptions & { readonly write?: (line: string) => void },
): Promise<number> {
  const { resourceMetrics } = await collector.collect();
  const lines = emfLines(resourceMetrics, options);
  const write = options.write ?? ((line: string) => console.log(line));
  for (const line of lines) write(line);
  return lines.length;
}

type EmfValue = readonly [name: string, value: number, unit: string];

function single(metric: MetricDataLike, value: unknown): EmfValue[] {
  return typeof value === "number" && Number.isFinite(value) ? [[metric.descriptor.name, value, unitOf(metric)]] : [];
}

function histogramValues(metric: MetricDataLike, value: HistogramValue): EmfValue[] {
  const name = metric.descriptor.name;
  const unit = unitOf(metric);
  const values: EmfValue[] = [
    [`${name}.sum`, value.sum ?? 0, unit],
    [`${name}.count`, value.count, "Count"],
  ];
  if (value.count > 0 && typeof value.max === "number") values.push([`${name}.max`, value.max, unit]);
  if (value.count > 0 && typeof value.min === "number") values.push([`${name}.min`, value.min, unit]);
  return values;
}

const UNITS: Readonly<Record<string, string>> = {
  s: "Seconds",
  ms: "Milliseconds",
  us: "Microseconds",
  By: "Bytes",
  KiBy: "Kilobytes",
  MiBy: "Megabytes",
  "%": "Percent",
  "1": "None",
};

function unitOf(metric: MetricDataLike): string {
  const unit = metric.descriptor.unit ?? "";
  if (unit.startsWith("{")) return "Count";
  return UNITS[unit] ?? "None";
}
