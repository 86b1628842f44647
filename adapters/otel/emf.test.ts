import { describe, expect, test } from "bun:test";
import { AggregationTemporality, type MetricReader } from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import { isServiceError, isValidationError, setLogger } from "../../src/index.js";
import { emfLines, writeEmf } from "./emf.js";
import { handReader, readersThatCannotCollect } from "./otel.fixture.test.js";

describe("CloudWatch Embedded Metric Format", () => {
  test("one line per data point: attributes as dimensions, units mapped, histograms as sum/count/max/min", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    const meter = provider.getMeter("t");
    meter.createCounter("eventflows.events.appended", { unit: "{event}" }).add(4, { "eventflows.event.type": "A" });
    const latency = meter.createHistogram("eventflows.command.duration", { unit: "s" });
    latency.record(0.25, { "eventflows.message.type": "Open" });
    latency.record(0.75, { "eventflows.message.type": "Open" });
    const lines = emfLines((await reader.collect()).resourceMetrics, {
      namespace: "EventFlows/test",
      timestamp: 1_700_000_000_000,
    });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      {
        _aws: {
          Timestamp: 1_700_000_000_000,
          CloudWatchMetrics: [
            {
              Namespace: "EventFlows/test",
              Dimensions: [["eventflows.event.type"]],
              Metrics: [{ Name: "eventflows.events.appended", Unit: "Count" }],
            },
          ],
        },
        "eventflows.event.type": "A",
        "eventflows.events.appended": 4,
      },
      {
        _aws: {
          Timestamp: 1_700_000_000_000,
          CloudWatchMetrics: [
            {
              Namespace: "EventFlows/test",
              Dimensions: [["eventflows.message.type"]],
              Metrics: [
                { Name: "eventflows.command.duration.sum", Unit: "Seconds" },
                { Name: "eventflows.command.duration.count", Unit: "Count" },
                { Name: "eventflows.command.duration.max", Unit: "Seconds" },
                { Name: "eventflows.command.duration.min", Unit: "Seconds" },
              ],
            },
          ],
        },
        "eventflows.message.type": "Open",
        "eventflows.command.duration.sum": 1,
        "eventflows.command.duration.count": 2,
        "eventflows.command.duration.max": 0.75,
        "eventflows.command.duration.min": 0.25,
      },
    ]);
  });

  test("writeEmf collects and writes each line; with delta temporality the next flush holds only what is new", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    const counter = provider.getMeter("t").createCounter("jobs");
    counter.add(2);
    const written: string[] = [];
    expect(await writeEmf(reader, { namespace: "N", write: (line) => written.push(line) })).toBe(1);
    counter.add(1);
    await writeEmf(reader, { namespace: "N", write: (line) => written.push(line) });
    expect(written.map((line) => JSON.parse(line).jobs)).toEqual([2, 1]);
  });

  test("an attribute named _aws or like one of the line's metrics is left out: the line's structure stays whole", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    const meter = provider.getMeter("t");
    meter.createCounter("jobs").add(3, { _aws: "hijack", jobs: "not a number", queue: "q1" });
    meter.createHistogram("lat", { unit: "ms" }).record(5, { "lat.sum": "x", "lat.count": "y", region: "eu" });
    const lines = emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      {
        _aws: {
          Timestamp: 1,
          CloudWatchMetrics: [{ Namespace: "N", Dimensions: [["queue"]], Metrics: [{ Name: "jobs", Unit: "None" }] }],
        },
        queue: "q1",
        jobs: 3,
      },
      {
        _aws: {
          Timestamp: 1,
          CloudWatchMetrics: [
            {
              Namespace: "N",
              Dimensions: [["region"]],
              Metrics: [
                { Name: "lat.sum", Unit: "Milliseconds" },
                { Name: "lat.count", Unit: "Count" },
                { Name: "lat.max", Unit: "Milliseconds" },
                { Name: "lat.min", Unit: "Milliseconds" },
              ],
            },
          ],
        },
        region: "eu",
        "lat.sum": 5,
        "lat.count": 1,
        "lat.max": 5,
        "lat.min": 5,
      },
    ]);
  });

  test("dimensions are what CloudWatch takes: printable ASCII, not blank, no leading colon, names to 255 and values to 1,024 characters", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider
      .getMeter("t")
      .createCounter("jobs")
      .add(1, {
        "": "empty name",
        " ": "blank name",
        ":colon": "refused",
        [`n${"x".repeat(255)}`]: "name too long",
        empty: "",
        blank: "  ",
        type: "Café",
        line: "a\nb",
        long: "v".repeat(2000),
        prénom: "ada",
        ["__proto__"]: "proto",
        toString: "s",
      });
    const [line] = emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 });
    const parsed = JSON.parse(line as string);
    // Before: every attribute was a dimension as it was, and CloudWatch refused the line's metrics.
    expect(parsed._aws.CloudWatchMetrics[0].Dimensions).toEqual([
      ["type", "line", "long", "pr%C3%A9nom", "__proto__", "toString"],
    ]);
    expect(parsed.type).toBe("Caf%C3%A9");
    expect(parsed.line).toBe("a%0Ab");
    expect(parsed.long).toBe("v".repeat(1024));
    expect(parsed["pr%C3%A9nom"]).toBe("ada");
    expect(Object.getOwnPropertyDescriptor(parsed, "__proto__")?.value).toBe("proto");
    expect(parsed.jobs).toBe(1);
  });

  test("property: whatever the attributes, every dimension follows CloudWatch's rules and is on the line", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 300 }),
            fc.constantFrom("", ":", "_aws", "jobs", "__proto__"),
          ),
          fc.oneof(fc.string({ unit: "binary", maxLength: 1100 }), fc.integer(), fc.boolean(), fc.constant("")),
          { maxKeys: 40 },
        ),
        async (attributes) => {
          const { reader, provider } = handReader(AggregationTemporality.DELTA);
          provider.getMeter("t").createCounter("jobs").add(1, attributes);
          for (const line of emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 })) {
            const parsed = JSON.parse(line);
            const [names] = parsed._aws.CloudWatchMetrics[0].Dimensions as string[][];
            expect((names as string[]).length).toBeLessThanOrEqual(30);
            for (const name of names as string[]) {
              expect(name).toMatch(/^[\x20-\x7e]{1,255}$/);
              expect(name.trim()).not.toBe("");
              expect(name.startsWith(":")).toBe(false);
              const value = parsed[name];
              expect(value).toMatch(/^[\x20-\x7e]{1,1024}$/);
              expect(value.trim()).not.toBe("");
            }
            expect(parsed.jobs).toBe(1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a histogram's sum, max or min that is not finite is left out (JSON would write null); its count stays", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    const meter = provider.getMeter("t");
    meter.createHistogram("inf").record(Number.POSITIVE_INFINITY);
    const overflow = meter.createHistogram("big");
    overflow.record(1e308);
    overflow.record(1e308);
    const lines = emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 });
    // Before: "inf.sum": null, "inf.max": null, "big.sum": null, and CloudWatch refused both lines.
    expect(lines.every((line) => !line.includes("null"))).toBe(true);
    const [inf, big] = lines.map((line) => JSON.parse(line));
    expect(inf._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: "inf.count", Unit: "Count" }]);
    expect(inf["inf.count"]).toBe(1);
    expect(big["big.count"]).toBe(2);
    expect(big["big.max"]).toBe(1e308);
    expect("big.sum" in big).toBe(false);
  });

  test("writeEmf never rejects: a reader that cannot collect, a write that throws or a bad namespace go to onError", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider.getMeter("t").createCounter("jobs").add(1);
    const reported: unknown[] = [];
    const onError = (error: unknown) => void reported.push(error);
    // Before: each rejected, and the documented handler, awaiting writeEmf in its finally, failed its invocation.
    const broken = { collect: () => Promise.reject(new Error("MetricReader is shutdown")) };
    expect(await writeEmf(broken, { namespace: "N", onError })).toBe(0);
    const refusing = () => {
      throw new Error("EPIPE");
    };
    expect(await writeEmf(reader, { namespace: "N", write: refusing, onError })).toBe(0);
    expect(await writeEmf(reader, { namespace: "", onError })).toBe(0);
    expect(reported.map((error) => (error as Error).message)).toEqual([
      expect.stringContaining("emf collect failed (CollectFailed)"),
      "EPIPE",
      expect.stringContaining("Invalid EMF options"),
    ]);
  });

  test("a namespace CloudWatch refuses is refused: emfLines throws, writeEmf reports and writes nothing", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider.getMeter("t").createCounter("jobs").add(1);
    const collected = (await reader.collect()).resourceMetrics;
    // Written into every line before, and CloudWatch dropped every metric of those lines unreported.
    for (const namespace of ["   ", "orders\n", "tab\there", "Café/orders", ":orders", "x".repeat(256), ""]) {
      let thrown: unknown;
      try {
        emfLines(collected, { namespace });
      } catch (error) {
        thrown = error;
      }
      expect({ namespace, refused: isValidationError(thrown) }).toEqual({ namespace, refused: true });
      const reported: unknown[] = [];
      const written: string[] = [];
      const lines = await writeEmf(reader, {
        namespace,
        write: (l) => written.push(l),
        onError: (e) => reported.push(e),
      });
      expect({ namespace, lines, written, reported: reported.length }).toEqual({
        namespace,
        lines: 0,
        written: [],
        reported: 1,
      });
    }
    expect(emfLines(collected, { namespace: "EventFlows/orders: v2#1 x.y-z_w", timestamp: 1 })).toHaveLength(1);
  });

  test("a histogram value whose name passes CloudWatch's 255 characters is left out of its line; a name that fits is kept", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider.getMeter("t").createHistogram("h".repeat(251)).record(2);
    provider.getMeter("t").createHistogram("k".repeat(249)).record(3);
    const lines = emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 });
    const names = lines.flatMap((line) =>
      (JSON.parse(line)._aws.CloudWatchMetrics[0].Metrics as { Name: string }[]).map((metric) => metric.Name),
    );
    expect(names.every((name) => name.length <= 255)).toBe(true);
    // 251 + ".sum" fits, ".count" does not; 249 + ".count" fits.
    expect(names).toContain(`${"h".repeat(251)}.sum`);
    expect(names).not.toContain(`${"h".repeat(251)}.count`);
    expect(names).toContain(`${"k".repeat(249)}.count`);
  });

  test("writeEmf checks write (and the reader) before it collects: a delta reader refused keeps what it holds", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider.getMeter("t").createCounter("orders", { unit: "{order}" }).add(5);
    const reported: unknown[] = [];
    // Before: the reader was collected (the 5 orders drained for good), then onError got a plain TypeError.
    const refused = await writeEmf(reader, {
      namespace: "N",
      write: "stdout" as never,
      onError: (e) => reported.push(e),
    });
    expect(refused).toBe(0);
    expect(reported).toHaveLength(1);
    expect(isValidationError(reported[0])).toBe(true);
    expect((reported[0] as { issues: { path: string[] }[] }).issues.map((issue) => issue.path)).toEqual([["write"]]);
    const written: string[] = [];
    expect(await writeEmf(reader, { namespace: "N", write: (line) => written.push(line) })).toBe(1);
    expect(JSON.parse(written[0] as string).orders).toBe(5);
    // A collector with no collect() is refused the same way, not reported as a reader that failed to collect.
    await writeEmf({} as never, { namespace: "N", onError: (e) => reported.push(e) });
    expect((reported[1] as { issues: { path: string[] }[] }).issues.map((issue) => issue.path)).toEqual([
      ["collector"],
    ]);
  });

  test("an onError that is not a function is refused on the logger with the other issues, and nothing is collected", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    provider.getMeter("t").createCounter("orders").add(2);
    const logged: { message: string; error: unknown }[] = [];
    const quiet = () => undefined;
    setLogger({
      debug: quiet,
      info: quiet,
      warn: quiet,
      error: (message, fields) => void logged.push({ message, error: (fields as { error?: unknown })?.error }),
    });
    try {
      // Before: only "the writeEmf onError hook itself threw" (a TypeError) was logged; the bad namespace was lost.
      const report = "report-it" as never;
      expect(await writeEmf(reader, { namespace: "", onError: report })).toBe(0);
      expect(await writeEmf(reader, { namespace: "N", onError: report })).toBe(0);
      expect(logged.map((line) => line.message)).toEqual(["EMF metrics not written", "EMF metrics not written"]);
      // The logger is handed the error as its name, code and message (the library redacts what it logs).
      const [both, alone] = logged.map((line) => String((line.error as { message?: unknown })?.message));
      expect(both).toContain(
        "Invalid EMF options: namespace: must be 1 to 255 printable ASCII characters, not only spaces, not starting with ':'; onError: must be a function",
      );
      expect(alone).toBe("Invalid EMF options: onError: must be a function");
    } finally {
      setLogger(undefined);
    }
    const written: string[] = [];
    await writeEmf(reader, { namespace: "N", write: (line) => written.push(line) });
    expect(written.map((line) => JSON.parse(line).orders)).toEqual([2]);
  });

  test("a reader that cannot collect (shut down, or on no MeterProvider) reaches onError as a ServiceError, the SDK's error as cause", async () => {
    const [reader, unbound] = await readersThatCannotCollect(AggregationTemporality.DELTA);
    const reported: unknown[] = [];
    for (const collector of [reader, unbound] as MetricReader[]) {
      expect(await writeEmf(collector, { namespace: "N", onError: (e) => reported.push(e) })).toBe(0);
    }
    // Before: the SDK's plain Error, with no code.
    expect(reported).toHaveLength(2);
    for (const error of reported) {
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({
        service: "emf",
        operation: "collect",
        serviceCode: "CollectFailed",
        retryable: false,
      });
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
    expect(((reported[0] as Error).cause as Error).message).toContain("shutdown");
  });

  test("a metric named _aws is left out (it replaced the line's metric definitions); a unit such as __proto__ or constructor is None", async () => {
    const { reader, provider } = handReader(AggregationTemporality.DELTA);
    const meter = provider.getMeter("t");
    meter.createCounter("_aws").add(3, { queue: "q1" });
    meter.createHistogram("_aws", { unit: "ms" }).record(1);
    for (const unit of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      meter.createCounter(`u.${unit}`, { unit }).add(1);
    }
    const lines = emfLines((await reader.collect()).resourceMetrics, { namespace: "N", timestamp: 1 });
    const parsed = lines.map((line) => JSON.parse(line));
    // Before: the counter's line was {"_aws":3}; `__proto__` was written as "Unit":{}, `constructor` dropped Unit.
    for (const line of parsed) {
      expect(line._aws.CloudWatchMetrics[0].Namespace).toBe("N");
      expect(line._aws.Timestamp).toBe(1);
    }
    const metrics = parsed.flatMap((line) => line._aws.CloudWatchMetrics[0].Metrics);
    expect(metrics.map((metric: { Name: string }) => metric.Name)).not.toContain("_aws");
    expect(metrics.filter((metric: { Name: string }) => metric.Name.startsWith("u."))).toEqual([
      { Name: "u.__proto__", Unit: "None" },
      { Name: "u.constructor", Unit: "None" },
      { Name: "u.toString", Unit: "None" },
      { Name: "u.hasOwnProperty", Unit: "None" },
    ]);
    // The histogram's own values (`_aws.sum`, …) overwrite nothing, and stay.
    expect(metrics).toContainEqual({ Name: "_aws.sum", Unit: "Milliseconds" });
  });

  test("a namespace is required", () => {
    expect(() => emfLines({ scopeMetrics: [] }, { namespace: "" })).toThrow("Invalid EMF options");
  });

  test("a timestamp is epoch milliseconds: NaN (written as null, which CloudWatch refuses), a string or a fraction is refused", () => {
    for (const timestamp of [Number.NaN, -1, 1.5, "1700000000000", 2 ** 53]) {
      expect(() => emfLines({ scopeMetrics: [] }, { namespace: "N", timestamp: timestamp as never })).toThrow(
        "Invalid EMF options: timestamp: must be a time in epoch milliseconds",
      );
    }
    expect(emfLines({ scopeMetrics: [] }, { namespace: "N", timestamp: 0 })).toEqual([]);
  });
});
