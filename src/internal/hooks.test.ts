import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { setLogger } from "../logging/library-logger.js";
import { callHook } from "./hooks.js";

const consoleError = spyOn(console, "error").mockImplementation(() => {});
// Cleared before each test as well: the whole suite runs in one process, and a log another file's
// leftover async work writes while this file loads must not count as this test's.
beforeEach(() => consoleError.mockClear());
afterEach(() => consoleError.mockClear());

describe("callHook", () => {
  test("calls a sync hook with the arguments and returns nothing", () => {
    const calls: unknown[][] = [];
    const returned = callHook("onThing", (a: number, b: string) => calls.push([a, b]), 1, "x");
    expect(returned).toBeUndefined();
    expect(calls).toEqual([[1, "x"]]);
    expect(consoleError).not.toHaveBeenCalled();
  });

  test("a sync hook that throws is caught and logged with the hook's name", () => {
    expect(() =>
      callHook("onThing", () => {
        throw new Error("boom");
      }),
    ).not.toThrow();
    expect(consoleError).toHaveBeenCalledTimes(1);
    expect(consoleError.mock.calls[0]).toHaveLength(1);
    const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: "error", msg: "the onThing hook itself threw", hook: "onThing" });
    expect(line.error).toMatchObject({ name: "Error", message: "boom" });
  });

  test("an async hook is not awaited; its rejection is logged, not thrown or left unhandled", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let settled!: () => void;
    const logged = new Promise<void>((resolve) => {
      settled = resolve;
    });
    consoleError.mockImplementation(() => settled());
    callHook("onLater", async () => {
      await gate;
      throw new Error("late");
    });
    // callHook returned before the hook finished: the caller never waits for an observer.
    expect(consoleError).not.toHaveBeenCalled();
    release();
    await logged;
    const line = JSON.parse(String(consoleError.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ msg: "the onLater hook itself threw", error: { message: "late" } });
    consoleError.mockImplementation(() => {});
  });

  test("an async hook that resolves logs nothing", async () => {
    let ran = false;
    callHook(
      "onFine",
      async (value: number) => {
        ran = value === 7;
      },
      7,
    );
    await Promise.resolve();
    expect(ran).toBe(true);
    expect(consoleError).not.toHaveBeenCalled();
  });

  test("a logger that throws while reporting a failing hook changes nothing: callHook returns, an async hook's rejection stays handled", async () => {
    const down = () => {
      throw new Error("logger down");
    };
    setLogger({ debug: down, info: down, warn: down, error: down });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      expect(() =>
        callHook("onThing", () => {
          throw new Error("boom");
        }),
      ).not.toThrow();
      callHook("onAsync", async () => {
        throw new Error("async boom");
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      setLogger(undefined);
    }
  });
});
