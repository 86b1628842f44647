/**
 * @eventflows/core/eventbridge under the remote-bus contract against the harness's moto
 * (AWS_ENDPOINT_URL_EVENTS, AWS_ENDPOINT_URL_SQS): publishing, batching, dead letters and delivery
 * through the SQS consumer. The AWS client is web-standard: no compatibility flag.
 */
import { type RuntimeEnv, requiredVariable, type SuiteModule } from "../runtime-suite.js";
import { eventBridgeRemoteBusContract } from "./eventbridge-route.js";

/** moto accepts any credentials; the region only has to be consistent. */
function motoEndpoints(env: RuntimeEnv) {
  const base = { region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  return {
    events: { ...base, endpoint: requiredVariable(env, "AWS_ENDPOINT_URL_EVENTS") },
    sqs: { ...base, endpoint: requiredVariable(env, "AWS_ENDPOINT_URL_SQS") },
  };
}

export const eventbridgeSuites: SuiteModule = {
  services: ["moto"],
  workerdFlags: [],
  suites: [
    {
      name: "eventbridge event bus",
      contract: "remoteBusContract",
      open: (env) => ({ suite: eventBridgeRemoteBusContract(motoEndpoints(env)) }),
    },
  ],
};
