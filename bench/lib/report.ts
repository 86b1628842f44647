/**
 * Runs the mitata benchmarks registered by the calling file and writes its results for the runtime
 * it runs on: `bench/results/<name>.<runtime>.json` (per benchmark: ns per iteration avg/p50/p99,
 * events/s; the pairs, overheads, notes, machine load) and `bench/results/<name>.<runtime>.md`.
 * `bench/run.ts` runs each file on Bun and Node and renders both runtimes' JSON side by side
 * ({@link sideBySide}) into `bench/RESULTS.md`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { run } from "mitata";
import type { InterleavedResult } from "./interleave.js";

/** Which per-iteration time drives events/s, ratios and the headline of overheads. */
export type Statistic = "avg" | "p50";

export type Runtime = "bun" | "node";
export const RUNTIMES: readonly Runtime[] = ["bun", "node"];

/** The runtime this process runs on. */
export const runtime: Runtime = "Bun" in globalThis ? "bun" : "node";

export interface ReportSpec {
  /** Events (or messages) handled per iteration of a benchmark, by its name: turns ns/iter into events/s. */
  readonly eventsPerIteration?: Readonly<Record<string, number>>;
  /** Pairs to compare: `[ours, peer]`; the ratio is the peer's time over ours (above 1: we are faster). */
  readonly pairs?: readonly (readonly [string, string])[];
  /**
   * Pairs `[measured, baseline]`: reports the measured benchmark's cost above its baseline (avg and
   * p50 differences per iteration), e.g. a bus dispatch minus the direct call of the same handler.
   */
  readonly overheads?: readonly (readonly [string, string])[];
  /**
   * Defaults to `"avg"`. `"p50"` (the median sample) suits sub-microsecond benchmarks on shared
   * machines, where a few samples taken while another process holds the core drag the mean far off.
   */
  readonly statistic?: Statistic;
  /** A round-robin cross-check of the same variants (`interleave.ts`): medians no load burst can skew. */
  readonly interleaved?: readonly InterleavedResult[];
  /** The 1-minute load average when the file started measuring; defaults to the one at `runAndReport`. */
  readonly load?: number;
  /** Lines printed under the tables: what was measured, on what. */
  readonly notes?: readonly string[];
}

export interface BenchmarkResult {
  readonly name: string;
  readonly avgNs: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly minNs: number;
  readonly maxNs: number;
  readonly samples: number;
  readonly eventsPerIteration?: number;
  /** From the report's statistic (avg unless the spec says otherwise). */
  readonly eventsPerSecond?: number;
}

export interface Overhead {
  readonly name: string;
  readonly baseline: string;
  readonly avgNs: number;
  readonly p50Ns: number;
}

/** What one file's run on one runtime wrote. */
export interface RunReport {
  readonly name: string;
  readonly title: string;
  readonly runtime: string;
  /** `bun 1.4.5`, `node v20.20.2`. */
  readonly version?: string;
  readonly cpu?: string;
  readonly date: string;
  readonly statistic: Statistic;
  /** 1-minute load averages (2 cores) when measuring started and when it ended. */
  readonly load?: { readonly start: number; readonly end: number };
  readonly benchmarks: readonly BenchmarkResult[];
  readonly overheads?: readonly Overhead[];
  readonly pairs?: readonly (readonly [string, string])[];
  readonly interleaved?: readonly InterleavedResult[];
  readonly notes?: readonly string[];
  /** Markdown a file adds after its run (`appendToReport`), shown under this runtime's name. */
  readonly extra?: readonly string[];
}

export const resultsDir = join(import.meta.dirname, "..", "results");

export async function runAndReport(name: string, title: string, spec: ReportSpec = {}): Promise<BenchmarkResult[]> {
  const statistic = spec.statistic ?? "avg";
  const loadStart = spec.load ?? loadavg()[0] ?? Number.NaN;
  const { benchmarks, context } = await run({ format: "mitata", colors: false, throw: true });
  const results: BenchmarkResult[] = [];
  for (const trial of benchmarks) {
    for (const measured of trial.runs) {
      if (!measured.stats) throw new Error(`benchmark ${measured.name} failed: ${String(measured.error)}`);
      const s = measured.stats;
      const events = spec.eventsPerIteration?.[measured.name];
      const ns = statistic === "p50" ? s.p50 : s.avg;
      results.push({
        name: measured.name,
        avgNs: s.avg,
        p50Ns: s.p50,
        p99Ns: s.p99,
        minNs: s.min,
        maxNs: s.max,
        samples: s.samples.length,
        ...(events === undefined ? {} : { eventsPerIteration: events, eventsPerSecond: (events * 1e9) / ns }),
      });
    }
  }
  const overheads = overheadsOf(results, spec);
  const report: RunReport = {
    name,
    title,
    runtime,
    version: runtime === "bun" ? `bun ${process.versions.bun}` : `node ${process.version}`,
    cpu: context.cpu.name ?? "unknown cpu",
    date: new Date(context.now).toISOString(),
    statistic,
    load: { start: round1(loadStart), end: round1(loadavg()[0] ?? Number.NaN) },
    benchmarks: results,
    ...(overheads.length > 0 ? { overheads } : {}),
    ...(spec.pairs && spec.pairs.length > 0 ? { pairs: spec.pairs } : {}),
    // Per-round times stay out of the saved report: its readers use the medians.
    ...(spec.interleaved ? { interleaved: spec.interleaved.map(({ name, medianNs }) => ({ name, medianNs })) } : {}),
    ...(spec.notes ? { notes: spec.notes } : {}),
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.${runtime}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(resultsDir, `${name}.${runtime}.md`),
    sideBySide(runtime === "bun" ? [report] : [undefined, report]),
  );
  return results;
}

