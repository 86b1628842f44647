import { describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { ValidationError } from "../../src/index.js";
import { ForbiddenError, PROMETHEUS_CONTENT_TYPE, prometheusFormat } from "../http/index.js";
import { eventFlowsRoutes } from "./routes.js";

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function readerWithCounter(): TestReader {
  const reader = new TestReader();
  new MeterProvider({ readers: [reader] }).getMeter("t").createCounter("jobs.done").add(2, { queue: "q1" });
  return reader;
}

describe("the metrics route", () => {
  test("GET /metrics serves what the reader collects in the text format, uncached; HEAD without the body", async () => {
    const app = eventFlowsRoutes({ metrics: { collector: readerWithCounter(), format: prometheusFormat } });
    const response = await app.request("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.text()).toBe('# TYPE jobs_done_total counter\njobs_done_total{queue="q1"} 2\n');
    const head = await app.request("/metrics", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await app.request("/metrics", { method: "POST" })).status).toBe(405);
  });

  test("no route without the option; another path when given", async () => {
    expect((await eventFlowsRoutes({}).request("/metrics")).status).toBe(404);
    const app = eventFlowsRoutes({
      metrics: { collector: readerWithCounter(), format: prometheusFormat, path: "/internal/metrics" },
    });
    expect((await app.request("/internal/metrics")).status).toBe(200);
    expect((await app.request("/metrics")).status).toBe(404);
  });

  test("with auth: true the auth hook decides, asked with kind metrics", async () => {
    const asked: string[] = [];
    const app = eventFlowsRoutes({
      metrics: { collector: readerWithCounter(), format: prometheusFormat, auth: true },
      auth: ({ kind, request }) => {
        asked.push(kind);
        if (request.headers.get("authorization") !== "Bearer scraper") throw new ForbiddenError("not the scraper");
        return true;
      },
    });
    expect((await app.request("/metrics")).status).toBe(403);
    expect((await app.request("/metrics", { headers: { authorization: "Bearer scraper" } })).status).toBe(200);
    expect(asked).toEqual(["metrics", "metrics"]);
  });

  test("a reader that fails is a 500 problem; the error goes to onError only", async () => {
    const reported: unknown[] = [];
    const app = eventFlowsRoutes({
      metrics: {
        format: prometheusFormat,
        collector: { collect: () => Promise.reject(new Error("exporter at 10.0.0.7 down")) },
      },
      onError: (error) => reported.push(error),
    });
    const response = await app.request("/metrics");
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("10.0.0.7");
    expect(reported).toHaveLength(1);
  });

  test("a route without its format, or with one that cannot write, is refused when the routes are built", () => {
    const collector = readerWithCounter();
    for (const format of [undefined, {}, { contentType: "text/plain" }, { render: () => "" }, "prometheus"]) {
      expect(() => eventFlowsRoutes({ metrics: { collector, format } as never })).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ path: ["metrics", "format"] })] }),
      );
    }
  });

  test("a format of one's own writes the response: its media type and its text", async () => {
    const format = { contentType: "application/json", render: () => '{"series":1}' };
    const response = await eventFlowsRoutes({ metrics: { collector: readerWithCounter(), format } }).request(
      "/metrics",
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe('{"series":1}');
  });

  test("a collector without collect() is refused when the routes are built", () => {
    expect(() => eventFlowsRoutes({ metrics: { collector: {} as never, format: prometheusFormat } })).toThrow(
      "Invalid metrics options",
    );
  });

  test("settings that would leave the series open or unreachable are refused when the routes are built", () => {
    const collector = readerWithCounter();
    const format = prometheusFormat;
    const hook = () => true as const;
    const refused = (options: Parameters<typeof eventFlowsRoutes>[0]) => {
      try {
        eventFlowsRoutes(options);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
      throw new Error("accepted");
    };
    // Before: each was taken. A truthy auth that is not true, or auth: true with no hook to ask, served the
    // series to anyone; a path another route answers, or one no request's raw path equals, was never served.
    expect(refused({ auth: hook, metrics: { collector, format, auth: "true" as never } })).toEqual(["metrics.auth"]);
    expect(refused({ auth: hook, metrics: { collector, format, auth: 1 as never } })).toEqual(["metrics.auth"]);
    expect(refused({ metrics: { collector, format, auth: true } })).toEqual(["metrics.auth"]);
    for (const path of [
      "/health/live",
      "/health/ready",
      "/commands/Open",
      "/queries",
      "/métriques",
      "/a b",
      "/m?x",
      "/m/:id",
      "/m/*",
    ]) {
      expect(refused({ metrics: { collector, format, path } })).toEqual(["metrics.path"]);
    }
    // Without the health routes their paths are free; an explicit auth: false needs no hook.
    expect(() =>
      eventFlowsRoutes({ health: false, metrics: { collector, format, path: "/health/live" } }),
    ).not.toThrow();
    expect(() =>
      eventFlowsRoutes({ metrics: { collector, format, auth: false, path: "/_internal/metrics.txt" } }),
    ).not.toThrow();
  });
});
