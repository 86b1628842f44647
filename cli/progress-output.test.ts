import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Progress } from "../src/index.js";
import type { CliIo } from "./io.js";
import { formatDuration, formatProgress, ProgressOutput } from "./progress-output.js";

const progress = (done: number, remaining: number, etaMs?: number): Progress => ({
  done,
  position: done,
  head: done + remaining,
  remaining,
  eventsPerSecond: 2500.4,
  etaMs,
  elapsedMs: 1000,
});

function sinks(tty: boolean) {
  const lines: string[] = [];
  const raw: string[] = [];
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (text) => lines.push(text),
    stderrRaw: (text) => raw.push(text),
    stderrIsTty: tty,
    env: {},
    cwd: ".",
  };
  return { io, lines, raw };
}

describe("progress output", () => {
  test("a line: percent of the positions from the origin to the head, events, position / head, rate, ETA", () => {
    // 1,200 positions in 1 s: 1,660 more take 1.4 s (the library's etaMs is not used).
    expect(formatProgress(progress(1200, 1660, 1), 0, false)).toBe(
      "41%  1,200 events  position 1,200/2,860  2,500 ev/s  ETA 1.4s",
    );
    expect(formatProgress(progress(0, 0), 0, true)).toBe(
      `[${"#".repeat(24)}] 100%  0 events  position 0/0  2,500 ev/s  ETA --`,
    );
    expect(formatProgress(progress(50, 50), 0, true)).toStartWith(`[${"#".repeat(12)}${"-".repeat(12)}]  50%`);
    // A sparse feed (PostgreSQL): 10 events over 4,096 positions each, from an origin of 1,000,000.
    const sparse = { ...progress(10, 0), position: 1_040_960, head: 1_081_920, remaining: 40_960 };
    expect(formatProgress(sparse, 1_000_000, false)).toStartWith("50%  10 events  position 1,040,960/1,081,920");
    expect(formatProgress(sparse, 1_000_000, false)).toEndWith("ETA 1.0s");
  });

  test("durations stay short", () => {
    expect([undefined, 0, 400, 12_300, 65_000, 3_720_000].map(formatDuration)).toEqual([
      "--",
      "0.0s",
      "0.4s",
      "12s",
      "1m 05s",
      "1h 02m",
    ]);
    fc.assert(
      fc.property(fc.nat(10 ** 10), (ms) => {
        expect(formatDuration(ms)).toMatch(/^(\d+\.\ds|\d+s|\d+m \d\ds|\d+h \d\dm)$/);
      }),
    );
  });

  test("on a terminal one line is rewritten in place and ended once", () => {
    const { io, lines, raw } = sinks(true);
    const output = new ProgressOutput(io, 0);
    output.report(progress(10, 90));
    output.report(progress(20, 80));
    output.finish();
    expect(lines).toEqual([]);
    expect(raw).toHaveLength(3);
    expect(raw[0]).toStartWith("\r[");
    expect(raw[1]).toEndWith("\x1b[K");
    expect(raw[2]).toBe("\n");
  });

  test("otherwise plain lines, at most one per interval, and the last one at the end", () => {
    const { io, lines, raw } = sinks(false);
    const output = new ProgressOutput(io, 0, 60_000);
    output.report(progress(10, 90));
    output.report(progress(20, 80));
    output.report(progress(30, 70));
    expect(lines).toHaveLength(1);
    output.finish();
    expect(raw).toEqual([]);
    expect(lines).toEqual([formatProgress(progress(10, 90), 0, false), formatProgress(progress(30, 70), 0, false)]);
  });
});
