/**
 * Issue 14, item 2, against real services: an HTTP command through the shared dispatcher appends to
 * PostgreSQL, the store publishes to EventBridge (moto), a rule delivers to SQS, the SQS consumer
 * (what a Lambda function hosts) handles the event by catching a projection up over the
 * PostgreSQL feed into PostgreSQL read models. ONE trace id from the request to the projection
 * batch, asserted with the SDK's in-memory exporter; no secret from the request in any span.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AwsJsonClient, eventBridgeService, sqsService } from "../../adapters/aws/index.js";
import { createSqsEventConsumer, EventBridgeEventBus, receiveAndConsume } from "../../adapters/eventbridge/index.js";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresReadModelStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import { type EventEnvelope, ProjectionRunner, projection } from "../../src/index.js";
import { untilReadable } from "../../src/testing/index.js";
import { createBusWithQueues, motoAwsOptions } from "../services/moto.ts";
import { ensurePostgres, uniqueSchema } from "../services/postgres.ts";
import { CLIENT_SPAN, CLIENT_TRACE, exportedText, SECRET, tracedApp } from "./one-trace.ts";
import { parentOf, useTracing } from "./tracing.ts";

const tracing = useTracing();
const SOURCE = "com.example.eventflows-end-to-end";
const schema = uniqueSchema("e2e_trace");
let sql: PostgresSql;
let aws: Awaited<ReturnType<typeof motoAwsOptions>>;

beforeAll(async () => {
  const [url, options] = await Promise.all([ensurePostgres(), motoAwsOptions()]);
  aws = options;
  sql = createPostgresClient(url, { max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
}, 120_000);
afterAll(async () => {
  await sql?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql?.end();
});

describe("one trace across every hop", () => {
  test("HTTP -> command -> PostgreSQL append -> EventBridge -> SQS consumer -> projection batch", async () => {
    const sqs = new AwsJsonClient(sqsService, aws.sqs);
    const { eventBusName, eventsQueueUrl } = await createBusWithQueues(
      new AwsJsonClient(eventBridgeService, aws.events),
      sqs,
      { source: SOURCE, prefix: "e2e" },
    );
    const bus = new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE });
    const store = new PostgresEventStore({ sql, schema, bus });
    const { request } = tracedApp(store);

    const receipts = projection({
      name: "receipts",
      types: ["Paid"],
      handle: async (event, { readModels }) => {
        await readModels.put("receipts", event.streamId, { paid: true });
      },
    });
    const runner = new ProjectionRunner({
      projection: receipts,
      eventStore: store,
      readModels: new PostgresReadModelStore({ sql, schema }),
    });
    const handled: EventEnvelope[] = [];
    // What a Lambda function behind the queue does: take the delivery, bring the read model up to date.
    const consumer = createSqsEventConsumer({
      handlers: {
        Paid: async (event) => {
          handled.push(event);
          // The delivery can outrun the feed: another client's open transaction on the shared server can hold the feed's readers back (see untilReadable).
          await untilReadable(store, event.globalPosition ?? 0);
          await runner.catchUp();
        },
      },
      dedup: false,
    });

    expect((await request({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })).status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (handled.length === 0 && Date.now() < deadline) {
      await receiveAndConsume({ client: sqs, queueUrl: eventsQueueUrl, consumer, waitTimeSeconds: 1 });
    }
    expect(handled).toHaveLength(1);
    expect(await new PostgresReadModelStore({ sql, schema }).get("receipts", "Order-o1")).toEqual({ paid: true });

    const http = tracing.named("POST /commands/:type");
    const command = tracing.named("command Pay");
    const append = tracing.named("appendToStream");
    const publish = tracing.named("publish");
    const delivery = tracing.spans().filter((span) => span.name === "process" && span.attributes["eventflows.handled"]);
    expect(delivery).toHaveLength(1);
    const consumed = tracing.named("process Paid");
    const batch = tracing.named("projection receipts");
    for (const span of [http, command, append, publish, ...delivery, consumed, batch]) {
      expect({ name: span.name, traceId: span.spanContext().traceId }).toEqual({
        name: span.name,
        traceId: CLIENT_TRACE,
      });
    }
    expect(parentOf(http)).toBe(CLIENT_SPAN);
    expect(parentOf(command)).toBe(http.spanContext().spanId);
    expect(parentOf(append)).toBe(command.spanContext().spanId);
    expect(parentOf(publish)).toBe(append.spanContext().spanId);
    expect(parentOf(delivery[0] as (typeof delivery)[number])).toBe(append.spanContext().spanId);
    // One origin: the batch continues the trace of the append that wrote its event.
    expect(parentOf(batch)).toBe(append.spanContext().spanId);
    expect(append.attributes["db.system"]).toBe("postgresql");
    expect(batch.attributes).toMatchObject({
      "eventflows.projection": "receipts",
      "messaging.batch.message_count": 1,
      "eventflows.handled": 1,
      "eventflows.outcome": "committed",
    });
    expect(exportedText(tracing)).not.toContain(SECRET);
  }, 90_000);
});
