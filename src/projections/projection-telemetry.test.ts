import { afterEach, describe, expect, test } from "bun:test";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { MetricName, resetMetrics } from "../telemetry/metrics.js";
import { collectingMetrics, named } from "../telemetry/metrics-reader.fixture.test.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import { projection } from "./projection.js";
import { ProjectionRunner } from "./projection-runner.js";

const tracing = useTracing();
afterEach(() => resetMetrics());

interface Options {
  readonly failOn?: number;
  readonly batchSize?: number;
  readonly telemetry?: boolean;
  readonly inline?: boolean;
  readonly pollIntervalMs?: number;
}

function runner(options: Options = {}) {
  const eventStore = new InMemoryEventStore();
  const readModels = new InMemoryReadModelStore();
  const totals = projection({
    name: "totals",
    handle: async (event, { readModels: tx }) => {
      if (event.globalPosition === options.failOn) throw new Error("handler bug");
      await tx.put("totals", event.streamId, { last: event.type });
    },
  });
  const run = new ProjectionRunner({
    projection: totals,
    eventStore,
    readModels,
    batchSize: options.batchSize ?? 100,
    pollIntervalMs: options.pollIntervalMs ?? 5,
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    ...(options.inline === undefined ? {} : { inline: options.inline }),
    onFailure: () => undefined,
  });
  return { eventStore, runner: run };
}

/** Appends inside a span of its own, as a request would: the events carry that trace. */
function appendInTrace(store: InMemoryEventStore, streamId: string, count = 1) {
  return trace.getTracer("test").startActiveSpan("request", async (span) => {
    try {
      await store.appendToStream(
        streamId,
        Array.from({ length: count }, () => ({ type: "Added", data: {} })),
      );
      return span.spanContext().traceId;
    } finally {
      span.end();
    }
  });
}

describe("projection batch spans", () => {
  test("a batch from one origin continues its trace, with the projection, size and positions", async () => {
    const { eventStore, runner: run } = runner();
    const traceId = await appendInTrace(eventStore, "Cart-1", 3);
    await run.catchUp();
    const batch = tracing.named("projection totals");
    const append = tracing.named("appendToStream");
    expect(batch.spanContext().traceId).toBe(traceId);
    expect(parentOf(batch)).toBe(append.spanContext().spanId);
    expect(batch.attributes).toMatchObject({
      "eventflows.projection": "totals",
      "messaging.batch.message_count": 3,
      "eventflows.position.from": 0,
      "eventflows.position.to": 3,
      "eventflows.handled": 3,
      "eventflows.outcome": "committed",
      "eventflows.inline": false,
    });
    expect(batch.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  test("a batch from several traces starts its own and links to each origin", async () => {
    const { eventStore, runner: run } = runner();
    const first = await appendInTrace(eventStore, "Cart-1");
    const second = await appendInTrace(eventStore, "Cart-2");
    await run.catchUp();
    const batch = tracing.named("projection totals");
    expect(parentOf(batch)).toBeUndefined();
    expect([first, second]).not.toContain(batch.spanContext().traceId);
    expect(batch.links.map((link) => link.context.traceId).sort()).toEqual([first, second].sort());
  });

  test("an empty poll makes no span, not even a readAll; a handler failure is recorded with its code", async () => {
    const { eventStore, runner: run } = runner({ failOn: 2 });
    await run.catchUp();
    // Nor does the feed read of any poll: the runner reads as a follower (readFeed), as subscriptions do.
    expect(tracing.spans().map((span) => span.name)).toEqual([]);
    await eventStore.appendToStream("Cart-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
    ]);
    await expect(run.catchUp()).rejects.toThrow(/failed on event/);
    const batch = tracing.named("projection totals");
    expect(batch.status.code).toBe(SpanStatusCode.ERROR);
    expect(batch.attributes).toMatchObject({
      "eventflows.outcome": "failed",
      "eventflows.error.code": "PROJECTION_FAILED",
      "error.type": "PROJECTION_FAILED",
    });
    expect(batch.attributes["eventflows.handled"]).toBeUndefined();
  });

  test("the inline path has its span too, marked inline; telemetry: false has none", async () => {
    const inline = runner({ inline: true, pollIntervalMs: 60_000 });
    inline.runner.start();
    try {
      // The loop's first (empty) batch is done: the append's own step takes the event in.
      while (!inline.runner.active) await new Promise((resolve) => setTimeout(resolve, 1));
      await new Promise((resolve) => setTimeout(resolve, 10));
      await inline.eventStore.appendToStream("Cart-1", [{ type: "Added", data: {} }]);
    } finally {
      await inline.runner.stop();
    }
    expect(tracing.named("projection totals").attributes["eventflows.inline"]).toBe(true);

    tracing.exporter.reset();
    const off = runner({ telemetry: false });
    await appendInTrace(off.eventStore, "Cart-1");
    await off.runner.catchUp();
    expect(tracing.spans().filter((span) => span.name.startsWith("projection"))).toEqual([]);
  });
});

describe("projection lag metrics", () => {
  test("positions behind and seconds after a batch; 0 once caught up; failures counted by code", async () => {
    const { collect } = collectingMetrics();
    const { eventStore, runner: run } = runner({ batchSize: 2, failOn: 3 });
    // On a fake clock: the first batch commits 30 ms after its events were appended, to the millisecond.
    await withFakeClock(async (clock) => {
      await eventStore.appendToStream(
        "Cart-1",
        [1, 2, 3, 4, 5].map(() => ({ type: "Added", data: {} })),
      );
      await clock.advance(30);
      // Caught, not expect().rejects: under fake timers Bun's rejects waited about a second of real time.
      const failed = await clock.until(run.catchUp()).catch((error: unknown) => error);
      expect(String(failed)).toMatch(/failed on event/);
    });
    let all = await collect();
    const label = { "eventflows.projection": "totals" };
    expect(named(all, MetricName.projectionPositionsBehind)).toEqual([
      expect.objectContaining({ attributes: label, value: 3 }),
    ]);
    const seconds = named(all, MetricName.projectionLag);
    expect(seconds).toHaveLength(1);
    expect(seconds[0]?.value).toBe(0.03);
    expect(named(all, MetricName.errors)).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": "PROJECTION_FAILED", "eventflows.operation": "projection" },
        value: 1,
      }),
    );

    const healthy = runner({ batchSize: 2 });
    await healthy.eventStore.appendToStream(
      "Cart-1",
      [1, 2, 3].map(() => ({ type: "Added", data: {} })),
    );
    await healthy.runner.catchUp();
    all = await collect();
    expect(named(all, MetricName.projectionPositionsBehind)).toEqual([
      expect.objectContaining({ attributes: label, value: 0 }),
    ]);
    expect(named(all, MetricName.projectionLag)).toEqual([expect.objectContaining({ attributes: label, value: 0 })]);
  });
});
