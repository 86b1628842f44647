import { describe, expect, test } from "bun:test";
import { readinessCache } from "./health.js";

describe("readinessCache", () => {
  test("reuses a report for cacheMs, shares a run in flight, and probes again after", async () => {
    let now = 0;
    let runs = 0;
    const cached = readinessCache(1000, () => now);
    const run = async () => {
      runs++;
      return { ready: true, checks: {} };
    };
    await Promise.all([cached(run), cached(run), cached(run)]);
    expect(runs).toBe(1);
    now = 999;
    await cached(run);
    expect(runs).toBe(1);
    now = 1000;
    await cached(run);
    expect(runs).toBe(2);
  });

  test("cacheMs 0 probes every time", async () => {
    let runs = 0;
    const cached = readinessCache(0, () => 5);
    for (let i = 0; i < 3; i++) await cached(async () => ({ ready: ++runs > 0, checks: {} }));
    expect(runs).toBe(3);
  });
});
