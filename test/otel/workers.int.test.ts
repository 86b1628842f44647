/**
 * The Workers export path in workerd (miniflare): a Worker bundled as wrangler bundles it records
 * the library's metrics and flushes them with waitUntil to an OTLP/HTTP receiver this test serves;
 * the test decodes the JSON payload and checks the metrics and their attributes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorkerTemplate } from "../../worker-template/test/bundle.ts";
import { repoRoot } from "../services/common.ts";

setDefaultTimeout(120_000);

interface Received {
  readonly apiKey: string | null;
  readonly body: {
    resourceMetrics: { scopeMetrics: { scope: { name: string }; metrics: Record<string, unknown>[] }[] }[];
  };
}
const received: Received[] = [];
let receiver: ReturnType<typeof Bun.serve>;
let miniflare: Miniflare;

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      received.push({ apiKey: request.headers.get("x-api-key"), body: (await request.json()) as Received["body"] });
      return new Response("{}");
    },
  });
  const bundle = await bundleWorkerTemplate(join(repoRoot, "test", "otel", "metrics-worker.ts"));
  miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
    compatibilityDate: "2025-01-01",
    bindings: { OTLP_URL: `http://127.0.0.1:${receiver.port}/v1/metrics`, OTLP_KEY: "key-1" },
  });
});

afterAll(async () => {
  await miniflare?.dispose();
  receiver?.stop(true);
});

async function exports(count: number): Promise<Received[]> {
  for (let i = 0; received.length < count && i < 200; i++) await Bun.sleep(25);
  return received.slice(0, count);
}

describe("OTLP/HTTP JSON metrics from a Worker, flushed with waitUntil (miniflare)", () => {
  test("each request's metrics reach the receiver after the response, with their attributes", async () => {
    const secretCart = `cart-${crypto.randomUUID()}`;
    const response = await miniflare.dispatchFetch(`http://worker.test/?cart=${secretCart}`);
    expect(await response.json()).toEqual({ version: 1 });
    const [first] = await exports(1);
    expect(first?.apiKey).toBe("key-1");
    const scope = first?.body.resourceMetrics[0]?.scopeMetrics.find((each) => each.scope.name === "@eventflows/core");
    const byName = Object.fromEntries((scope?.metrics ?? []).map((metric) => [metric.name, metric]));
    expect(byName["eventflows.command.duration"]).toMatchObject({
      unit: "s",
      histogram: {
        aggregationTemporality: 1,
        dataPoints: [
          {
            count: "1",
            attributes: [
              { key: "eventflows.message.type", value: { stringValue: "Open" } },
              { key: "eventflows.outcome", value: { stringValue: "ok" } },
            ],
          },
        ],
      },
    });
    expect(byName["eventflows.events.appended"]).toMatchObject({
      sum: {
        isMonotonic: true,
        dataPoints: [
          { asDouble: 1, attributes: [{ key: "eventflows.event.type", value: { stringValue: "CartOpened" } }] },
        ],
      },
    });
    expect(JSON.stringify(first?.body)).not.toContain(secretCart);

    // Delta temporality: the second request's export counts only its own dispatch.
    await miniflare.dispatchFetch("http://worker.test/?cart=other");
    const [, second] = await exports(2);
    const again = second?.body.resourceMetrics[0]?.scopeMetrics.find((each) => each.scope.name === "@eventflows/core");
    const duration = again?.metrics.find((metric) => metric.name === "eventflows.command.duration") as {
      histogram: { dataPoints: { count: string }[] };
    };
    expect(duration.histogram.dataPoints.map((point) => point.count)).toEqual(["1"]);
  });
});
