/**
 * Runs the mitata benchmarks registered by the calling file and writes its results:
 * `bench/results/<name>.json` (per benchmark: ns per iteration avg/p50/p99, events/s) and
 * `bench/results/<name>.md` (a table with ratios against the peer), which `bench/run.ts` gathers
 * into `bench/RESULTS.md`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "mitata";

export interface ReportSpec {
  /** Events (or messages) handled per iteration of a benchmark, by its name: turns ns/iter into events/s. */
  readonly eventsPerIteration?: Readonly<Record<string, number>>;
  /** Pairs to compare: `[ours, peer]`; the ratio is the peer's time over ours (above 1: we are faster). */
  readonly pairs?: readonly (readonly [string, string])[];
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
  readonly eventsPerSecond?: number;
}

export const resultsDir = join(import.meta.dirname, "..", "results");

export async function runAndReport(name: string, title: string, spec: ReportSpec = {}): Promise<BenchmarkResult[]> {
  const { benchmarks, context } = await run({ format: "mitata", colors: false, throw: true });
  const results: BenchmarkResult[] = [];
  for (const trial of benchmarks) {
    for (const measured of trial.runs) {
      if (!measured.stats) throw new Error(`benchmark ${measured.name} failed: ${String(measured.error)}`);
      const s = measured.stats;
      const events = spec.eventsPerIteration?.[measured.name];
      results.push({
        name: measured.name,
        avgNs: s.avg,
        p50Ns: s.p50,
        p99Ns: s.p99,
        minNs: s.min,
        maxNs: s.max,
        samples: s.samples.length,
        ...(events === undefined ? {} : { eventsPerIteration: events, eventsPerSecond: (events * 1e9) / s.avg }),
      });
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  const runtime = `${context.runtime ?? "unknown"} on ${context.cpu.name ?? "unknown cpu"}`;
  writeFileSync(
    join(resultsDir, `${name}.json`),
    `${JSON.stringify({ name, title, runtime, date: new Date(context.now).toISOString(), benchmarks: results }, null, 2)}\n`,
  );
  writeFileSync(join(resultsDir, `${name}.md`), markdown(title, runtime, results, spec));
  return results;
}

function markdown(title: string, runtime: string, results: readonly BenchmarkResult[], spec: ReportSpec): string {
  const lines = [`## ${title}`, "", `Measured with mitata, ${runtime}, ${new Date().toISOString().slice(0, 10)}.`, ""];
  lines.push("| benchmark | avg | p50 | p99 | events/s |", "| --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const rate = r.eventsPerSecond === undefined ? "" : Math.round(r.eventsPerSecond).toLocaleString("en-US");
    lines.push(`| ${r.name} | ${time(r.avgNs)} | ${time(r.p50Ns)} | ${time(r.p99Ns)} | ${rate} |`);
  }
  if (spec.pairs !== undefined && spec.pairs.length > 0) {
    lines.push("", "| ours | peer | peer time / our time |", "| --- | --- | ---: |");
    const byName = new Map(results.map((r) => [r.name, r]));
    for (const [ours, peer] of spec.pairs) {
      const a = byName.get(ours);
      const b = byName.get(peer);
      const ratio = a && b ? `${(b.avgNs / a.avgNs).toFixed(2)}×` : "n/a";
      lines.push(`| ${ours} | ${peer} | ${ratio} |`);
    }
  }
  for (const note of spec.notes ?? []) lines.push("", note);
  return `${lines.join("\n")}\n`;
}

function time(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}
