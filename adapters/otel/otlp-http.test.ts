import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import { isServiceError, isValidationError, setLogger } from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { handReader, readersThatCannotCollect } from "./otel.fixture.test.js";
import { exportMetrics, exportSpans, flushMetrics, flushSpans, type OtlpHttpOptions } from "./otlp-http.js";
import { otlpMetricsJson } from "./otlp-json.js";
import { SpanBuffer } from "./span-buffer.js";

/** A local OTLP/HTTP receiver: it records each request and answers with the status the test sets. */
const received: { path: string; contentType: string | null; apiKey: string | null; body: unknown }[] = [];
let status = 200;
let receiver: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      received.push({
        path: new URL(request.url).pathname,
        contentType: request.headers.get("content-type"),
        apiKey: request.headers.get("x-api-key"),
        body: await request.json(),
      });
      return new Response("{}", { status });
    },
  });
});
afterAll(() => receiver.stop(true));

describe("OTLP/HTTP JSON encoding of numbers", () => {
  // The protocol's JSON mapping: an int64 is a decimal string within int64; a double a number or "NaN",
  // "Infinity", "-Infinity". Before: 1e21 went as intValue "1e+21" and 2^64 as an int64 it overflows (the
  // receiver refused the whole export), and NaN as null.
  const INT64 = (text: string) => /^-?\d+$/.test(text) && BigInt(text) < 2n ** 63n && BigInt(text) >= -(2n ** 63n);
  const DOUBLE = (value: unknown) =>
    (typeof value === "number" && Number.isFinite(value)) ||
    value === "NaN" ||
    value === "Infinity" ||
    value === "-Infinity";

  test("property: any number, as an attribute or a point's value, is one the mapping takes, and keeps its value", () => {
    const numbers = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(1e21, 2 ** 53, 2 ** 64, -(2 ** 70), Number.NaN),
    );
    fc.assert(
      fc.property(numbers, numbers, (attribute, value) => {
        const body = otlpMetricsJson({
          scopeMetrics: [
            {
              scope: { name: "s" },
              metrics: [
                {
                  descriptor: { name: "g" },
                  dataPointType: 2,
                  dataPoints: [{ attributes: { n: attribute }, value }],
                },
              ],
            },
          ],
        }) as {
          resourceMetrics: { scopeMetrics: { metrics: { gauge: { dataPoints: Record<string, unknown>[] } }[] }[] }[];
        };
        const point = body.resourceMetrics[0]?.scopeMetrics[0]?.metrics[0]?.gauge.dataPoints[0] as {
          attributes: { value: { intValue?: string; doubleValue?: number | string } }[];
          asDouble: unknown;
        };
        const encoded = point.attributes[0]?.value ?? {};
        if (encoded.intValue !== undefined) {
          expect(INT64(encoded.intValue)).toBe(true);
          expect(Number(encoded.intValue) === attribute).toBe(true); // -0 goes as "0"
        } else {
          expect(DOUBLE(encoded.doubleValue)).toBe(true);
          expect(Number(encoded.doubleValue)).toBe(attribute);
        }
        expect(DOUBLE(point.asDouble)).toBe(true);
        expect(Number(point.asDouble)).toBe(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe("OTLP/HTTP JSON metrics export (a local receiver)", () => {
  test("POSTs the collected metrics as an ExportMetricsServiceRequest the receiver can decode", async () => {
    received.length = 0;
    status = 200;
    const { reader, provider } = handReader();
    const meter = provider.getMeter("@eventflows/core", "0.1.0");
    meter.createCounter("eventflows.events.appended", { unit: "{event}" }).add(3, { "eventflows.event.type": "A" });
    meter
      .createHistogram("eventflows.command.duration", { unit: "s" })
      .record(0.5, { "eventflows.message.type": "Open" });
    meter.createGauge("eventflows.subscription.lag", { unit: "s" }).record(2, { "eventflows.subscription": "p" });
    await exportMetrics(reader, {
      url: `http://127.0.0.1:${receiver.port}/v1/metrics`,
      headers: { "x-api-key": "k-1" },
    });

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request).toMatchObject({ path: "/v1/metrics", contentType: "application/json", apiKey: "k-1" });
    const body = request?.body as {
      resourceMetrics: {
        scopeMetrics: { scope: { name: string; version?: string }; metrics: Record<string, unknown>[] }[];
      }[];
    };
    const scope = body.resourceMetrics[0]?.scopeMetrics[0];
    expect(scope?.scope).toEqual({ name: "@eventflows/core", version: "0.1.0" });
    const byName = Object.fromEntries((scope?.metrics ?? []).map((metric) => [metric.name, metric]));
    expect(byName["eventflows.events.appended"]).toMatchObject({
      unit: "{event}",
      sum: {
        aggregationTemporality: 2,
        isMonotonic: true,
        dataPoints: [{ asDouble: 3, attributes: [{ key: "eventflows.event.type", value: { stringValue: "A" } }] }],
      },
    });
    const histogramPoint = (
      byName["eventflows.command.duration"] as { histogram: { dataPoints: Record<string, unknown>[] } }
    ).histogram.dataPoints[0];
    expect(histogramPoint).toMatchObject({ count: "1", sum: 0.5, min: 0.5, max: 0.5 });
    expect(String(histogramPoint?.timeUnixNano)).toMatch(/^\d{19}$/);
    expect(byName["eventflows.subscription.lag"]).toMatchObject({ gauge: { dataPoints: [{ asDouble: 2 }] } });
  });

  test("an error status is a ServiceError naming the status, retryable for 5xx, without the headers", async () => {
    status = 503;
    const { reader } = handReader();
    const error = await exportMetrics(reader, {
      url: `http://127.0.0.1:${receiver.port}/v1/metrics`,
      headers: { "x-api-key": "secret-key" },
    }).catch((e: unknown) => e);
    expect(isServiceError(error)).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain("secret-key");
  });

  test("a receiver that does not answer is a retryable ServiceError whose causes keep no URL, header or credential", async () => {
    // Port 1, which nothing here listens on (a port just freed could be taken by another test's server): Bun's
    // fetch error carries the whole URL as `path`, its query's key included.
    const port = 1;
    const error = await exportMetrics(handReader().reader, {
      url: `http://127.0.0.1:${port}/v1/metrics?api-key=query-s3cret`,
      headers: { "x-api-key": "header-s3cret" },
    }).catch((e: unknown) => e);
    expect(isServiceError(error)).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
    const shown = everythingShown(error);
    expect(shown).not.toContain("query-s3cret");
    expect(shown).not.toContain("header-s3cret");
  });

  test("property: whatever a fetch of the application's throws, the causes keep its name and code, never a credential", async () => {
    // Secrets of every character class, in the places runtimes and HTTP clients put them: the URL (`path`,
    // `url`), the request and its headers, a config object, and inside the message as a URL's password or a
    // `token=` pair (percent-encoded, as a URL holds them).
    const secret = fc.string({ minLength: 1, maxLength: 24, unit: "binary" }).map((s) => `Zq7${s}`);
    await fc.assert(
      fc.asyncProperty(secret, fc.constantFrom("ECONNRESET", "ConnectionRefused", undefined), async (s, code) => {
        const encoded = encodeURIComponent(s);
        const inner = Object.assign(
          new Error(`connect failed: https://app:${encoded}@otlp.internal/v1?token=${encoded}`),
          {
            code,
            headers: { authorization: `Bearer ${s}` },
            config: { url: `https://otlp.internal/v1?api_key=${s}` },
          },
        );
        const thrown = Object.assign(new TypeError(`fetch failed token=${encoded}`, { cause: inner }), {
          path: `https://otlp.internal/v1?api_key=${s}`,
          request: { headers: { "x-api-key": s } },
        });
        const error = await exportMetrics(handReader().reader, {
          url: "http://otlp.test/v1/metrics",
          fetch: async () => {
            throw thrown;
          },
        }).catch((e: unknown) => e);
        expect(isServiceError(error)).toBe(true);
        expect(everythingShown(error)).not.toContain(s);
        const cause = (error as Error).cause as Error & { code?: unknown; cause?: Error & { code?: unknown } };
        expect(cause.name).toBe("TypeError");
        expect(cause.cause?.code).toBe(code);
      }),
      { numRuns: 100 },
    );
  });

  test("a reader that cannot collect (shut down, or on no MeterProvider) is a ServiceError, to flushMetrics' onError too; nothing is sent", async () => {
    received.length = 0;
    status = 200;
    const url = `http://127.0.0.1:${receiver.port}/v1/metrics`;
    const [reader, unbound] = await readersThatCannotCollect();
    const errors: unknown[] = [];
    for (const collector of [reader, unbound] as MetricReader[]) {
      errors.push(await exportMetrics(collector, { url }).catch((e: unknown) => e));
    }
    const waited: Promise<unknown>[] = [];
    flushMetrics({ waitUntil: (promise) => waited.push(promise) }, reader, { url, onError: (e) => errors.push(e) });
    await Promise.all(waited);
    // Before: the SDK's plain Error ("MetricReader is shutdown", no code) in all three.
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({
        service: "otlp",
        operation: "collect",
        serviceCode: "CollectFailed",
        retryable: false,
      });
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
    expect(((errors[0] as Error).cause as Error).message).toContain("shutdown");
    expect(received).toHaveLength(0);
  });

  test("flushMetrics hands the export to waitUntil and reports a failure to onError, never throwing", async () => {
    status = 500;
    const waited: Promise<unknown>[] = [];
    const errors: unknown[] = [];
    const { reader } = handReader();
    flushMetrics({ waitUntil: (promise) => waited.push(promise) }, reader, {
      url: `http://127.0.0.1:${receiver.port}/v1/metrics`,
      onError: (error) => errors.push(error),
    });
    expect(waited).toHaveLength(1);
    await Promise.all(waited);
    expect(errors).toHaveLength(1);
  });

  test("an onError that throws or is not a function leaves no rejection for waitUntil; the failure is logged", async () => {
    status = 500;
    received.length = 0;
    const lines: string[] = [];
    const quiet = () => undefined;
    setLogger({ debug: quiet, info: quiet, warn: quiet, error: (message) => void lines.push(message) });
    try {
      const waited: Promise<unknown>[] = [];
      const ctx = { waitUntil: (promise: Promise<unknown>) => void waited.push(promise) };
      const url = `http://127.0.0.1:${receiver.port}/v1/metrics`;
      const throwing = () => {
        throw new Error("hook broke");
      };
      flushMetrics(ctx, handReader().reader, { url, onError: throwing });
      flushSpans(ctx, new SpanBuffer(), { url: "not a url", onError: throwing });
      const buffer = new SpanBuffer();
      flushMetrics(ctx, handReader().reader, { url, onError: "log it" as unknown as () => void });
      flushSpans(ctx, buffer, { url, onError: 5 as unknown as () => void });
      const settled = await Promise.allSettled(waited);
      expect(settled.map((each) => each.status)).toEqual(["fulfilled", "fulfilled"]);
      expect(received).toHaveLength(1);
      expect(lines.filter((line) => line.includes("onError hook itself threw"))).toHaveLength(2);
      expect(lines.filter((line) => line.includes("export failed"))).toHaveLength(2);
    } finally {
      setLogger(undefined);
    }
  });

  test("bad options are a ValidationError naming the option, never its value, and nothing is sent", async () => {
    received.length = 0;
    const url = `http://127.0.0.1:${receiver.port}/v1/metrics`;
    const span = {
      name: "s",
      kind: 0,
      spanContext: () => ({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1 }),
      startTime: [1, 0] as const,
      endTime: [2, 0] as const,
      attributes: {},
      status: { code: 0 },
      events: [],
      links: [],
    };
    const cases: [OtlpHttpOptions, string][] = [
      [{ url, headers: { "x-api-key": "secret-key\nx" } }, "headers"],
      [{ url, headers: { "Authorization: Bearer secret-key": "x" } }, "headers"],
      [{ url: `http://user:secret-key@127.0.0.1:${receiver.port}/v1/metrics` }, "url"],
      [{ url: "ftp://127.0.0.1/v1/metrics" }, "url"],
      [{ url, timeoutMs: -1 }, "timeoutMs"],
      [{ url, timeoutMs: Number.NaN }, "timeoutMs"],
      // Not a retryable "the receiver did not answer" once the export calls it.
      [{ url, fetch: "secret-key" as never }, "fetch"],
    ];
    for (const [options, path] of cases) {
      for (const attempt of [exportMetrics(handReader().reader, options), exportSpans([span], options)]) {
        const error = await attempt.catch((e: unknown) => e);
        expect(isValidationError(error)).toBe(true);
        expect((error as { issues: { path: string[] }[] }).issues[0]?.path[0]).toBe(path);
        expect(String((error as Error).message)).not.toContain("secret-key");
      }
    }
    expect(received).toHaveLength(0);
  });
});
