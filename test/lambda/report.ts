/** The Lambda run's findings: named checks per runtime, passed or failed with why, and timings. */
import type { ColdStart } from "./setup.ts";

export interface CheckResult {
  readonly runtime: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Timing extends ColdStart {
  readonly runtime: string;
  readonly fn: string;
}

export class Report {
  readonly results: CheckResult[] = [];
  readonly timings: Timing[] = [];

  /** Runs one check; an exception fails it with its message, and the run goes on. */
  async check(runtime: string, name: string, body: () => Promise<unknown>): Promise<boolean> {
    try {
      const result = await body();
      const note = typeof result === "string" ? result : "";
      this.results.push({ runtime, name, ok: true, detail: note });
      console.log(`  ✓ ${runtime}  ${name}${note ? ` (${note})` : ""}`);
      return true;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.results.push({ runtime, name, ok: false, detail });
      console.error(`  ✗ ${runtime}  ${name}\n    ${detail.split("\n").join("\n    ")}`);
      return false;
    }
  }

  get failed(): CheckResult[] {
    return this.results.filter((result) => !result.ok);
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
