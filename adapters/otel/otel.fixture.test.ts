/** An SDK MeterProvider with a reader collected by hand, as the application would pass it to these exporters. */
import { type AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

class HandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export function handReader(temporality?: AggregationTemporality): { reader: MetricReader; provider: MeterProvider } {
  const reader = new HandReader(temporality === undefined ? {} : { aggregationTemporalitySelector: () => temporality });
  return { reader, provider: new MeterProvider({ readers: [reader] }) };
}

/**
 * Readers that cannot collect, as the SDK leaves them: one whose provider was shut down, and one
 * never registered on a MeterProvider. Each `collect()` rejects with the SDK's plain Error.
 */
export async function readersThatCannotCollect(temporality?: AggregationTemporality): Promise<MetricReader[]> {
  const { reader, provider } = handReader(temporality);
  await provider.shutdown();
  return [reader, new HandReader()];
}