/**
 * Adds `markdown` (e.g. a table computed from the results) to this runtime's report of `name`,
 * after `runAndReport`; RESULTS.md shows it under the runtime's name.
 */
/**
 * One note line of an interleaved overhead: `<name>: interleaved cross-check +x% over <baseline> (a µs vs b µs per
 * call)`, from the two medians in nanoseconds.
 */
export function overheadNote(name: string, baseline: string, baselineNs: number, variantNs: number): string {
  const percent = (((variantNs - baselineNs) / baselineNs) * 100).toFixed(1);
  return (
    `${name}: interleaved cross-check ${percent}% over ${baseline} ` +
    `(${(baselineNs / 1e3).toFixed(1)} µs vs ${(variantNs / 1e3).toFixed(1)} µs per call)`
  );
}

export function appendToReport(name: string, markdown: string): void {
  const path = join(resultsDir, `${name}.${runtime}.json`);
  const report = JSON.parse(readFileSync(path, "utf8")) as RunReport;
  const updated: RunReport = { ...report, extra: [...(report.extra ?? []), markdown] };
  writeFileSync(path, `${JSON.stringify(updated, null, 2)}\n`);
  writeFileSync(
    join(resultsDir, `${name}.${runtime}.md`),
    sideBySide(runtime === "bun" ? [updated] : [undefined, updated]),
  );
}

/** The reports of `name` on each runtime, `undefined` where it has not run there. */
export function readReports(name: string): (RunReport | undefined)[] {
  return RUNTIMES.map((rt) => {
    const path = join(resultsDir, `${name}.${rt}.json`);
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as RunReport) : undefined;
  });
}

function overheadsOf(results: readonly BenchmarkResult[], spec: ReportSpec): Overhead[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const overheads: Overhead[] = [];
  for (const [measured, baseline] of spec.overheads ?? []) {
    const a = byName.get(measured);
    const b = byName.get(baseline);
    if (a === undefined || b === undefined) continue;
    overheads.push({ name: measured, baseline, avgNs: a.avgNs - b.avgNs, p50Ns: a.p50Ns - b.p50Ns });
  }
  return overheads;
}

const LABEL: Record<Runtime, string> = { bun: "Bun", node: "Node" };

/**
 * One section with a column per runtime (Bun, then Node) for every figure: the rows, the ratios of
 * each `[ours, peer]` pair, the overheads and the interleaved cross-check, with each runtime's
 * date, version and machine load. A runtime that has not run shows "—".
 */
