/**
 * The remote-bus contract against moto, for EventBridgeEventBus and for a publisher broken on
 * purpose (it drops events and says nothing), which must fail the delivery cases: a test of the
 * contract itself.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { EventPublisher } from "../../src/index.js";
import { registerContract, runContract } from "../../src/testing/index.js";
import { eventBridgeRemoteBusContract, type MotoEndpoints } from "../../test/runtime/suites/eventbridge-route.ts";
import { motoAwsOptions } from "../../test/services/moto.ts";

const aws: { current?: MotoEndpoints } = {};
beforeAll(async () => {
  aws.current = await motoAwsOptions();
}, 120_000);

// Cases are built now but open their routes when they run, after beforeAll.
const endpoints: MotoEndpoints = {
  get events() {
    return aws.current?.events ?? { endpoint: "http://moto-not-started" };
  },
  get sqs() {
    return aws.current?.sqs ?? { endpoint: "http://moto-not-started" };
  },
};

registerContract(eventBridgeRemoteBusContract(endpoints), { describe, test });

/** Publishes only every second event and reports success for all: a bus that drops events. */
const dropping = (publisher: EventPublisher): EventPublisher => ({
  publish: async (events) => {
    const result = await publisher.publish(events.filter((_, i) => i % 2 === 0));
    return { ...result, delivered: events.length };
  },
});

describe("remoteBusContract catches a broken bus", () => {
  test("a publisher that drops every second event fails every case that publishes events", async () => {
    const suite = eventBridgeRemoteBusContract(endpoints, "dropping EventBridge publisher", dropping);
    const results = await runContract(suite);
    expect(results).toHaveLength(suite.cases.length);
    expect(results.filter((r) => !r.ok).map((r) => r.name)).toEqual([
      "publishes every event once; the consumer delivers each once with its envelope intact",
      "batches: every request within the service's limits, all events sent once, in publish order",
      "events the service refuses go to the dead-letter target and are named in the result; the others are delivered",
      "an event whose handler failed is delivered again, and handled once it succeeds",
      "a batch with an invalid envelope is refused whole with a ValidationError; nothing is sent",
    ]);
  }, 600_000);
});
