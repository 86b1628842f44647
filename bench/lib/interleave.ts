/**
 * Round-robin timing that a burst of load on a shared machine cannot pin on one side: each round
 * times a batch of every variant in turn, and each variant's figure is its median batch. mitata
 * measures one benchmark after another, so load that comes and goes can favour one row of a pair.
 */
export interface InterleavedResult {
  readonly name: string;
  /** Median time of one call, in ns. */
  readonly medianNs: number;
  /** Each round's time of one call, in ns, in round order: for {@link pairedRatio}. Not saved in reports. */
  readonly roundsNs?: readonly number[];
}

export async function interleaved(
  variants: readonly (readonly [string, () => unknown])[],
  {
    rounds = 30,
    batch = 200,
    shuffle = false,
    beforeRound,
  }: {
    rounds?: number;
    batch?: number;
    /**
     * Each round in another order (a fixed-seed shuffle, so runs repeat): in a fixed order each
     * variant always follows the same one, and one that leaves much garbage or a busy server behind
     * slows its successor alone. Worth it where the variants' costs differ by far.
     */
    shuffle?: boolean;
    /** Called before each round, outside the timing: to give every round the same starting state. */
    beforeRound?: () => unknown;
  } = {},
): Promise<InterleavedResult[]> {
  const times = variants.map(() => [] as number[]);
  const random = seeded(0x5eed);
  const order = variants.map((_, index) => index);
  for (let round = 0; round < rounds; round++) {
    await beforeRound?.();
    if (shuffle) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j] as number, order[i] as number];
      }
    }
    for (const index of order) {
      const run = (variants[index] as readonly [string, () => unknown])[1];
      const started = performance.now();
      for (let i = 0; i < batch; i++) {
        const result = run();
        // Sync variants are not charged a microtask each.
        if (result instanceof Promise) await result;
      }
      times[index]?.push(((performance.now() - started) * 1e6) / batch);
    }
  }
  return variants.map(([name], index) => ({
    name,
    medianNs: median(times[index] ?? []),
    roundsNs: times[index] ?? [],
  }));
}

/**
 * The median over rounds of `ceiling` time / `ours` time, each round's two batches timed minutes
 * apart at most: load that rises and falls over a run moves both sides of a round together, where
 * a ratio of two medians taken over the whole run can pair a quiet batch with a busy one.
 */
export function pairedRatio(results: readonly InterleavedResult[], ours: string, ceiling: string): number {
  const a = results.find((r) => r.name === ours)?.roundsNs ?? [];
  const b = results.find((r) => r.name === ceiling)?.roundsNs ?? [];
  return median(a.flatMap((time, round) => (b[round] === undefined ? [] : [(b[round] as number) / time])));
}

/** mulberry32: a small deterministic generator, for orders that repeat from run to run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
