import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import * as v from "valibot";
import { CommandBus, ConcurrencyError, configureMetrics, InMemoryEventStore } from "../../src/index.js";
import { type PrometheusServer, startPrometheus } from "../../test/services/prometheus.ts";
import { eventFlowsRoutes } from "./index.js";

/** The application's side: an SDK reader on its MeterProvider, handed to the route. */
class ScrapeReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

type Commands = {
  Open: { payload: { cartId: string }; result: { version: number } };
  Clash: { payload: Record<string, never>; result: never };
};

let server: ReturnType<typeof Bun.serve>;
let prometheus: PrometheusServer | undefined;
const secretCartId = `cart-${crypto.randomUUID()}`;

beforeAll(() => {
  const reader = new ScrapeReader();
  configureMetrics({ enabled: true, meterProvider: new MeterProvider({ readers: [reader] }) });
  const store = new InMemoryEventStore();
  const commands = new CommandBus<Commands>();
  commands.register("Open", async ({ cartId }) => {
    const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "CartOpened", data: { cartId } }]);
    return { version: appended.nextExpectedVersion };
  });
  commands.register("Clash", async () => {
    throw new ConcurrencyError("Cart-1", 1, 2);
  });
  const app = eventFlowsRoutes({
    commands: { bus: commands, schemas: { Open: v.object({ cartId: v.string() }), Clash: v.object({}) } },
    metrics: { collector: reader },
    onError: () => undefined,
  });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
});

afterAll(async () => {
  await prometheus?.stop();
  server?.stop(true);
  configureMetrics({ meterProvider: undefined });
});

const post = (type: string, body: unknown) =>
  fetch(`http://127.0.0.1:${server.port}/commands/${type}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Polls an instant query until `check` accepts its result (Prometheus scrapes once a second). */
async function eventually(promql: string, check: (values: number[]) => boolean): Promise<number[]> {
  let values: number[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    values = (await (prometheus as PrometheusServer).query(promql)).map((sample) => Number(sample.value[1]));
    if (check(values)) return values;
    await Bun.sleep(250);
  }
  throw new Error(`${promql}: still ${JSON.stringify(values)} after 30 s`);
}

describe("Prometheus scrapes the Hono metrics route (a real Prometheus server)", () => {
  test("command latency, appended events and errors by code arrive as series, without ids as labels", async () => {
    for (let i = 0; i < 3; i++) expect((await post("Open", { cartId: `${secretCartId}-${i}` })).status).toBe(200);
    expect((await post("Clash", {})).status).toBe(409);

    prometheus = await startPrometheus({ targets: [`127.0.0.1:${server.port}`] });
    expect(await eventually('up{job="eventflows-test"}', (values) => values[0] === 1)).toEqual([1]);
    expect(
      await eventually(
        'eventflows_command_duration_seconds_count{eventflows_message_type="Open",eventflows_outcome="ok"}',
        (values) => values.length === 1,
      ),
    ).toEqual([3]);
    expect(
      await eventually('eventflows_events_appended_total{eventflows_event_type="CartOpened"}', (v) => v.length === 1),
    ).toEqual([3]);
    expect(
      await eventually(
        'eventflows_errors_total{error_type="CONCURRENCY_CONFLICT",eventflows_operation="command"}',
        (v) => v.length === 1,
      ),
    ).toEqual([1]);
    const buckets = await prometheus.query(
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="+Inf"}',
    );
    expect(buckets.map((sample) => Number(sample.value[1]))).toEqual([3]);

    // Every series Prometheus holds from the route: none names a cart, a stream or an event id.
    const series = await prometheus.query('{job="eventflows-test"}');
    expect(series.length).toBeGreaterThan(5);
    expect(JSON.stringify(series)).not.toContain(secretCartId);
  }, 60_000);
});
