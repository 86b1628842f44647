/**
 * The published benchmark page, `docs/benchmarks.md`, and its charts, `docs/benchmark-charts/*.svg`,
 * rendered from `bench/results/*.json` by `bun run bench` (and `--render-only`). One chart per
 * benchmark file and runtime, with a group of bars per workload: EventFlows, the peer library and
 * the bare-driver ceiling side by side, as measured in the same run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type BenchmarkResult,
  RUNTIMES,
  type RunReport,
  type Runtime,
  readReports,
  resultsDir,
  type Statistic,
} from "./report.ts";
import { type BarChart, type BarRole, type ChartGroup, renderBarChart } from "./svg-chart.ts";

const root = join(import.meta.dirname, "..", "..");
export const PAGE = join(root, "docs", "benchmarks.md");
export const CHARTS_DIR = join(root, "docs", "benchmark-charts");
const RESULTS_URL = "https://github.com/eventflows/eventflows/blob/main/bench/RESULTS.md";

const PEER = /\b(Emmett|Castore|ulidx)\b|@nestjs\/cqrs/i;
const CEILING = /ceiling|hand-written loop|\(baseline\)/i;
const LABEL: Record<Runtime, string> = { bun: "Bun", node: "Node" };

/** Whose figure a variant is, by the names the bench files give their variants. */
export function roleOf(variant: string): BarRole {
  if (CEILING.test(variant)) return "ceiling";
  if (PEER.test(variant)) return "peer";
  return "ours";
}

/**
 * Splits a benchmark's name into its workload and its variant. The files name them either
 * `<variant>: <workload>` (`ours: hot stream, batch 1, 1 writer`) or `<workload>: <variant>`
 * (`rehydrate 10 events: handler map`): a head that names who ran it is the variant.
 */
export function splitName(name: string): { workload: string; variant: string } | undefined {
  const at = name.indexOf(": ");
  if (at < 0) return undefined;
  const head = name.slice(0, at);
  const tail = name.slice(at + 2);
  const headIsWho = /^(ours|ceiling)\b/i.test(head) || PEER.test(head);
  return headIsWho ? { workload: tail, variant: head } : { workload: head, variant: tail };
}

/** The workloads where EventFlows was measured beside a peer or the ceiling, in the file's order. */
export function comparisonGroups(report: RunReport): ChartGroup[] {
  const rates = report.benchmarks.every((b) => b.eventsPerSecond !== undefined);
  const byWorkload = new Map<string, { variant: string; result: BenchmarkResult }[]>();
  for (const result of report.benchmarks) {
    const split = splitName(result.name);
    if (split === undefined) continue;
    const members = byWorkload.get(split.workload) ?? [];
    members.push({ variant: split.variant, result });
    byWorkload.set(split.workload, members);
  }
  const groups: ChartGroup[] = [];
  for (const [workload, members] of byWorkload) {
    const roles = new Set(members.map((m) => roleOf(m.variant)));
    if (!roles.has("ours") || roles.size < 2) continue;
    const order: Record<BarRole, number> = { ours: 0, peer: 1, ceiling: 2 };
    const bars = members
      .map(({ variant, result }) => {
        const time = report.statistic === "p50" ? result.p50Ns : result.avgNs;
        const value = rates ? (result.eventsPerSecond ?? 0) : time;
        return {
          label: variant.replace(/^ours\b/, "EventFlows"),
          role: roleOf(variant),
          value,
          valueLabel: rates ? `${Math.round(value).toLocaleString("en-US")} ev/s` : formatTime(value),
        };
      })
      .sort((a, b) => order[a.role] - order[b.role]);
    groups.push({ title: workload, bars });
  }
  return groups;
}

/** The chart of one file on one runtime, or undefined when it compares nothing. */
export function chartOf(report: RunReport, runtimeLabel: string): BarChart | undefined {
  const groups = comparisonGroups(report);
  if (groups.length === 0) return undefined;
  const rates = report.benchmarks.every((b) => b.eventsPerSecond !== undefined);
  const statistic = report.statistic === "p50" ? "median (p50)" : "mean";
  return {
    title: `${report.title} (${runtimeLabel})`,
    subtitle: rates
      ? `Events per second from the ${statistic} time per iteration: longer is faster. Each workload has its own scale.`
      : `Time per iteration, ${statistic}: shorter is faster. Each workload has its own scale.`,
    groups,
  };
}

interface FileReports {
  readonly name: string;
  /** Per runtime (Bun, Node); a file measured before both runtimes were run has only its older Bun report. */
  readonly reports: readonly (RunReport | undefined)[];
  readonly legacy: boolean;
}

/** Every bench file's saved reports. */
export function savedReports(benchDir = join(root, "bench")): FileReports[] {
  return readdirSync(benchDir)
    .filter((file) => file.endsWith(".bench.ts"))
    .sort()
    .map((file) => file.replace(".bench.ts", ""))
    .map((name) => {
      const reports = readReports(name);
      if (reports.some((r) => r !== undefined)) return { name, reports, legacy: false };
      const older = join(resultsDir, `${name}.json`);
      return existsSync(older)
        ? { name, reports: [JSON.parse(readFileSync(older, "utf8")) as RunReport, undefined], legacy: true }
        : { name, reports: [], legacy: false };
    });
}

/**
 * What the bars are, from the statistics of the charted reports: each chart follows its own file's
 * (`statistic` in its spec), so the page names the one they share, or both when they differ.
 */
export function barsStatistic(statistics: ReadonlySet<Statistic>): string {
  if (statistics.size === 1) return statistics.has("p50") ? "mitata's medians" : "mitata's means";
  return "mitata's medians or means, as each chart's subtitle says";
}

