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
});
