import { describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { EventEnvelope } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { createSqsEventConsumer, envelopeDetail, type SqsMessage } from "./index.js";

const tracing = useTracing();

const ORIGIN_A = { trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331" };
const ORIGIN_B = { trace: "4bf92f3577b34da6a3ce929d0e0e4736", span: "00f067aa0ba902b7" };

function traced(type: string, origin: { trace: string; span: string } | undefined): EventEnvelope {
  const event = testEnvelope(type, `Order-${crypto.randomUUID()}`);
  if (origin === undefined) return event;
  return { ...event, metadata: { ...event.metadata, traceparent: `00-${origin.trace}-${origin.span}-01` } };
}

function message(envelope: EventEnvelope, index: number): SqsMessage {
  return {
    messageId: `m-${index}`,
    body: JSON.stringify({
      version: "0",
      id: crypto.randomUUID(),
      "detail-type": envelope.type,
      source: "eventflows",
      account: "123456789012",
      time: "2024-01-01T00:00:00Z",
      region: "us-east-1",
      resources: [],
      detail: envelopeDetail(envelope),
    }),
  };
}

describe("SQS consumer spans", () => {
  test("a batch from one origin continues its trace: the batch span is its child, each event's span the batch's", async () => {
    const consumer = createSqsEventConsumer({ handlers: { Paid: () => {} }, dedup: false });
    const result = await consumer.consume([traced("Paid", ORIGIN_A), traced("Paid", ORIGIN_A)].map(message));
    expect(result.handled).toBe(2);
    const batch = tracing.named("process");
    expect(batch.kind).toBe(SpanKind.CONSUMER);
    expect(batch.spanContext().traceId).toBe(ORIGIN_A.trace);
    expect(parentOf(batch)).toBe(ORIGIN_A.span);
    expect(batch.links).toHaveLength(0);
    expect(batch.attributes).toMatchObject({
      "messaging.system": "aws_sqs",
      "messaging.operation.type": "process",
      "messaging.batch.message_count": 2,
      "eventflows.handled": 2,
      "eventflows.failed": 0,
    });
    const events = tracing.spans().filter((span) => span.name === "process Paid");
    expect(events).toHaveLength(2);
    for (const span of events) expect(parentOf(span)).toBe(batch.spanContext().spanId);
  });

  test("a batch from several origins is a new trace linking to each origin", async () => {
    const consumer = createSqsEventConsumer({ handlers: { Paid: () => {} }, dedup: false });
    await consumer.consume(
      [traced("Paid", ORIGIN_A), traced("Paid", ORIGIN_B), traced("Paid", undefined)].map(message),
    );
    const batch = tracing.named("process");
    expect(parentOf(batch)).toBeUndefined();
    expect(batch.spanContext().traceId).not.toBe(ORIGIN_A.trace);
    expect(batch.spanContext().traceId).not.toBe(ORIGIN_B.trace);
    expect(batch.links.map((link) => link.context.spanId).sort()).toEqual([ORIGIN_A.span, ORIGIN_B.span].sort());
  });

  test("a failing handler is recorded on its event's span with the error's code", async () => {
    const consumer = createSqsEventConsumer({
      handlers: {
        Paid: () => {
          throw new Error("mailer down");
        },
      },
      dedup: false,
      onFailure: () => {},
    });
    const result = await consumer.consume([message(traced("Paid", ORIGIN_A), 1)]);
    expect(result.failures).toHaveLength(1);
    const span = tracing.named("process Paid");
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes["error.type"]).toBe("HANDLERS_FAILED");
    expect(tracing.named("process").attributes["eventflows.failed"]).toBe(1);
  });

  test("an empty batch (a receive that found nothing) makes no span; the next batch with a message does", async () => {
    const consumer = createSqsEventConsumer({ handlers: { Paid: () => {} }, dedup: false });
    const empty = await consumer.consume([]);
    expect(empty).toMatchObject({ handled: 0, duplicates: 0, batchItemFailures: [] });
    expect(tracing.spans()).toHaveLength(0);
    await consumer.consume([message(traced("Paid", ORIGIN_A), 1)]);
    expect(tracing.spans().map((span) => span.name)).toEqual(["process Paid", "process"]);
  });

  test("telemetry: false makes no spans", async () => {
    const consumer = createSqsEventConsumer({ handlers: { Paid: () => {} }, dedup: false, telemetry: false });
    await consumer.consume([message(traced("Paid", ORIGIN_A), 1)]);
    expect(tracing.spans()).toHaveLength(0);
  });
});
