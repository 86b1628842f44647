import type { Progress } from "../src/index.js";
import type { CliIo } from "./io.js";

/** How often a plain (not a terminal) progress line is printed. */
export const PLAIN_PROGRESS_INTERVAL_MS = 1000;

const BAR_WIDTH = 24;

/** `0.4s`, `12s`, `1m 05s`, `1h 02m`: an ETA or an elapsed time, short enough for one line. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "--";
  if (ms < 9950) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/**
 * One progress line: `[#####-----]  42%  1,200 events  position 3,153,921/3,158,017  3,100 ev/s  ETA 1.2s`.
 * `origin` is the position the run started after. The fraction and the ETA are measured in
 * positions covered, not events (as the library's `etaMs` is): PostgreSQL's transactions take blocks
 * of 4,096 positions, so counting events against positions would be far off there. On a sparse feed
 * they are estimates in transactions appended.
 */
export function formatProgress(progress: Progress, origin: number, bar: boolean): string {
  const span = progress.head - origin;
  const covered = progress.position - origin;
  const fraction = span <= 0 ? 1 : Math.min(1, Math.max(0, covered / span));
  // Padded on a terminal, so the rewritten line does not shift as the percentage grows.
  const percent = `${Math.floor(fraction * 100)}%`.padStart(bar ? 4 : 0);
  const count = `${progress.done.toLocaleString("en-US")} events`;
  const where = `position ${progress.position.toLocaleString("en-US")}/${progress.head.toLocaleString("en-US")}`;
  const rate = `${Math.round(progress.eventsPerSecond).toLocaleString("en-US")} ev/s`;
  const perMs = progress.elapsedMs > 0 ? covered / progress.elapsedMs : 0;
  const eta = `ETA ${formatDuration(perMs > 0 ? (progress.head - progress.position) / perMs : undefined)}`;
  const filled = Math.round(fraction * BAR_WIDTH);
  const head = bar ? `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ` : "";
  return `${head}${percent}  ${count}  ${where}  ${rate}  ${eta}`;
}

/**
 * Shows a run's progress on stderr: on a terminal, one line rewritten in place with `\r` at every
 * report; otherwise a plain line at the first report, then at most once per interval, and the last
 * one when the run ends, so a log file gets a readable trace rather than one line per batch.
 */
export class ProgressOutput {
  readonly #io: CliIo;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  readonly #origin: number;
  #lastPrinted = Number.NEGATIVE_INFINITY;
  #lineOpen = false;
  #unprinted: Progress | undefined;

  /** `origin`: the position the run starts after (see {@link formatProgress}). */
  constructor(io: CliIo, origin: number, intervalMs = PLAIN_PROGRESS_INTERVAL_MS) {
    this.#io = io;
    this.#origin = origin;
    this.#tty = io.stderrIsTty === true && io.stderrRaw !== undefined;
    this.#intervalMs = intervalMs;
  }

  readonly report = (progress: Progress): void => {
    if (this.#tty) {
      // \x1b[K clears what a longer previous line left to the right.
      this.#io.stderrRaw?.(`\r${formatProgress(progress, this.#origin, true)}\x1b[K`);
      this.#lineOpen = true;
      return;
    }
    const now = Date.now();
    if (now - this.#lastPrinted < this.#intervalMs) {
      this.#unprinted = progress;
      return;
    }
    this.#lastPrinted = now;
    this.#unprinted = undefined;
    this.#io.stderr(formatProgress(progress, this.#origin, false));
  };

  /** Prints the last plain report if it was held back; ends the rewritten line on a terminal. */
  finish(): void {
    if (this.#unprinted !== undefined) this.#io.stderr(formatProgress(this.#unprinted, this.#origin, false));
    this.#unprinted = undefined;
    if (this.#lineOpen) this.#io.stderrRaw?.("\n");
    this.#lineOpen = false;
  }
}
