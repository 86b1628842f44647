/** The Lambda run's findings: named checks per runtime, passed or failed with why, and timings. */

export interface CheckResult {
  readonly runtime: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Timing {
  readonly runtime: string;
  readonly fn: string;
  /** The first invocation's round trip: RIE starts the runtime, the module loads, the handler runs. */
  readonly coldMs: number;
  /** RIE's INIT REPORT: starting Node and loading the handler module, inside the cold invocation. */
  readonly initMs: number | undefined;
  /** Median round trip of the warm invocations that followed. */
  readonly warmMs: number;
  readonly warmCount: number;
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
      console.log(`  ✓ ${name}${note ? ` (${note})` : ""}`);
      return true;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.results.push({ runtime, name, ok: false, detail });
      console.error(`  ✗ ${name}\n    ${detail.split("\n").join("\n    ")}`);
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

/** The first `INIT REPORT(durationMs: …)` RIE logged. */
export function initDuration(logs: string): number | undefined {
  const match = /INIT REPORT\(durationMs: ([\d.]+)\)/.exec(logs);
  return match === null ? undefined : Number(match[1]);
}
