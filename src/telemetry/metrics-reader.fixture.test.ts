/** An SDK MeterProvider with a reader the test collects from by hand: the library's metrics, as an exporter sees them. */
import { DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { configureMetrics } from "./metrics.js";

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface Point {
  readonly name: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** A counter's or gauge's value; a histogram's count. */
  readonly value: number;
  /** A histogram's sum. */
  readonly sum?: number;
}

/** Points the library's metrics to a fresh SDK provider; `collect()` returns every data point by metric. */
export function collectingMetrics(): {
  collect: () => Promise<Point[]>;
  provider: MeterProvider;
  /** Each histogram's bucket boundaries by metric name, as an exporter (Prometheus' `le`) gets them. */
  boundaries: () => Promise<Record<string, readonly number[]>>;
} {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  configureMetrics({ enabled: true, meterProvider: provider });
  return {
    provider,
    collect: async () => points((await reader.collect()).resourceMetrics),
    boundaries: async () => boundaries((await reader.collect()).resourceMetrics),
  };
}

export function points(resourceMetrics: ResourceMetrics): Point[] {
  const out: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints) {
        const value = point.value as number | { count: number; sum?: number };
        if (metric.dataPointType === DataPointType.HISTOGRAM && typeof value === "object") {
          out.push({
            name: metric.descriptor.name,
            attributes: point.attributes,
            value: value.count,
            sum: value.sum ?? 0,
          });
        } else out.push({ name: metric.descriptor.name, attributes: point.attributes, value: value as number });
      }
    }
  }
  return out;
}

function boundaries(resourceMetrics: ResourceMetrics): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const first = metric.dataPoints[0]?.value as { buckets?: { boundaries: number[] } } | undefined;
      if (metric.dataPointType === DataPointType.HISTOGRAM && first?.buckets) {
        out[metric.descriptor.name] = first.buckets.boundaries;
      }
    }
  }
  return out;
}

/** The points of one metric. */
export const named = (all: readonly Point[], name: string) => all.filter((point) => point.name === name);
