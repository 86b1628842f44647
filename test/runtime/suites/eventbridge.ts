/**
 * @eventflows/core/eventbridge's bus under the EventBus contract, as its own tests run it: a
 * remote bus refuses in-process subscriptions, and no request may leave (a fetch that refuses),
 * so no service is needed. aws4fetch is web-standard: no compatibility flag.
 */
import { EventBridgeEventBus } from "../../../adapters/eventbridge/index.js";
import { eventBusContract } from "../../../src/testing/index.js";
import type { SuiteModule } from "../runtime-suite.js";

const refuse = async (): Promise<Response> => {
  throw new Error("the EventBus contract must not send anything");
};
const aws = {
  region: "us-east-1",
  endpoint: "http://127.0.0.1:9",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  fetch: refuse,
};

export const eventbridgeSuites: SuiteModule = {
  services: [],
  workerdFlags: [],
  suites: [
    {
      name: "eventbridge event bus",
      contract: "eventBusContract",
      open: () => ({
        suite: eventBusContract({
          name: "EventBridgeEventBus contract (a remote bus: subscribe is refused, consumers read SQS)",
          create: (options) => new EventBridgeEventBus({ aws, ...options }),
        }),
      }),
    },
  ],
};
