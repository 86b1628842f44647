/**
 * Runs the mitata benchmarks registered by the calling file and writes its results:
 * `bench/results/<name>.json` (per benchmark: ns per iteration avg/p50/p99, events/s) and
 * `bench/results/<name>.md` (a table with ratios against the peer), which `bench/run.ts` gathers
 * into `bench/RESULTS.md`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "mitata";

/** Which per-iteration time drives events/s, ratios and the headline of overheads. */
export type Statistic = "avg" | "p50";

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
  /** Lines printed under the table: what was measured, on what. */
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

export const resultsDir = join(import.meta.dirname, "..", "results");

export async function runAndReport(name: string, title: string, spec: ReportSpec = {}): Promise<BenchmarkResult[]> {
  const statistic = spec.statistic ?? "avg";
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
  mkdirSync(resultsDir, { recursive: true });
  const runtime = `${context.runtime ?? "unknown"} on ${context.cpu.name ?? "unknown cpu"}`;
  const date = new Date(context.now).toISOString();
  const json = {
    name,
    title,
    runtime,
    date,
    statistic,
    benchmarks: results,
    ...(overheads.length > 0 ? { overheads } : {}),
  };
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(resultsDir, `${name}.md`), markdown(title, runtime, results, spec, overheads));
  return results;
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

function markdown(
  title: string,
  runtime: string,
  results: readonly BenchmarkResult[],
  spec: ReportSpec,
  overheads: readonly Overhead[],
): string {
  const statistic = spec.statistic ?? "avg";
  const lines = [`## ${title}`, "", `Measured with mitata, ${runtime}, ${new Date().toISOString().slice(0, 10)}.`, ""];
  lines.push(`| benchmark | avg | p50 | p99 | events/s (${statistic}) |`, "| --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const rate = r.eventsPerSecond === undefined ? "" : Math.round(r.eventsPerSecond).toLocaleString("en-US");
    lines.push(`| ${r.name} | ${time(r.avgNs)} | ${time(r.p50Ns)} | ${time(r.p99Ns)} | ${rate} |`);
  }
  if (spec.pairs !== undefined && spec.pairs.length > 0) {
    lines.push("", `| ours | peer | peer time / our time (${statistic}) |`, "| --- | --- | ---: |");
    const byName = new Map(results.map((r) => [r.name, r]));
    const of = (r: BenchmarkResult) => (statistic === "p50" ? r.p50Ns : r.avgNs);
    for (const [ours, peer] of spec.pairs) {
      const a = byName.get(ours);
      const b = byName.get(peer);
      const ratio = a && b ? `${(of(b) / of(a)).toFixed(2)}×` : "n/a";
      lines.push(`| ${ours} | ${peer} | ${ratio} |`);
    }
  }
  if (overheads.length > 0) {
    lines.push("", "| benchmark | baseline | overhead (p50) | overhead (avg) |", "| --- | --- | ---: | ---: |");
    for (const o of overheads) {
      lines.push(`| ${o.name} | ${o.baseline} | ${signedTime(o.p50Ns)} | ${signedTime(o.avgNs)} |`);
    }
  }
  for (const note of spec.notes ?? []) lines.push("", note);
  return `${lines.join("\n")}\n`;
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
