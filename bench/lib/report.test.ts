import { expect, test } from "bun:test";
import { type RunReport, sideBySide } from "./report.ts";

const report = (runtime: "bun" | "node", notes: readonly string[]): RunReport => ({
  name: "x",
  title: "X",
  runtime,
  date: "2026-12-05T13:27:00.000Z",
  statistic: "p50",
  benchmarks: [{ name: "a", avgNs: 2000, p50Ns: 1000, p99Ns: 5000, minNs: 500, maxNs: 9000, samples: 10 }],
  notes,
});

test("a note each runtime measured differently is shown for both runtimes, under each one's name", () => {
  const section = sideBySide([
    report("bun", ["Per-round ratios: in memory 66%.", "What was measured."]),
    report("node", ["Per-round ratios: in memory 69%.", "What was measured."]),
  ]);
  // Docs quote Node's figures from these lines: RESULTS.md must hold them, not only Bun's.
  expect(section).toContain("On Bun: Per-round ratios: in memory 66%.");
  expect(section).toContain("On Node: Per-round ratios: in memory 69%.");
  // A note both runtimes wrote alike (what was measured) is shown once, outside either runtime's part.
  expect(section.split("What was measured.").length - 1).toBe(1);
  expect(section).not.toContain("On Bun: What was measured.");
});

test("a single runtime's report shows its notes as they are", () => {
  const section = sideBySide([undefined, report("node", ["Per-round ratios: in memory 69%."])]);
  expect(section).toContain("\n\nPer-round ratios: in memory 69%.\n");
  expect(section).not.toContain("On Node: Per-round");
});
