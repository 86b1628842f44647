import { describe, expect, test } from "bun:test";
import { SpanStatusCode } from "@opentelemetry/api";
import { useTracing } from "../../test/telemetry/tracing.ts";
import { InMemoryEventBus } from "../index.js";
import { testEnvelope } from "../testing/index.js";

const tracing = useTracing();

// The span was bounded from outside the time limit: a handler that never settled left no span, and
// one that settled late ended its span then, with its own late error instead of the timeout that
// onError and the errors metric reported (found by an outside audit).
describe("a handler past the bus's time limit", () => {
  for (const [what, handler] of [
    ["never settles", () => new Promise<void>(() => {})],
    ["settles late, failing", () => new Promise<void>((_, reject) => setTimeout(() => reject(new Error("late")), 100))],
  ] as const) {
    test(`that ${what}: its process span ends at the limit, failed with EVENT_HANDLER_TIMEOUT`, async () => {
      const bus = new InMemoryEventBus({ handlerTimeoutMs: 20, onError: () => undefined });
      bus.subscribe({ type: "T" }, handler, { name: "slow" });
      const result = await bus.publish([testEnvelope("T", "S-1", {})]);
      expect(result.failures.map((failure) => (failure.error as { code?: string }).code)).toEqual([
        "EVENT_HANDLER_TIMEOUT",
      ]);
      const span = tracing.named("process T");
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes["error.type"]).toBe("EVENT_HANDLER_TIMEOUT");
      // A late failure changes nothing: the span has ended.
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(tracing.spans().filter((s) => s.name === "process T")).toHaveLength(1);
    });
  }
});
