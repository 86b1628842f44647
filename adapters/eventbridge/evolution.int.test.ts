/**
 * Events that travelled at an old schema version: the old release's store (no registry) publishes
 * version 1 events to EventBridge (moto), a rule delivers them to SQS, and the current release's
 * consumer, given the same registry as its store, hands its handlers the current version.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type EventEnvelope, InMemoryEventStore } from "../../src/index.js";
import { cartHistoryV1, cartRegistry } from "../../src/testing/index.js";
import { createBusWithQueues, drainQueue, type MotoAwsOptions, motoAwsOptions } from "../../test/services/moto.ts";
import { AwsJsonClient, eventBridgeService, sqsService } from "../aws/index.js";
import { createSqsEventConsumer, EventBridgeEventBus } from "./index.js";

const SOURCE = "com.example.eventflows-evolution";
let aws: { events: MotoAwsOptions; sqs: MotoAwsOptions };

beforeAll(async () => {
  aws = await motoAwsOptions();
}, 120_000);

describe("SQS consumer with an event registry (moto)", () => {
  test("v1 events published by the old release reach handlers at v3, renamed and split", async () => {
    const events = new AwsJsonClient(eventBridgeService, aws.events);
    const sqs = new AwsJsonClient(sqsService, aws.sqs);
    const { eventBusName, eventsQueueUrl } = await createBusWithQueues(events, sqs, { source: SOURCE });
    const bus = new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE });
    const old = new InMemoryEventStore({ bus });
    await old.appendToStream("Cart-1", cartHistoryV1());

    const seen: EventEnvelope[] = [];
    const consumer = createSqsEventConsumer({
      eventRegistry: cartRegistry(),
      handlers: (event) => void seen.push(event),
    });
    const messages = await drainQueue(sqs, eventsQueueUrl);
    expect(messages.length).toBe(4);
    const result = await consumer.consume(messages.map((m) => ({ messageId: m.MessageId, body: m.Body })));
    expect([result.handled, result.failures.length]).toEqual([4, 0]);
    // A standard queue may reorder: compare by stored version, the split's parts in their order.
    const byVersion = [...seen].sort((a, b) => a.version - b.version);
    expect(byVersion.map((e) => [e.type, e.data, e.metadata.schemaVersion])).toEqual([
      ["CartOpened", { owner: "ada", currency: "EUR", channel: "web" }, 3],
      ["ItemPut", { sku: "tea", quantity: 2 }, 2],
      ["ItemPut", { sku: "cup", quantity: 1 }, 2],
      ["CartClosed", { items: 3 }, 1],
      ["PaymentRequested", { amount: 12 }, 1],
    ]);
    expect(consumer.decode(messages[0]?.Body ?? "").metadata.schemaVersion).toBeUndefined();
  }, 120_000);
});
