/**
 * The Workers export paths in workerd (miniflare): Workers bundled as wrangler bundles them record
 * the library's metrics (metrics-worker.ts) and spans (traces-worker.ts) and flush them with
 * waitUntil to an OTLP/HTTP receiver this test serves; the test decodes the JSON payloads and checks
 * the metrics, the spans and their attributes.
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
let tracing: Miniflare;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number };
}
interface TraceExport {
  readonly apiKey: string | null;
  readonly body: { resourceSpans: { scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[] };
}
const traceExports: TraceExport[] = [];
/** How the receiver answers trace exports: "ok", "fail" (503) or "hang" (holds them until `releaseHeld()`). */
let traceReceiver: "ok" | "fail" | "hang" = "ok";
let traceAttempts = 0;
/** How many exports the receiver holds ("hang"). */
let held = 0;
let releaseHeld = () => {};
let released = Promise.resolve();

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      if (new URL(request.url).pathname === "/v1/traces") {
        traceAttempts++;
        if (traceReceiver === "fail") return new Response("unavailable", { status: 503 });
        if (traceReceiver === "hang") {
          held++;
          await released;
          return new Response("{}");
        }
        traceExports.push({
          apiKey: request.headers.get("x-api-key"),
          body: (await request.json()) as TraceExport["body"],
        });
        return new Response("{}");
      }
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
  const traces = await bundleWorkerTemplate(join(repoRoot, "test", "otel", "traces-worker.ts"));
  tracing = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: traces.code }],
    compatibilityDate: "2025-01-01",
    // AsyncLocalStorage for the context manager, as the docs tell Worker authors.
    compatibilityFlags: ["nodejs_compat"],
    bindings: { OTLP_URL: `http://127.0.0.1:${receiver.port}/v1/traces`, OTLP_KEY: "key-2" },
  });
});

afterAll(async () => {
  await miniflare?.dispose();
  await tracing?.dispose();
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

async function traceExportsReceived(count: number): Promise<TraceExport[]> {
  for (let i = 0; traceExports.length < count && i < 200; i++) await Bun.sleep(25);
  return traceExports.slice(0, count);
}

function openCart(cartId: string, headers: Record<string, string> = {}) {
  return tracing.dispatchFetch("http://worker.test/commands/OpenCart", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ cartId }),
  });
}

const attribute = (span: OtlpSpan | undefined, key: string) => span?.attributes.find((each) => each.key === key)?.value;

describe("OTLP/HTTP JSON traces from a Worker, flushed with waitUntil (miniflare)", () => {
  test("a command's spans reach the receiver after the response: one trace, nested, with their attributes", async () => {
    traceReceiver = "ok";
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const secret = `Bearer sk-${crypto.randomUUID()}`;
    const response = await openCart("c-1", { traceparent: `00-${traceId}-b7ad6b7169203331-01`, authorization: secret });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ version: 1 });

    const [first] = await traceExportsReceived(1);
    expect(first?.apiKey).toBe("key-2");
    const scope = first?.body.resourceSpans[0]?.scopeSpans.find((each) => each.scope.name === "@eventflows/core");
    const spans = scope?.spans ?? [];
    const byName = Object.fromEntries(spans.map((span) => [span.name, span]));
    const http = byName["POST /commands/:type"];
    const command = byName["command OpenCart"];
    const append = byName.appendToStream;
    expect(http).toBeDefined();
    expect(command).toBeDefined();
    expect(append).toBeDefined();
    // One trace, the caller's; the request span continues the caller's, the append nests under the command.
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([traceId]));
    expect(http?.parentSpanId).toBe("b7ad6b7169203331");
    expect(http?.kind).toBe(2); // OTLP SERVER
    expect(command?.parentSpanId).toBe(http?.spanId);
    expect(append?.parentSpanId).toBe(command?.spanId);
    expect(attribute(http, "http.response.status_code")).toEqual({ intValue: "200" });
    expect(attribute(append, "eventflows.stream_id")).toEqual({ stringValue: "Cart-c-1" });
    expect(attribute(append, "eventflows.event_count")).toEqual({ intValue: "1" });
    for (const span of spans) {
      expect(span.status.code).not.toBe(2);
      expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(span.startTimeUnixNano));
    }
    expect(spans).toHaveLength(3);
    expect(JSON.stringify(first?.body)).not.toContain(secret.slice(7));
  });

  test("a receiver that fails or hangs does not fail or delay the request", async () => {
    traceReceiver = "fail";
    const attempts = traceAttempts;
    const failed = await openCart("c-fail");
    expect(failed.status).toBe(200);
    for (let i = 0; traceAttempts === attempts && i < 200; i++) await Bun.sleep(25);
    expect(traceAttempts).toBe(attempts + 1);

    traceReceiver = "hang";
    released = new Promise((resolve) => {
      releaseHeld = resolve;
    });
    try {
      // The receiver holds the export until released below, and the Worker would wait an hour for it:
      // no clock is read, the response arriving at all shows it did not wait for the export (a Worker
      // that waited would never answer, and the test would time out).
      const hung = await openCart("c-hang", { "x-export-timeout-ms": "3600000" });
      expect(hung.status).toBe(200);
      expect(await hung.json()).toEqual({ version: 1 });
      for (let i = 0; held === 0 && i < 200; i++) await Bun.sleep(25);
      expect(held).toBe(1); // the export was sent, and is held still

      // With the Worker's one-second export timeout: the request succeeds, the export times out.
      expect((await openCart("c-timeout")).status).toBe(200);
      // Both failures reached the Worker's error hook: the 503, then the timeout (the export held for an hour: none yet).
      let errors: { code: string; serviceCode?: string; retryable: boolean }[] = [];
      for (let i = 0; i < 200 && errors.length < 2; i++) {
        await Bun.sleep(25);
        errors = (await (await tracing.dispatchFetch("http://worker.test/export-errors")).json()) as typeof errors;
      }
      expect(errors.map((error) => [error.code, error.retryable])).toEqual([
        ["SERVICE_ERROR", true],
        ["SERVICE_ERROR", true],
      ]);
    } finally {
      releaseHeld();
    }

    traceReceiver = "ok";
    const before = traceExports.length;
    expect((await openCart("c-after")).status).toBe(200);
    const after = await traceExportsReceived(before + 1);
    expect(after).toHaveLength(before + 1);
  });
});
