/**
 * One trace across the wire: an HTTP command appends to a store publishing to EventBridge (moto), a
 * rule delivers to SQS, and the SQS consumer's spans continue the request's trace from the
 * `traceparent` the append wrote into the event's metadata.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type EventEnvelope, InMemoryEventStore } from "../../src/index.js";
import { createBusWithQueues, motoAwsOptions } from "../../test/services/moto.ts";
import { CLIENT_SPAN, CLIENT_TRACE, tracedApp } from "../../test/telemetry/one-trace.ts";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { AwsJsonClient, eventBridgeService, sqsService } from "../aws/index.js";
import { createSqsEventConsumer, EventBridgeEventBus, receiveAndConsume } from "./index.js";

const tracing = useTracing();
const SOURCE = "com.example.eventflows-tracing";
let aws: Awaited<ReturnType<typeof motoAwsOptions>>;

beforeAll(async () => {
  aws = await motoAwsOptions();
}, 120_000);

describe("tracing through EventBridge and SQS", () => {
  test("HTTP request -> command -> append -> publish -> EventBridge -> SQS -> consumer is one trace", async () => {
    const sqs = new AwsJsonClient(sqsService, aws.sqs);
    const { eventBusName, eventsQueueUrl } = await createBusWithQueues(
      new AwsJsonClient(eventBridgeService, aws.events),
      sqs,
      { source: SOURCE, prefix: "trace" },
    );
    const bus = new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE });
    const { request } = tracedApp(new InMemoryEventStore({ bus }));
    expect((await request({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })).status).toBe(200);
    const append = tracing.named("appendToStream");
    const publish = tracing.named("publish");
    expect(parentOf(publish)).toBe(append.spanContext().spanId);

    const handled: EventEnvelope[] = [];
    const consumer = createSqsEventConsumer({ handlers: { Paid: (event) => void handled.push(event) }, dedup: false });
    const deadline = Date.now() + 20_000;
    while (handled.length === 0 && Date.now() < deadline) {
      await receiveAndConsume({ client: sqs, queueUrl: eventsQueueUrl, consumer, waitTimeSeconds: 1 });
    }
    expect(handled).toHaveLength(1);
    const batches = tracing
      .spans()
      .filter((span) => span.name === "process" && span.attributes["eventflows.handled"] === 1);
    expect(batches).toHaveLength(1);
    const batch = batches[0] as (typeof batches)[number];
    expect(batch.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(parentOf(batch)).toBe(append.spanContext().spanId);
    const processed = tracing.named("process Paid");
    expect(processed.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(parentOf(processed)).toBe(batch.spanContext().spanId);
  }, 60_000);
});
