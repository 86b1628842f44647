import { describe, expect, test } from "bun:test";
import { ServiceError, ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { MAX_DELAY_MS } from "../internal/validate.js";
import { jsonLogger } from "../logging/json-logger.js";
import { setLogger } from "../logging/library-logger.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { healthCheck } from "./health-check.js";

describe("healthCheck", () => {
  test("pings stores and buses, runs functions, and reports each by name", async () => {
    const report = await healthCheck({
      checks: {
        store: new InMemoryEventStore(),
        snapshots: new InMemorySnapshotStore(),
        bus: new InMemoryEventBus(),
        custom: async () => "answer",
      },
    });
    expect(report.healthy).toBe(true);
    expect(Object.keys(report.checks).sort()).toEqual(["bus", "custom", "snapshots", "store"]);
    for (const result of Object.values(report.checks)) {
      expect(result.status).toBe("ok");
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  test("a failing check is unhealthy with its error's code; the message goes to onError only", async () => {
    const heard: [string, unknown][] = [];
    const secret = "postgres://admin:hunter2@db";
    const report = await healthCheck({
      checks: {
        db: { ping: async () => Promise.reject(new ServiceError("postgres", "ping", "ECONNREFUSED", true, secret)) },
        plain: async () => {
          throw new Error("boom");
        },
        fine: async () => undefined,
      },
      onError: (name, error) => heard.push([name, error]),
    });
    expect(report.healthy).toBe(false);
    expect(report.checks.db).toMatchObject({ status: "failed", code: "SERVICE_ERROR" });
    expect(report.checks.plain).toMatchObject({ status: "failed" });
    expect(report.checks.plain?.code).toBeUndefined();
    expect(report.checks.fine?.status).toBe("ok");
    expect(JSON.stringify(report)).not.toContain("hunter2");
    expect(heard.map(([name]) => name).sort()).toEqual(["db", "plain"]);
  });

  test("a check that hangs times out within timeoutMs and its signal is aborted", async () => {
    let aborted = false;
    const heard: unknown[] = [];
    // The check never settles: the report arriving at all is the timeout at work (no clock is read).
    const report = await healthCheck({
      checks: {
        hung: (signal) =>
          new Promise(() => {
            signal.addEventListener("abort", () => {
              aborted = true;
            });
          }),
      },
      timeoutMs: 25,
      onError: (_name, error) => heard.push(error),
    });
    expect(report).toMatchObject({ healthy: false, checks: { hung: { status: "timed-out" } } });
    expect(aborted).toBe(true);
    expect(heard).toHaveLength(1);
    expect((heard[0] as ServiceError).serviceCode).toBe("TimeoutError");
  });

  test("an onError that throws is logged: the report still says which check failed or timed out", async () => {
    const logged: unknown[] = [];
    setLogger({ ...jsonLogger(), error: (message, fields) => void logged.push([message, fields?.hook]) });
    try {
      const report = await healthCheck({
        checks: {
          down: async () => {
            throw new Error("down");
          },
          hung: () => new Promise(() => {}),
          fine: async () => undefined,
        },
        timeoutMs: 25,
        onError: () => {
          throw new Error("the hook broke");
        },
      });
      expect(report).toMatchObject({
        healthy: false,
        checks: { down: { status: "failed" }, hung: { status: "timed-out" }, fine: { status: "ok" } },
      });
    } finally {
      setLogger(undefined);
    }
    expect(logged).toEqual([
      ["the health onError hook itself threw", "health onError"],
      ["the health onError hook itself threw", "health onError"],
    ]);
  });

  test("the longest timeout a timer keeps waits for a slow check instead of timing it out", async () => {
    const report = await healthCheck({
      checks: { slow: () => new Promise((resolve) => setTimeout(resolve, 20)) },
      timeoutMs: MAX_DELAY_MS,
    });
    expect(report.checks.slow?.status).toBe("ok");
  });

  test('a check named "__proto__" (an own key, as JSON.parse makes one) is reported under its name', async () => {
    // Object.fromEntries makes own keys, as JSON.parse does: "__proto__" is a key here, not the prototype.
    const checks = Object.fromEntries([
      ["__proto__", () => Promise.reject(new ServiceError("redis", "ping", "ECONNREFUSED", true, "down"))],
      ["cache", () => Promise.resolve()],
    ]);
    const report = await healthCheck({ checks });
    expect(report.healthy).toBe(false);
    expect(Object.keys(report.checks)).toEqual(["__proto__", "cache"]);
    expect(Object.getPrototypeOf(report.checks)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(report.checks))).toMatchObject({
      ["__proto__"]: { status: "failed", code: "SERVICE_ERROR" },
      cache: { status: "ok" },
    });
  });

  test("no checks is healthy", async () => {
    expect(await healthCheck({ checks: {} })).toEqual({ healthy: true, checks: {} });
  });

  test("options it cannot run are a ValidationError naming them, not a TypeError", async () => {
    const run = healthCheck as (options: unknown) => Promise<unknown>;
    const refused = async (options: unknown) => {
      const error = await run(options).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).issues.map((issue) => issue.path.join("."));
    };
    expect(await refused(undefined)).toEqual(["checks"]);
    expect(await refused({ checks: null })).toEqual(["checks"]);
    expect(await refused({ checks: { store: {}, cache: "http://cache" } })).toEqual(["checks.store", "checks.cache"]);
    expect(await refused({ checks: {}, timeoutMs: -1 })).toEqual(["timeoutMs"]);
    expect(await refused({ checks: {}, timeoutMs: Number.NaN })).toEqual(["timeoutMs"]);
    // Past 2^31-1 ms a runtime's timer fires at once: every check would time out within a millisecond.
    expect(await refused({ checks: {}, timeoutMs: MAX_DELAY_MS + 1 })).toEqual(["timeoutMs"]);
    expect(await refused({ checks: {}, onError: "log" })).toEqual(["onError"]);
    // A misspelt key was taken silently: `timeout: 100` left each check 2 s, `onErorr` heard of no failure.
    expect(await refused({ checks: {}, timeout: 100, onErorr: () => {} })).toEqual(["timeout", "onErorr"]);
  });
});
