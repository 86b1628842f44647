import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import {
  CHARTS_DIR,
  comparisonGroups,
  markdownText,
  PAGE,
  renderBenchmarksPage,
  roleOf,
  savedReports,
  splitName,
} from "./benchmarks-page.ts";
import type { RunReport } from "./report.ts";

const result = (name: string, eventsPerSecond?: number) => ({
  name,
  avgNs: 2000,
  p50Ns: 1000,
  p99Ns: 5000,
  minNs: 500,
  maxNs: 9000,
  samples: 10,
  ...(eventsPerSecond === undefined ? {} : { eventsPerIteration: 1, eventsPerSecond }),
});

const report = (benchmarks: RunReport["benchmarks"]): RunReport => ({
  name: "x",
  title: "X",
  runtime: "node",
  date: "2026-12-02T17:18:32.911Z",
  statistic: "p50",
  benchmarks,
});

describe("the benchmark page", () => {
  test("names split into workload and variant either way round; roles by who ran them", () => {
    expect(splitName("ours: hot stream, batch 1, 1 writer")).toEqual({
      workload: "hot stream, batch 1, 1 writer",
      variant: "ours",
    });
    expect(splitName("Emmett: read one stream")).toEqual({ workload: "read one stream", variant: "Emmett" });
    expect(splitName("rehydrate 10 events: handler map")).toEqual({
      workload: "rehydrate 10 events",
      variant: "handler map",
    });
    expect(splitName("append 1, hot stream, c1: ours, feed")).toEqual({
      workload: "append 1, hot stream, c1",
      variant: "ours, feed",
    });
    expect(splitName("no colon here")).toBeUndefined();
    expect(
      [
        "ours",
        "ceiling",
        "Castore",
        "@nestjs/cqrs loadFromHistory",
        "hand-written loop (ceiling)",
        "direct call (baseline)",
      ].map(roleOf),
    ).toEqual(["ours", "ceiling", "peer", "peer", "ceiling", "ceiling"]);
  });

  test("a workload is charted when EventFlows ran beside a peer or the ceiling; bars ordered ours, peer, ceiling", () => {
    const groups = comparisonGroups(
      report([
        result("ceiling: append 1", 300),
        result("Emmett: append 1", 100),
        result("ours: append 1", 200),
        result("ours: alone", 1),
        result("Emmett: only the peer", 1),
      ]),
    );
    expect(groups).toEqual([
      {
        title: "append 1",
        bars: [
          { label: "EventFlows", role: "ours", value: 200, valueLabel: "200 ev/s" },
          { label: "Emmett", role: "peer", value: 100, valueLabel: "100 ev/s" },
          { label: "ceiling", role: "ceiling", value: 300, valueLabel: "300 ev/s" },
        ],
      },
    ]);
    // Without events/s, the statistic's time per iteration.
    const times = comparisonGroups(report([result("q: QueryBus.execute"), result("q: @nestjs/cqrs QueryBus.execute")]));
    expect(times[0]?.bars.map((b) => b.valueLabel)).toEqual(["1.00 µs", "1.00 µs"]);
  });

  test("text from the results cannot become markup or interpolation in VitePress", () => {
    expect(markdownText("on<Type> methods {{ x }} a|b *c*")).toBe(
      "on&lt;Type&gt; methods &#123;&#123; x &#125;&#125; a\\|b \\*c\\*",
    );
    const { markdown, charts } = renderBenchmarksPage([
      {
        name: "core",
        legacy: false,
        reports: [
          undefined,
          {
            ...report([result("r: on<Type> methods", 2), result("r: hand-written loop (ceiling)", 3)]),
            title: "T <b>",
          },
        ],
      },
    ]);
    expect(markdown).toContain("## T &lt;b&gt;");
    expect(markdown).toContain("![T &lt;b&gt; (Node)](./benchmark-charts/core.node.svg)");
    expect([...charts.keys()]).toEqual(["core.node.svg"]);
    expect(charts.get("core.node.svg")).toContain("on&lt;Type&gt; methods");
  });

  test("the page names the statistic its bars are, from the charted files' own", () => {
    const charted = (statistic: RunReport["statistic"]) => ({
      ...report([result("r: ours", 2), result("r: hand-written loop (ceiling)", 3)]),
      statistic,
    });
    const page = (...statistics: RunReport["statistic"][]) =>
      renderBenchmarksPage(
        statistics.map((statistic, i) => ({ name: `f${i}`, legacy: false, reports: [charted(statistic), undefined] })),
      ).markdown.replace(/\s+/g, " ");
    expect(page("p50", "p50")).toContain("The bars are mitata's medians, each variant timed after the other");
    expect(page("avg")).toContain("The bars are mitata's means, each variant timed after the other");
    expect(page("p50", "avg")).toContain("The bars are mitata's medians or means, as each chart's subtitle says,");
    // A file that charts nothing has no bars, so its statistic is not the page's.
    const uncharted = {
      name: "g",
      legacy: false,
      reports: [{ ...report([result("alone: ours", 1)]), statistic: "avg" as const }, undefined],
    };
    expect(
      renderBenchmarksPage([
        { name: "f", legacy: false, reports: [charted("p50"), undefined] },
        uncharted,
      ]).markdown.replace(/\s+/g, " "),
    ).toContain("The bars are mitata's medians, each");
  });

  test("the committed page and charts are what the saved results render to (run `bun run bench --render-only`)", () => {
    const { markdown, charts } = renderBenchmarksPage(savedReports());
    expect(readFileSync(PAGE, "utf8")).toBe(markdown);
    expect(readdirSync(CHARTS_DIR).sort()).toEqual([...charts.keys()].sort());
    for (const [name, svg] of charts) expect(readFileSync(`${CHARTS_DIR}/${name}`, "utf8")).toBe(svg);
  });
});
