/**
 * The API function: API Gateway HTTP API → command and query buses → DynamoDB event store, whose
 * commits are published to EventBridge. Clients are made once per Lambda instance, outside the
 * handler; region and credentials come from the variables Lambda sets. Requests reach it only
 * through the API's authorizer, and it runs nothing for a request without a verified caller.
 */
import { DynamoDbEventStore } from "../../../adapters/dynamodb/index.js";
import { EventBridgeEventBus } from "../../../adapters/eventbridge/index.js";
import { createHttpApiHandler } from "../../../adapters/lambda/index.js";
import { readEnv } from "../../../src/index.js";
import { verifiedCallerAuth } from "./auth.js";
import { orderBuses, orderSchemas } from "./orders.js";

function required(name: string): string {
  const value = readEnv(name);
  if (value === undefined) throw new Error(`${name} is not set: deploy with the stack in examples/aws-cdk`);
  return value;
}

const bus = new EventBridgeEventBus({
  eventBusName: required("EVENTFLOWS_EVENT_BUS"),
  source: required("EVENTFLOWS_EVENT_SOURCE"),
  deadLetter: { queueUrl: required("EVENTFLOWS_PUBLISH_DLQ_URL") },
});
const store = new DynamoDbEventStore({ tableName: required("EVENTFLOWS_TABLE"), bus });
const { commands, queries } = orderBuses(store);

export const handler = createHttpApiHandler({
  commands: { bus: commands, schemas: { PlaceOrder: orderSchemas.PlaceOrder } },
  queries: { bus: queries, schemas: { GetOrder: orderSchemas.GetOrder } },
  auth: verifiedCallerAuth,
});
