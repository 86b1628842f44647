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
  { rounds = 30, batch = 200 }: { rounds?: number; batch?: number } = {},
): Promise<InterleavedResult[]> {
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, run]] of variants.entries()) {
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

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
