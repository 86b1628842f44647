import { describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { prometheusName, prometheusText } from "./prometheus.js";

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function collected(record: (provider: MeterProvider) => void): Promise<string> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  record(provider);
  return prometheusText((await reader.collect()).resourceMetrics);
}

describe("prometheusText", () => {
  test("counters, gauges and histograms in the text format, with HELP, TYPE and escaped labels", async () => {
    const text = await collected((provider) => {
      const meter = provider.getMeter("test");
      const appended = meter.createCounter("eventflows.events.appended", {
        unit: "{event}",
        description: "Events committed",
      });
      appended.add(3, { "eventflows.event.type": "Added" });
      appended.add(1, { "eventflows.event.type": 'Quote"d\\back\nline' });
      meter.createGauge("eventflows.subscription.lag", { unit: "s" }).record(1.5, { "eventflows.subscription": "p" });
      const latency = meter.createHistogram("eventflows.command.duration", {
        unit: "s",
        description: "Dispatch time\\n",
        advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
      });
      latency.record(0.005, { "eventflows.message.type": "Open" });
      latency.record(0.05, { "eventflows.message.type": "Open" });
      latency.record(5, { "eventflows.message.type": "Open" });
      meter.createUpDownCounter("in.flight").add(-2);
    });
    expect(text).toContain("# HELP eventflows_events_appended_total Events committed\n");
    expect(text).toContain("# TYPE eventflows_events_appended_total counter\n");
    expect(text).toContain('eventflows_events_appended_total{eventflows_event_type="Added"} 3\n');
    expect(text).toContain('eventflows_events_appended_total{eventflows_event_type="Quote\\"d\\\\back\\nline"} 1\n');
    expect(text).toContain("# TYPE eventflows_subscription_lag_seconds gauge\n");
    expect(text).toContain('eventflows_subscription_lag_seconds{eventflows_subscription="p"} 1.5\n');
    expect(text).toContain("# HELP eventflows_command_duration_seconds Dispatch time\\\\n\n");
    expect(text).toContain("# TYPE eventflows_command_duration_seconds histogram\n");
    for (const line of [
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="0.01"} 1',
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="0.1"} 2',
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="1"} 2',
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="+Inf"} 3',
      'eventflows_command_duration_seconds_sum{eventflows_message_type="Open"} 5.055',
      'eventflows_command_duration_seconds_count{eventflows_message_type="Open"} 3',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    expect(text).toContain("# TYPE in_flight gauge\nin_flight -2\n");
  });

  test("names: sanitized, unit appended once, _total for counters only", () => {
    expect(prometheusName("http.server.duration", "s", false)).toBe("http_server_duration_seconds");
    expect(prometheusName("a.b_seconds", "s", false)).toBe("a_b_seconds");
    expect(prometheusName("requests", "{request}", true)).toBe("requests_total");
    expect(prometheusName("bytes.sent", "By", true)).toBe("bytes_sent_bytes_total");
    expect(prometheusName("9lives-x", undefined, false)).toBe("_9lives_x");
    // The SDK makes an instrument of an empty name (it only warns): `# TYPE  gauge` failed the whole scrape.
    expect(prometheusName("", undefined, false)).toBe("_");
    expect(prometheusName("", "{event}", false, true)).toBe("_");
  });

  test("units as OpenTelemetry's Prometheus rules write them: `1` is `_ratio` on gauges only, `a/b` is `a_per_b`", async () => {
    // A counter of unit `1` (a common default) was written `requests_ratio_total`, and `m/s` as `_m_s`,
    // `{request}/s` as `__s`, `%` as `_`.
    expect(prometheusName("requests", "1", true)).toBe("requests_total");
    expect(prometheusName("queue.fill", "1", false, true)).toBe("queue_fill_ratio");
    expect(prometheusName("queue.fill", "1", false)).toBe("queue_fill");
    expect(prometheusName("speed", "m/s", false)).toBe("speed_meters_per_second");
    expect(prometheusName("throughput", "{request}/s", true)).toBe("throughput_per_second_total");
    expect(prometheusName("transfer", "By/min", false)).toBe("transfer_bytes_per_minute");
    expect(prometheusName("cpu.usage", "%", false, true)).toBe("cpu_usage_percent");
    expect(prometheusName("odd", "foo/bar", false)).toBe("odd_foo_per_bar");
    const text = await collected((provider) => {
      const meter = provider.getMeter("test");
      meter.createCounter("jobs", { unit: "1" }).add(2);
      meter.createGauge("fill", { unit: "1" }).record(0.5);
      meter.createCounter("rate", { unit: "{request}/s" }).add(1);
    });
    expect(text).toContain("# TYPE jobs_total counter\njobs_total 2\n");
    expect(text).toContain("# TYPE fill_ratio gauge\nfill_ratio 0.5\n");
    expect(text).toContain("# TYPE rate_per_second_total counter\nrate_per_second_total 1\n");
  });

  test("a unit named like an Object.prototype property is a unit like any other, not the property's text", () => {
    // `constructor` was looked up on the unit table's prototype: `x_function Object() { [native code] }`,
    // a name no scraper parses, which failed the whole scrape.
    for (const unit of ["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty"]) {
      expect(prometheusName("x", unit, false)).toMatch(/^x_[a-zA-Z0-9_]+$/);
      expect(prometheusName("x", `By/${unit}`, false)).toMatch(/^x_bytes_per_[a-zA-Z0-9_]+$/);
    }
  });

  test("attribute keys that become one label name share it; empty, reserved and `le` keys are renamed", async () => {
    const text = await collected((provider) => {
      const meter = provider.getMeter("test");
      meter.createCounter("merged").add(1, { "a.b": "dot", a_b: "under", "a-b": "dash" });
      meter.createCounter("reserved").add(1, { "": "empty", __name__: "forged", "9": "digit" });
      meter
        .createHistogram("latency", { advice: { explicitBucketBoundaries: [1] } })
        .record(0.5, { le: "mine", region: "eu" });
    });
    // Before: `merged_total{a_b="dot",a_b="under",a_b="dash"}`, `{="empty",__name__="forged"}` and two `le`
    // labels, each of which failed the whole scrape.
    expect(text).toContain('merged_total{a_b="dash;dot;under"} 1\n');
    expect(text).toContain('reserved_total{_9="digit",_="empty",key___name__="forged"} 1\n');
    expect(text).toContain('latency_bucket{key_le="mine",region="eu",le="1"} 1\n');
    expect(text).toContain('latency_count{key_le="mine",region="eu"} 1\n');
  });

  test("a metric whose name (or a histogram series' name) another type holds is left out, not a second TYPE", async () => {
    const text = await collected((provider) => {
      const meter = provider.getMeter("test");
      meter.createHistogram("x", { advice: { explicitBucketBoundaries: [1] } }).record(2);
      meter.createGauge("x_count").record(7);
      meter.createCounter("requests").add(1);
      meter.createGauge("requests_total").record(9);
      meter.createGauge("y_count").record(3);
      meter.createHistogram("y", { advice: { explicitBucketBoundaries: [1] } }).record(2);
    });
    expect(text.match(/^# TYPE .*$/gm)).toEqual([
      "# TYPE x histogram",
      "# TYPE requests_total counter",
      "# TYPE y_count gauge",
    ]);
    expect(text).toContain("x_count 1\n");
    expect(text).toContain("requests_total 1\n");
    expect(text).toContain("y_count 3\n");
    expect(text).not.toContain(" 7\n");
    expect(text).not.toContain(" 9\n");
    expect(text).not.toContain("y_bucket");
  });

  test("one series from two scopes, or from attributes that differ in order, type or spelling, is written once, merged", async () => {
    const text = await collected((provider) => {
      for (const scope of ["lib-a", "lib-b"]) {
        const meter = provider.getMeter(scope);
        meter.createCounter("jobs.done").add(2, { queue: "q" });
        meter.createUpDownCounter("jobs.open").add(3, { queue: "q" });
        meter.createHistogram("job.duration", { unit: "s", advice: { explicitBucketBoundaries: [1] } }).record(0.5, {
          queue: "q",
        });
        meter.createGauge("pool.size").record(scope === "lib-a" ? 4 : 9, { queue: "q" });
      }
      const meter = provider.getMeter("lib-c");
      meter.createCounter("orders").add(1, { a: "x", b: "y" });
      meter.createCounter("orders").add(1, { b: "y", a: "x" });
      const hits = meter.createCounter("hits");
      hits.add(1, { "k.x": "v" });
      hits.add(1, { k_x: "v" });
      hits.add(1, { n: 1 });
      hits.add(1, { n: "1" });
      // Lone surrogates go out as U+FFFD: on the wire these three values are one.
      hits.add(1, { s: "\ud800" });
      hits.add(1, { s: "\udc00" });
      hits.add(1, { s: "\ufffd" });
    });
    // Before: each of these series twice (a scraper keeps one and drops the other, or fails the scrape).
    const samples = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
    const series = samples.map((line) => line.slice(0, line.lastIndexOf(" ")));
    expect(new Set(series).size).toBe(series.length);
    expect(text).toContain('jobs_done_total{queue="q"} 4\n');
    expect(text).toContain('jobs_open{queue="q"} 6\n');
    expect(text).toContain('job_duration_seconds_bucket{queue="q",le="1"} 2\n');
    expect(text).toContain('job_duration_seconds_sum{queue="q"} 1\n');
    expect(text).toContain('job_duration_seconds_count{queue="q"} 2\n');
    expect(text).toContain('pool_size{queue="q"} 4\n');
    expect(text).toContain('hits_total{k_x="v"} 2\n');
    expect(text).toContain('hits_total{n="1"} 2\n');
    expect(text).toContain('hits_total{s="\ufffd"} 3\n');
    expect(text).toMatch(/orders_total\{a="x",b="y"\} 2\n/);
  });

  test("histograms of one series with other buckets keep the first; the reader's own values are not changed", async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    provider
      .getMeter("a")
      .createHistogram("h", { advice: { explicitBucketBoundaries: [1] } })
      .record(0.5);
    provider
      .getMeter("b")
      .createHistogram("h", { advice: { explicitBucketBoundaries: [1] } })
      .record(0.5);
    provider
      .getMeter("c")
      .createHistogram("h", { advice: { explicitBucketBoundaries: [2, 3] } })
      .record(0.5);
    const { resourceMetrics } = await reader.collect();
    const text = prometheusText(resourceMetrics);
    expect(text).toContain("h_count 2\n");
    expect(text).not.toContain('le="2"');
    expect(prometheusText(resourceMetrics)).toBe(text);
  });

  test("nothing recorded is an empty exposition", async () => {
    expect(await collected(() => undefined)).toBe("");
  });
});
