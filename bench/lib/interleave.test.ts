import { describe, expect, test } from "bun:test";
import { interleaved, pairedRatio } from "./interleave.js";

/** Runs the variants through `interleaved` and records the order they ran in. */
async function orderOf(count: number, rounds: number, shuffle: boolean): Promise<number[][]> {
  const ran: number[] = [];
  await interleaved(
    Array.from({ length: count }, (_, index) => [`v${index}`, () => void ran.push(index)] as const),
    { rounds, batch: 1, shuffle },
  );
  return Array.from({ length: rounds }, (_, round) => ran.slice(round * count, (round + 1) * count));
}

describe("interleaved", () => {
  test("without shuffle every round runs the variants in the order given", async () => {
    expect(await orderOf(3, 4, false)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
  });

  test("with shuffle every round runs each variant once, the rounds in more than one order, the same orders every run", async () => {
    const rounds = await orderOf(4, 12, true);
    for (const round of rounds) expect([...round].sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(rounds.map((round) => round.join())).size).toBeGreaterThan(1);
    // Each variant follows more than one other variant across the run.
    const sequence = rounds.flat();
    for (let variant = 0; variant < 4; variant++) {
      const before = new Set(sequence.flatMap((v, i) => (v === variant && i > 0 ? [sequence[i - 1]] : [])));
      expect(before.size).toBeGreaterThan(1);
    }
    expect(await orderOf(4, 12, true)).toEqual(rounds);
  });

  test("reports each variant's median batch by name, in the order given", async () => {
    const results = await interleaved(
      [
        ["fast", () => undefined],
        ["slow", () => new Promise((resolve) => setTimeout(resolve, 2))],
      ],
      { rounds: 5, batch: 1, shuffle: true },
    );
    expect(results.map((r) => r.name)).toEqual(["fast", "slow"]);
    expect((results[1]?.medianNs ?? 0) > (results[0]?.medianNs ?? 0)).toBe(true);
  });
});

describe("pairedRatio", () => {
  test("is the median of the per-round ratios, not the ratio of the medians", () => {
    const results = [
      { name: "ours", medianNs: 0, roundsNs: [10, 20, 40] },
      { name: "ceiling", medianNs: 0, roundsNs: [8, 10, 36] },
    ];
    // Per round: 0.8, 0.5, 0.9 -> 0.8 (medians 20 vs 10 would say 0.5).
    expect(pairedRatio(results, "ours", "ceiling")).toBeCloseTo(0.8);
  });

  test("beforeRound runs once before each round, outside every batch", async () => {
    const log: string[] = [];
    await interleaved([["a", () => void log.push("a")]], { rounds: 3, batch: 2, beforeRound: () => log.push("reset") });
    expect(log).toEqual(["reset", "a", "a", "reset", "a", "a", "reset", "a", "a"]);
  });
});
