import { afterEach, describe, expect, test } from "bun:test";
import { trace } from "@opentelemetry/api";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { CommandBus } from "../messaging/command-bus.js";
import { MetricName, resetMetrics } from "./metrics.js";
import { collectingMetrics, named } from "./metrics-reader.fixture.test.js";
import { otelUnregistered } from "./otel-global.js";
import { activeTracer } from "./tracer.js";

const KEY = Symbol.for("opentelemetry.js.api.1");
const slot = globalThis as { [KEY]?: unknown };

/** Runs `fn` as in a process where nothing was ever registered with the API: its global object removed, then put back. */
async function withNothingRegistered(fn: () => Promise<void>): Promise<void> {
  const saved = slot[KEY];
  delete slot[KEY];
  try {
    await fn();
  } finally {
    if (saved !== undefined) slot[KEY] = saved;
  }
}

afterEach(() => {
  trace.disable();
  resetMetrics();
});

describe("otelUnregistered: the one property the hot paths read first", () => {
  test("is the object the API registers providers in (so the shortcut cannot miss a registration)", () => {
    const provider = new TracerProvider({ spanProcessors: [] });
    trace.setGlobalTracerProvider(provider);
    expect(otelUnregistered()).toBe(false);
    expect((slot[KEY] as { trace?: unknown }).trace).toBe(trace.getTracerProvider());
    expect(activeTracer()).toBeDefined();
  });

  test("with nothing registered: no tracer, and a bus dispatches and counts as before", async () => {
    await withNothingRegistered(async () => {
      expect(otelUnregistered()).toBe(true);
      expect(activeTracer()).toBeUndefined();
      const bus = new CommandBus();
      bus.register("Ping", async (n: unknown) => (n as number) + 1);
      expect(await bus.execute("Ping", 1)).toBe(2);
      expect(bus.stats("Ping")?.executions).toBe(1);
    });
  });

  test("with nothing registered globally, a meter provider of the library's own still times every dispatch", async () => {
    await withNothingRegistered(async () => {
      const { collect } = collectingMetrics();
      expect(otelUnregistered()).toBe(true);
      const bus = new CommandBus();
      bus.register("Ping", async () => 1);
      await bus.execute("Ping", {});
      await bus.execute("Ping", {});
      const durations = named(await collect(), MetricName.commandDuration);
      expect(durations.map((point) => point.value)).toEqual([2]);
    });
  });
});
