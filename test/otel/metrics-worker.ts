/**
 * A Worker that records the library's metrics through an SDK MeterProvider and exports them over
 * OTLP/HTTP JSON at the end of each request with `waitUntil` (@eventflows/core/otel's flushMetrics):
 * bundled and run in workerd by adapters/otel/workers.int.test.ts, against a receiver the test starts.
 */
import { CommandBus, configureMetrics, InMemoryEventStore } from "@eventflows/core";
import { flushMetrics } from "@eventflows/core/otel";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

class RequestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

// Delta: each request's export holds what that request recorded.
const reader = new RequestReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
configureMetrics({ meterProvider: new MeterProvider({ readers: [reader] }) });

const store = new InMemoryEventStore();
const commands = new CommandBus<{ Open: { payload: { cartId: string }; result: number } }>();
commands.register("Open", async ({ cartId }) => {
  const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "CartOpened", data: { cartId } }]);
  return appended.nextExpectedVersion;
});

interface Env {
  readonly OTLP_URL: string;
  readonly OTLP_KEY: string;
}

export default {
  async fetch(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    const cartId = new URL(request.url).searchParams.get("cart") ?? "none";
    const version = await commands.execute("Open", { cartId });
    flushMetrics(ctx, reader, { url: env.OTLP_URL, headers: { "x-api-key": env.OTLP_KEY } });
    return Response.json({ version });
  },
};
