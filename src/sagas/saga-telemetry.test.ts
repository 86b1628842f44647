import { afterEach, describe, expect, test } from "bun:test";
import { SpanStatusCode } from "@opentelemetry/api";
import { orderEvent, orderSaga } from "../../test/sagas/order-saga.ts";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { CommandBus } from "../messaging/command-bus.js";
import type { MessageMetadata } from "../messaging/message.js";
import { MetricName, resetMetrics } from "../telemetry/metrics.js";
import { collectingMetrics, named } from "../telemetry/metrics-reader.fixture.test.js";
import { parseTraceparent } from "../telemetry/propagation.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime } from "./saga-runtime.js";

const tracing = useTracing();
afterEach(() => resetMetrics());

const T0 = Date.parse("2026-12-03T10:00:00Z");
const ORIGIN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const ORIGIN_SPAN = "00f067aa0ba902b7";

function setup(options: { telemetry?: boolean } = {}) {
  const store = new InMemorySagaStore();
  const sent: { type: string; metadata: MessageMetadata }[] = [];
  const bus = new CommandBus();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"]) {
    bus.register(type, (_payload, message) => void sent.push({ type, metadata: message.metadata }));
  }
  const clock = { now: T0 };
  const runtime = new SagaRuntime({
    store,
    commands: bus,
    sagas: [orderSaga],
    now: () => clock.now,
    retryDelayMs: 0,
    onError: () => undefined,
    ...options,
  });
  return { store, runtime, sent, clock };
}

/** An event as a consumer receives it: carrying the trace of the request that appended it. */
const traced = (type: Parameters<typeof orderEvent>[0], orderId: string, extra: object = {}) => {
  const event = orderEvent(type, orderId, extra);
  return { ...event, metadata: { ...event.metadata, traceparent: `00-${ORIGIN_TRACE}-${ORIGIN_SPAN}-01` } };
};

describe("saga step spans", () => {
  test("a step continues the event's trace; its commands carry the step's trace context and are its children", async () => {
    const { runtime, sent } = setup();
    await runtime.handle(traced("OrderPlaced", "o1", { sku: "TEA" }));
    const step = tracing.named("saga Order");
    expect(step.spanContext().traceId).toBe(ORIGIN_TRACE);
    expect(parentOf(step)).toBe(ORIGIN_SPAN);
    expect(step.attributes).toMatchObject({
      "eventflows.saga": "Order",
      "eventflows.saga.key": "o1",
      "eventflows.event_type": "OrderPlaced",
      "eventflows.outcome": "started",
      "eventflows.saga.version": 1,
    });
    const command = tracing.named("command ReserveStock");
    expect(parentOf(command)).toBe(step.spanContext().spanId);
    expect(parseTraceparent(sent[0]?.metadata.traceparent)?.spanId).toBe(step.spanContext().spanId);
  });

  test("a command re-driven after a crash, outside any span, still joins the trace that decided it", async () => {
    const { runtime, store, sent } = setup();
    const decided = "0af7651916cd43dd8448eb211c80319c";
    await store.commit({
      saga: "Order",
      key: "o2",
      expectedVersion: 0,
      state: { sku: "A", steps: ["placed"] },
      status: "running",
      step: 1,
      compensations: [],
      outbox: [
        {
          id: "Order/o2/1",
          type: "ReserveStock",
          payload: { orderId: "o2", sku: "A" },
          causationId: "e1",
          compensation: false,
          traceparent: `00-${decided}-b7ad6b7169203331-01`,
        },
      ],
    });
    expect(await runtime.redrive()).toBe(1);
    expect(sent[0]?.metadata.traceparent).toBe(`00-${decided}-b7ad6b7169203331-01`);
    const command = tracing.named("command ReserveStock");
    expect(command.spanContext().traceId).toBe(decided);
    expect(parentOf(command)).toBe("b7ad6b7169203331");
  });

  test("a failed step is recorded with its code; telemetry: false makes no saga span", async () => {
    const broken = defineSaga<{ type: "OrderPlaced"; data: { orderId: string } }, { n: number }>({
      name: "Broken",
      startedBy: ["OrderPlaced"],
      correlate: (event) => event.data.orderId,
      initialState: { n: 0 },
      on: {
        OrderPlaced: (_state, _event, ctx) => {
          ctx.dispatch("Nope", { bad: () => undefined });
          return { n: 1 };
        },
      },
    });
    const runtime = new SagaRuntime({
      store: new InMemorySagaStore(),
      commands: new CommandBus(),
      sagas: [broken],
      onError: () => undefined,
    });
    const [outcome] = await runtime.handle(traced("OrderPlaced", "o3"));
    expect(outcome?.outcome).toBe("failed");
    const step = tracing.named("saga Broken");
    expect(step.status.code).toBe(SpanStatusCode.ERROR);
    expect(step.attributes["eventflows.outcome"]).toBe("failed");
    expect(step.attributes["eventflows.error.code"]).toBe("VALIDATION_FAILED");
    expect(outcome?.error).toMatchObject({ code: "VALIDATION_FAILED" });

    tracing.exporter.reset();
    const off = setup({ telemetry: false });
    await off.runtime.handle(traced("OrderPlaced", "o4", { sku: "A" }));
    expect(tracing.spans().filter((span) => span.name.startsWith("saga"))).toEqual([]);
  });

  test("a fired timeout has its span with its lateness", async () => {
    const { runtime, clock } = setup();
    await runtime.handle(orderEvent("OrderPlaced", "o5", { sku: "A" }));
    clock.now = T0 + 55 * 60_000;
    await runtime.tick();
    const fired = tracing.named("saga Order timeout");
    expect(fired.attributes).toMatchObject({
      "eventflows.saga": "Order",
      "eventflows.saga.key": "o5",
      "eventflows.saga.timeout": "payment-timeout",
      "eventflows.saga.timeout.lateness_ms": 40 * 60_000,
      "eventflows.outcome": "completed",
    });
    // The compensation it decided is its child.
    expect(parentOf(tracing.named("command ReleaseStock"))).toBe(fired.spanContext().spanId);
  });
});

describe("saga metrics", () => {
  test("steps by outcome, instances by status, timeout lateness; the instance key is no label", async () => {
    const { collect } = collectingMetrics();
    const { runtime, clock } = setup();
    const key = `secret-${crypto.randomUUID()}`;
    await runtime.handle(orderEvent("OrderPlaced", key, { sku: "A" }));
    await runtime.handle(orderEvent("OrderPlaced", "o7", { sku: "B" }));
    await runtime.handle(orderEvent("PaymentCharged", "o7"));
    await runtime.handle(orderEvent("PaymentCharged", "o8"));
    clock.now = T0 + 55 * 60_000;
    await runtime.tick();
    const all = await collect();
    const steps = named(all, MetricName.sagaSteps).map((p) => [p.attributes["eventflows.outcome"], p.value]);
    expect(steps.sort()).toEqual([
      ["completed", 2],
      ["no-instance", 1],
      ["started", 2],
    ]);
    const instances = named(all, MetricName.sagaInstances).map((p) => [
      p.attributes["eventflows.saga.status"],
      p.value,
    ]);
    expect(instances.sort()).toEqual([
      ["compensated", 1],
      ["completed", 1],
      ["running", 0],
    ]);
    const lateness = named(all, MetricName.sagaTimeoutLateness);
    expect(lateness).toEqual([
      expect.objectContaining({
        attributes: { "eventflows.saga": "Order", "eventflows.outcome": "completed" },
        value: 1,
        sum: 40 * 60,
      }),
    ]);
    expect(JSON.stringify(all)).not.toContain(key);
  });
});
