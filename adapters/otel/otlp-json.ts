/**
 * The OTLP/HTTP JSON encoding of collected metrics (an `ExportMetricsServiceRequest`, as the
 * OpenTelemetry protocol's JSON mapping spells it: 64-bit integers and nanosecond times as decimal
 * strings, attributes as `{ key, value: { stringValue | intValue | doubleValue | boolValue | arrayValue } }`).
 * Written here, over the SDK's `ResourceMetrics` shape, so that a Worker needs no exporter package.
 */
import type { HistogramValue, HrTimeLike, MetricDataLike, ResourceMetricsLike } from "../http/index.js";

const HISTOGRAM = 0;
const GAUGE = 2;
const SUM = 3;

type AnyValue =
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly intValue: string }
  | { readonly doubleValue: number | string }
  | { readonly arrayValue: { readonly values: AnyValue[] } };

export interface OtlpKeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

/** The JSON body of an OTLP/HTTP metrics export (`POST /v1/metrics`, `content-type: application/json`). */
export function otlpMetricsJson(resourceMetrics: ResourceMetricsLike): { readonly resourceMetrics: unknown[] } {
  return {
    resourceMetrics: [
      {
        resource: { attributes: keyValues(resourceMetrics.resource?.attributes ?? {}) },
        scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
          scope: { name: scope.scope?.name ?? "", version: scope.scope?.version ?? "" },
          metrics: scope.metrics.flatMap(metricJson),
        })),
      },
    ],
  };
}

function metricJson(metric: MetricDataLike): unknown[] {
  const base = {
    name: metric.descriptor.name,
    description: metric.descriptor.description ?? "",
    unit: metric.descriptor.unit ?? "",
  };
  // The SDK counts temporality from 0 (delta); OTLP from 1 (0 is "unspecified").
  const aggregationTemporality = (metric.aggregationTemporality ?? 1) + 1;
  const points = metric.dataPoints;
  switch (metric.dataPointType) {
    case SUM:
      return [
        {
          ...base,
          sum: {
            dataPoints: points.map(numberPoint),
            aggregationTemporality,
            isMonotonic: metric.isMonotonic === true,
          },
        },
      ];
    case GAUGE:
      return [{ ...base, gauge: { dataPoints: points.map(numberPoint) } }];
    case HISTOGRAM:
      return [
        {
          ...base,
          histogram: {
            aggregationTemporality,
            dataPoints: points.map((point) => {
              const value = point.value as HistogramValue;
              return {
                ...times(point),
                attributes: keyValues(point.attributes),
                count: String(value.count),
                sum: double(value.sum ?? 0),
                bucketCounts: value.buckets.counts.map(String),
                explicitBounds: [...value.buckets.boundaries],
                ...(typeof value.min === "number" && value.count > 0 ? { min: double(value.min) } : {}),
                ...(typeof value.max === "number" && value.count > 0 ? { max: double(value.max) } : {}),
              };
            }),
          },
        },
      ];
    default:
      // Exponential histograms are left out: the library records none.
      return [];
  }
}

function numberPoint(point: MetricDataLike["dataPoints"][number]) {
  return { ...times(point), attributes: keyValues(point.attributes), asDouble: double(Number(point.value)) };
}

/**
 * A double as the protocol's JSON mapping writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`
 * (JSON.stringify would write `null`, which a receiver reads as 0 or refuses).
 */
function double(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function times(point: { readonly startTime?: HrTimeLike; readonly endTime?: HrTimeLike }) {
  return {
    startTimeUnixNano: nanos(point.startTime),
    timeUnixNano: nanos(point.endTime ?? ([Math.floor(Date.now() / 1000), 0] as const)),
  };
}

export function nanos(time: HrTimeLike | undefined): string {
  if (time === undefined) return "0";
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

export function keyValues(attributes: Readonly<Record<string, unknown>>): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    const encoded = anyValue(value);
    if (encoded !== undefined) out.push({ key, value: encoded });
  }
  return out;
}

function anyValue(value: unknown): AnyValue | undefined {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  // An int64 is a decimal string: an integer past 2^53 (1e21 prints as "1e+21", 2^64 overflows int64)
  // made the receiver refuse the whole export, so it goes as the double it is.
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: double(value) };
  }
  if (Array.isArray(value)) {
    return { arrayValue: { values: value.flatMap((each) => anyValue(each) ?? []) } };
  }
  return undefined;
}
