import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { abortableSleep, ProgressMeter } from "./progress.js";

describe("ProgressMeter", () => {
  test("rate, remaining and ETA from events done over time", () => {
    const meter = new ProgressMeter(100, 1100, 0);
    expect(meter.report(0)).toEqual({
      done: 0,
      position: 100,
      head: 1100,
      remaining: 1000,
      eventsPerSecond: 0,
      etaMs: undefined,
      elapsedMs: 0,
    });
    meter.advance(250, 350);
    // 250 events in 500 ms = 500/s; 250 positions covered in 500 ms, 750 to go = 1,500 ms.
    expect(meter.report(500)).toMatchObject({
      done: 250,
      position: 350,
      remaining: 750,
      eventsPerSecond: 500,
      etaMs: 1500,
    });
  });

  test("a run that covered positions in under a millisecond still reports a rate and an ETA (0 once at the head)", () => {
    const meter = new ProgressMeter(0, 20, 0);
    meter.advance(10, 10);
    // Before, elapsed 0 gave eventsPerSecond 0 and etaMs undefined, as before the first event.
    expect(meter.report(0)).toMatchObject({ done: 10, remaining: 10, eventsPerSecond: 10_000, etaMs: 1 });
    meter.advance(10, 20);
    expect(meter.report(0)).toMatchObject({ done: 20, remaining: 0, eventsPerSecond: 20_000, etaMs: 0 });
  });

  test("the ETA follows positions covered, not events: gaps between positions do not inflate it", () => {
    // PostgreSQL-like: each transaction's events take a block of 4,096 positions.
    const meter = new ProgressMeter(0, 40_960, 0);
    meter.advance(5, 5 * 4096);
    // 5 events covered 20,480 positions in 1 s; 20,480 positions to go take 1 s more.
    expect(meter.report(1000)).toMatchObject({ done: 5, remaining: 20_480, eventsPerSecond: 5, etaMs: 1000 });
  });

  test("a position past the head raises the head; remaining never goes below 0 (property)", () => {
    fc.assert(
      fc.property(
        fc.nat(1000),
        fc.nat(1000),
        fc.array(fc.tuple(fc.nat(100), fc.nat(5000)), { maxLength: 20 }),
        (start, head, steps) => {
          const meter = new ProgressMeter(start, head, 0);
          let done = 0;
          for (const [read, position] of steps) {
            meter.advance(read, position);
            done += read;
            const report = meter.report(1000);
            expect(report.remaining).toBeGreaterThanOrEqual(0);
            expect(report.head).toBeGreaterThanOrEqual(report.position);
            expect(report.done).toBe(done);
            if (meter.pastHead) meter.head = report.position;
          }
        },
      ),
    );
  });
});

describe("abortableSleep", () => {
  test("rejects with an AbortedError carrying the reason as soon as the signal fires", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort("why"), 20);
    // An hour's sleep, past any test timeout: rejecting at all shows the abort ended it (no clock is read).
    // Awaited directly: Bun's expect(...).rejects on a promise that never settles outlasts the test's timeout.
    const outcome = await abortableSleep(3_600_000, controller.signal, "test").then(
      () => "slept",
      (error: unknown) => error,
    );
    expect(outcome).toMatchObject({ code: "ABORTED", cause: "why" });
  });
});