/** Markdown text that VitePress shows as written: no HTML tags (`on<Type>`), no `{{` interpolation. */
export function markdownText(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\{/g, "&#123;")
    .replace(/\}/g, "&#125;")
    .replace(/([[\]*_`|\\])/g, "\\$1");
}

/** The page and its charts (file name → SVG), from the saved reports. */
export function renderBenchmarksPage(files: readonly FileReports[]): { markdown: string; charts: Map<string, string> } {
  const charts = new Map<string, string>();
  const sections: string[] = [];
  const machines = new Set<string>();
  const versions = new Set<string>();
  const dates: string[] = [];
  const statistics = new Set<Statistic>();
  for (const file of files) {
    const lines: string[] = [];
    RUNTIMES.forEach((rt, i) => {
      const report = file.reports[i];
      if (report === undefined) return;
      const label = file.legacy ? `${LABEL[rt]}, an older run` : LABEL[rt];
      const chart = chartOf(report, label);
      if (chart === undefined) return;
      const svg = `${file.name}.${rt}.svg`;
      charts.set(svg, renderBarChart(chart));
      if (report.cpu !== undefined) machines.add(report.cpu);
      if (report.version !== undefined) versions.add(report.version);
      dates.push(report.date);
      statistics.add(report.statistic);
      lines.push(
        `- ${label}: ${markdownText(report.version ?? report.runtime)}${report.cpu ? ` on ${markdownText(report.cpu)}` : ""}, ${report.date.slice(0, 16).replace("T", " ")} UTC, load average ${loadText(report)}.`,
      );
      lines.push("", `![${markdownText(chart.title)}](./benchmark-charts/${svg})`, "");
    });
    if (lines.length === 0) continue;
    const title = file.reports.find((r) => r !== undefined)?.title ?? file.name;
    sections.push(
      [
        `## ${markdownText(title)}`,
        "",
        `From \`bench/${file.name}.bench.ts\`${file.legacy ? ", measured on Bun only before every file ran on both runtimes" : ""}.`,
        "",
        ...lines,
      ].join("\n"),
    );
  }
  dates.sort();
  const markdown = `# Benchmarks

<!-- Generated by \`bun run bench\` (or \`bun run bench --render-only\`) from bench/results/*.json: do not edit. -->

Every figure here comes from \`bench/results/*.json\`, which \`bun run bench\` writes; the same command (or
\`bun run bench --render-only\`, which measures nothing) renders this page and its charts again. Each chart
puts EventFlows (blue), the peer library (orange: Emmett on PostgreSQL and SQLite, Castore on DynamoDB,
\`@nestjs/cqrs\` for buses and aggregates, ulidx for ids) and the ceiling (grey: the bare driver doing the
same writes or reads, a hand-written loop, or the direct call a bus is measured against) side by side, per workload,
as measured in one run of one process against the same server. A ceiling is charted where the file measures
it under the workload's own name: the PostgreSQL file names its ceilings (a bare INSERT per batch size and
writer count, the bare SELECTs) for workloads of their own, so its charts show EventFlows and Emmett only.
Only workloads where EventFlows runs beside a peer or a ceiling are charted; every figure, with the
ceilings, p99s, ratios and interleaved cross-checks, is in [bench/RESULTS.md](${RESULTS_URL}).

- Machine: ${[...machines].map(markdownText).join(", ") || "not recorded"}, 2 cores, shared with other work: the
  load average stated with each run is the machine's 1-minute load (2.0 is both cores busy).
- Runtimes: ${[...versions].sort().map(markdownText).join(", ") || "not recorded"}.
- Dates of the charted runs: ${dates.length === 0 ? "none" : `${dates[0]?.slice(0, 10)} to ${dates[dates.length - 1]?.slice(0, 10)}`}.
- Services: PostgreSQL 15 (a local throwaway cluster, fsync on) and DynamoDB Local (AWS's emulator, Java)
  from \`test/services/\`, on the same machine.

Shared machines are noisy (figures move by ±20% between runs): compare the bars of one chart, not charts
of different runs. Where Bun and Node differ, quote the less favourable. The bars are ${barsStatistic(statistics)}, each
variant timed after the other; the Performance sections of the [PostgreSQL](./adapters/postgres.md#performance)
and [SQLite](./adapters/sqlite.md#performance) pages quote the interleaved cross-check of the same runs, in which
the variants alternate, so their ratios can differ from the bars'.

${sections.join("\n\n")}
`;
  // One blank line between blocks, as the formatter leaves Markdown.
  return { markdown: markdown.replace(/\n{3,}/g, "\n\n").replace(/\n+$/, "\n"), charts };
}

/** Writes the page and its charts, removing charts of files that no longer chart anything. */
export function writeBenchmarksPage(files: readonly FileReports[] = savedReports()): void {
  const { markdown, charts } = renderBenchmarksPage(files);
  mkdirSync(CHARTS_DIR, { recursive: true });
  for (const old of readdirSync(CHARTS_DIR)) {
    if (old.endsWith(".svg") && !charts.has(old)) rmSync(join(CHARTS_DIR, old));
  }
  for (const [name, svg] of charts) writeFileSync(join(CHARTS_DIR, name), svg);
  writeFileSync(PAGE, markdown);
}

function loadText(report: RunReport): string {
  if (report.load === undefined) return "not recorded";
  return report.load.start === report.load.end
    ? `${report.load.start}`
    : `${report.load.start} at the start, ${report.load.end} at the end`;
}

function formatTime(ns: number): string {
  if (!Number.isFinite(ns)) return "—";
  if (ns < 1_000) return `${ns.toFixed(1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}