export function sideBySide(
  reports: readonly (RunReport | undefined)[],
  notRun: Partial<Record<Runtime, string>> = {},
): string {
  const present = reports.filter((r): r is RunReport => r !== undefined);
  const first = present[0];
  if (first === undefined) return "";
  const statistic = first.statistic;
  const columns = RUNTIMES.map((rt, i) => ({ label: LABEL[rt], report: reports[i], why: notRun[rt] }));
  const stat = (r: BenchmarkResult) => (statistic === "p50" ? r.p50Ns : r.avgNs);
  const find = (report: RunReport | undefined, name: string) => report?.benchmarks.find((b) => b.name === name);
  const lines = [`## ${first.title}`, ""];
  for (const { label, report, why } of columns) {
    lines.push(
      why !== undefined
        ? `- ${label}: not run: the file ${why}.`
        : report === undefined
          ? `- ${label}: not measured in this run.`
          : `- ${label}: ${report.version ?? report.runtime} on ${report.cpu ?? "unknown cpu"}, ${report.date.slice(0, 16).replace("T", " ")} UTC, load average ${loadText(report)} (2 cores).`,
    );
  }
  lines.push(
    "",
    `Per benchmark: ${statistic === "p50" ? "median (p50)" : "mean"} time per iteration, p99 in brackets.`,
    "",
  );
  const names = [...new Set(present.flatMap((r) => r.benchmarks.map((b) => b.name)))];
  const hasRates = present.some((r) => r.benchmarks.some((b) => b.eventsPerSecond !== undefined));
  lines.push(
    `| benchmark | ${columns.map((c) => c.label).join(" | ")}${hasRates ? ` | ${columns.map((c) => `${c.label} events/s`).join(" | ")}` : ""} |`,
    `| --- | ${columns.map(() => "---:").join(" | ")}${hasRates ? ` | ${columns.map(() => "---:").join(" | ")}` : ""} |`,
  );
  for (const name of names) {
    const cells = columns.map(({ report }) => {
      const b = find(report, name);
      return b === undefined ? "—" : `${time(stat(b))} (${time(b.p99Ns)})`;
    });
    const rates = columns.map(({ report }) => {
      const rate = find(report, name)?.eventsPerSecond;
      return rate === undefined ? "" : Math.round(rate).toLocaleString("en-US");
    });
    lines.push(`| ${name} | ${cells.join(" | ")}${hasRates ? ` | ${rates.join(" | ")}` : ""} |`);
  }
  const pairs = first.pairs ?? [];
  if (pairs.length > 0) {
    lines.push(
      "",
      `| ours | peer | ${columns.map((c) => `${c.label}: peer time / ours`).join(" | ")} |`,
      `| --- | --- | ${columns.map(() => "---:").join(" | ")} |`,
    );
    for (const [ours, peer] of pairs) {
      const ratios = columns.map(({ report }) => {
        const a = find(report, ours);
        const b = find(report, peer);
        return a && b ? `${(stat(b) / stat(a)).toFixed(2)}×` : "—";
      });
      lines.push(`| ${ours} | ${peer} | ${ratios.join(" | ")} |`);
    }
  }
  const overheads = first.overheads ?? [];
  if (overheads.length > 0) {
    lines.push(
      "",
      `| benchmark | baseline | ${columns.map((c) => `${c.label} overhead (p50)`).join(" | ")} |`,
      `| --- | --- | ${columns.map(() => "---:").join(" | ")} |`,
    );
    for (const o of overheads) {
      const cells = columns.map(({ report }) => {
        const found = report?.overheads?.find((x) => x.name === o.name && x.baseline === o.baseline);
        return found === undefined ? "—" : signedTime(found.p50Ns);
      });
      lines.push(`| ${o.name} | ${o.baseline} | ${cells.join(" | ")} |`);
    }
  }
  const interleavedNames = [...new Set(present.flatMap((r) => (r.interleaved ?? []).map((x) => x.name)))];
  if (interleavedNames.length > 0) {
    lines.push(
      "",
      "Interleaved cross-check (round-robin batches of every variant, median batch per call):",
      "",
      `| benchmark | ${columns.map((c) => c.label).join(" | ")} |`,
      `| --- | ${columns.map(() => "---:").join(" | ")} |`,
    );
    for (const name of interleavedNames) {
      const cells = columns.map(({ report }) => {
        const found = report?.interleaved?.find((x) => x.name === name);
        return found === undefined ? "—" : time(found.medianNs);
      });
      lines.push(`| ${name} | ${cells.join(" | ")} |`);
    }
    const interleavedPairs = pairs.filter(([a, b]) => interleavedNames.includes(a) && interleavedNames.includes(b));
    if (interleavedPairs.length > 0) {
      lines.push(
        "",
        `| ours | peer | ${columns.map((c) => `${c.label}: peer time / ours, interleaved`).join(" | ")} |`,
        `| --- | --- | ${columns.map(() => "---:").join(" | ")} |`,
      );
      for (const [ours, peer] of interleavedPairs) {
        const ratios = columns.map(({ report }) => {
          const a = report?.interleaved?.find((x) => x.name === ours);
          const b = report?.interleaved?.find((x) => x.name === peer);
          return a && b ? `${(b.medianNs / a.medianNs).toFixed(2)}×` : "—";
        });
        lines.push(`| ${ours} | ${peer} | ${ratios.join(" | ")} |`);
      }
    }
  }
  for (const { label, report } of columns) {
    for (const extra of report?.extra ?? []) lines.push("", `On ${label}:`, extra.trimEnd());
  }
  lines.push(...noteLines(columns));
  return `${lines.join("\n")}\n`;
}

/**
 * The notes under a section. A file writes the same notes on each runtime, in the same order, but some
 * carry that runtime's figures (per-round ratios, overheads in %): a note the runtimes wrote alike is
 * shown once, one they wrote differently once per runtime, named, so that neither runtime's figures are
 * lost (RESULTS.md showed only the first runtime's notes, and the docs quote Node's too).
 */
function noteLines(columns: readonly { label: string; report: RunReport | undefined }[]): string[] {
  const lists = columns.flatMap(({ label, report }) =>
    report === undefined ? [] : [{ label, notes: report.notes ?? [] }],
  );
  const lines: string[] = [];
  const count = Math.max(0, ...lists.map((l) => l.notes.length));
  for (let i = 0; i < count; i++) {
    const texts = lists.map((l) => l.notes[i]);
    if (lists.length === 1 || texts.every((t) => t === texts[0])) {
      if (texts[0] !== undefined) lines.push("", texts[0]);
      continue;
    }
    lists.forEach(({ label }, j) => {
      if (texts[j] !== undefined) lines.push("", `On ${label}: ${texts[j]}`);
    });
  }
  return lines;
}

function loadText(report: RunReport): string {
  if (report.load === undefined) return "not recorded";
  return report.load.start === report.load.end
    ? `${report.load.start}`
    : `${report.load.start} at the start, ${report.load.end} at the end`;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function signedTime(ns: number): string {
  return ns < 0 ? `−${time(-ns)}` : time(ns);
}

function time(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}
