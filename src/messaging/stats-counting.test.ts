// Execution stats count an untimed async dispatch either by a promise reaction (Node, Workers) or,
// where the runtime reads a promise's state synchronously (Bun), by sweeping the kept promises. Both
// ways are held to the same contract here: exact counts whenever stats() is read.
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import fc from "fast-check";
import * as promiseStatus from "../internal/promise-status.js";
import { CommandBus } from "./command-bus.js";

type Commands = { Run: { payload: number; result: number } };

const counters = {
  "a reaction per dispatch (no promise-status reader, as on Node)": () =>
    spyOn(promiseStatus, "promiseStatusReader").mockReturnValue(undefined),
  "sweeps of kept promises (the runtime's reader)": () => undefined,
};

afterEach(() => {
  (promiseStatus.promiseStatusReader as { mockRestore?: () => void }).mockRestore?.();
});

/** A handler whose every dispatch waits until the test settles it. */
function heldHandler() {
  const held: { resolve: (value: number) => void; reject: (error: Error) => void }[] = [];
  const handler = (n: number) =>
    new Promise<number>((resolve, reject) => {
      held.push({ resolve: () => resolve(n), reject });
    });
  return { held, handler };
}

for (const [how, arrange] of Object.entries(counters)) {
  describe(`stats counted by ${how}`, () => {
    test("the reader is in use only where the runtime has one", () => {
      arrange();
      const reader = promiseStatus.promiseStatusReader();
      if (how.startsWith("a reaction")) expect(reader).toBeUndefined();
      else expect(reader?.(Promise.resolve(1))).toBe("fulfilled");
    });

    test("dispatches in flight are not counted; each is counted once it has ended, failures apart", async () => {
      await fc.assert(
        fc.asyncProperty(
          // Which of up to 120 dispatches in flight end, and how: more than one sweep's worth.
          fc.array(fc.constantFrom("ok", "fail", "held"), { minLength: 1, maxLength: 120 }),
          async (fates) => {
            arrange();
            const bus = new CommandBus<Commands>({ timeExecutions: false });
            const { held, handler } = heldHandler();
            bus.register("Run", handler);
            const calls = fates.map((_, n) => bus.execute("Run", n).catch(() => -1));
            expect(bus.stats("Run")).toMatchObject({ executions: 0, failures: 0 });
            fates.forEach((fate, n) => {
              if (fate === "ok") held[n]?.resolve(n);
              if (fate === "fail") held[n]?.reject(new RangeError("no"));
            });
            await Promise.all(calls.filter((_, n) => fates[n] !== "held"));
            const ended = fates.filter((fate) => fate !== "held").length;
            const failed = fates.filter((fate) => fate === "fail").length;
            expect(bus.stats("Run")).toMatchObject({ executions: ended, failures: failed });
            expect(bus.stats()).toEqual([expect.objectContaining({ executions: ended, failures: failed })]);
            // The held ones end now: all counted, none twice.
            held.forEach((entry, n) => {
              if (fates[n] === "held") entry.resolve(n);
            });
            await Promise.all(calls);
            expect(bus.stats("Run")).toMatchObject({ executions: fates.length, failures: failed });
          },
        ),
        { numRuns: 40 },
      );
    });

    test("async handlers that settle before returning (no await) and ones still pending: each counted once, failures apart", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom("settled ok", "settled fail", "held ok", "held fail"), {
            minLength: 1,
            maxLength: 100,
          }),
          async (fates) => {
            arrange();
            const bus = new CommandBus<Commands>({ timeExecutions: false });
            const held: { resolve: () => void; reject: () => void }[] = [];
            bus.register("Run", async (n) => {
              const fate = fates[n] as string;
              if (fate === "settled ok") return n;
              if (fate === "settled fail") throw new RangeError("no");
              await new Promise<void>((resolve, reject) => {
                held.push({ resolve, reject: () => reject(new RangeError("no")) });
              });
              return n;
            });
            const calls = fates.map((_, n) => bus.execute("Run", n).catch(() => -1));
            let k = 0;
            for (const fate of fates) {
              if (!fate.startsWith("held")) continue;
              const entry = held[k++];
              if (fate === "held ok") entry?.resolve();
              else entry?.reject();
            }
            await Promise.all(calls);
            const failed = fates.filter((fate) => fate.endsWith("fail")).length;
            expect(bus.stats("Run")).toMatchObject({ executions: fates.length, failures: failed });
          },
        ),
        { numRuns: 40 },
      );
    });

    test("the caller gets the handler's result or error unchanged, and a caught failure is no unhandled rejection", async () => {
      arrange();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      try {
        const bus = new CommandBus<Commands>();
        bus.register("Run", async (n) => {
          if (n < 0) throw new RangeError("negative");
          return n * 2;
        });
        for (let i = 0; i < 70; i++) {
          expect(await bus.execute("Run", i)).toBe(i * 2);
          await expect(bus.execute("Run", -i - 1)).rejects.toThrow("negative");
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(unhandled).toEqual([]);
        expect(bus.stats("Run")).toMatchObject({ executions: 140, failures: 70 });
      } finally {
        process.off("unhandledRejection", onUnhandled);
      }
    });
  });
}
