/**
 * Round-robin timing that a burst of load on a shared machine cannot pin on one side: each round
 * times a batch of every variant in turn, and each variant's figure is its median batch. mitata
 * measures one benchmark after another, so load that comes and goes can favour one row of a pair.
 */
export interface InterleavedResult {
  readonly name: string;
  /** Median time of one call, in ns. */
  readonly medianNs: number;
}

export async function interleaved(
  variants: readonly (readonly [string, () => unknown])[],
  {
    rounds = 30,
    batch = 200,
    shuffle = false,
  }: {
    rounds?: number;
    batch?: number;
    /**
     * Each round in another order (a fixed-seed shuffle, so runs repeat): in a fixed order each
     * variant always follows the same one, and one that leaves much garbage or a busy server behind
     * slows its successor alone. Worth it where the variants' costs differ by far.
     */
    shuffle?: boolean;
  } = {},
): Promise<InterleavedResult[]> {
  const times = variants.map(() => [] as number[]);
  const random = seeded(0x5eed);
  const order = variants.map((_, index) => index);
  for (let round = 0; round < rounds; round++) {
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
  return variants.map(([name], index) => ({ name, medianNs: median(times[index] ?? []) }));
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
