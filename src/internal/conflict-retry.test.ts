import { describe, expect, test } from "bun:test";
import { ConcurrencyError } from "../errors.js";
import { retryConflicts } from "./conflict-retry.js";
import { MAX_DELAY_MS } from "./validate.js";

describe("retryConflicts", () => {
  test("never asks setTimeout for more than it honours, however far the doubling goes (a timer stub records the waits)", async () => {
    const waits: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const realRandom = Math.random;
    // The largest draw: without the cap, the second retry asked for twice MAX_DELAY_MS, which setTimeout fires at once.
    Math.random = () => 0.999;
    globalThis.setTimeout = ((run: () => void, ms: number) => {
      waits.push(ms);
      return realSetTimeout(run, 0);
    }) as typeof setTimeout;
    let attempts = 0;
    try {
      const result = await retryConflicts({ maxAttempts: 4, baseDelayMs: MAX_DELAY_MS }, async () => {
        attempts++;
        if (attempts < 4) throw new ConcurrencyError("Cart-1", 1, 2);
        return "done";
      });
      expect(result).toBe("done");
    } finally {
      globalThis.setTimeout = realSetTimeout;
      Math.random = realRandom;
    }
    expect(waits).toHaveLength(3);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(MAX_DELAY_MS);
    // Still a long wait each time: capped, not dropped.
    for (const wait of waits) expect(wait).toBeGreaterThan(MAX_DELAY_MS / 2);
  });
});
