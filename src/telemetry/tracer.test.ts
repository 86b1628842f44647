import { afterEach, describe, expect, test } from "bun:test";
import { trace } from "@opentelemetry/api";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { configureTelemetry } from "./config.js";
import { activeTracer } from "./tracer.js";

afterEach(() => {
  configureTelemetry();
  trace.disable();
});

describe("activeTracer", () => {
  test("is undefined with no provider registered: every path takes its uninstrumented branch", async () => {
    expect(activeTracer()).toBeUndefined();
    const store = new InMemoryEventStore();
    const result = await store.appendToStream("S-1", [{ type: "A", data: 1 }]);
    expect(result.events[0]?.metadata.traceparent).toBeUndefined();
    const bus = new CommandBus();
    bus.register("X", () => 1);
    expect(await bus.execute("X", {})).toBe(1);
  });

  test("follows a provider registered (and removed) after the first call", () => {
    expect(activeTracer()).toBeUndefined();
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
    expect(activeTracer()).toBeDefined();
    trace.disable();
    expect(activeTracer()).toBeUndefined();
  });

  test("is undefined when tracing is turned off, provider or not", () => {
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
    configureTelemetry({ tracing: false });
    expect(activeTracer()).toBeUndefined();
    configureTelemetry({ tracing: true });
    expect(activeTracer()).toBeDefined();
  });

  test("a tracer that throws (from getTracer, startSpan or any span method) fails nothing it traces", async () => {
    const broken = () => {
      throw new Error("tracer broke");
    };
    const span = {
      spanContext: () => ({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1 }),
      isRecording: () => true,
      ...Object.fromEntries(
        [
          "setAttribute",
          "setAttributes",
          "addEvent",
          "addLink",
          "addLinks",
          "setStatus",
          "updateName",
          "end",
          "recordException",
        ].map((name) => [name, broken]),
      ),
    };
    for (const provider of [
      { getTracer: broken },
      { getTracer: () => ({ startSpan: broken, startActiveSpan: broken }) },
      { getTracer: () => ({ startSpan: () => span, startActiveSpan: broken }) },
    ]) {
      trace.disable();
      trace.setGlobalTracerProvider(provider as never);
      const store = new InMemoryEventStore();
      const bus = new CommandBus<{ Append: { payload: Record<string, never>; result: number } }>();
      bus.register(
        "Append",
        async () => (await store.appendToStream("S-1", [{ type: "A", data: 1 }])).nextExpectedVersion,
      );
      // Before: the tracer's error came out of the command; with a throwing end(), after the append had committed.
      expect(await bus.execute("Append", {})).toBe(1);
      expect(await store.getStreamVersion("S-1")).toBe(1);
      await expect(bus.execute("Missing" as "Append", {})).rejects.toMatchObject({ code: "HANDLER_NOT_FOUND" });
    }
  });
});
