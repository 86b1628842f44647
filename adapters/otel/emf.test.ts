import { describe, expect, test } from "bun:test";
import { AggregationTemporality } from "@opentelemetry/sdk-metrics";
import { emfLines, writeEmf } from "./emf.js";
import { handReader } from "./otel.fixture.test.js";

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

  test("a namespace is required", () => {
    expect(() => emfLines({ scopeMetrics: [] }, { namespace: "" })).toThrow("Invalid EMF options");
  });
});
