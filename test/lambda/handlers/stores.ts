/**
 * The stores function: appends one batch to PostgreSQL and to DynamoDB Local, each store publishing
 * to EventBridge (moto) after its commit. Everything is configured from the environment, as a
 * Lambda function is: EVENTFLOWS_PG_URL, AWS_ENDPOINT_URL_DYNAMODB/EVENTS, AWS_REGION and the
 * credentials variables. Clients are made at module scope, once per execution environment.
 */
import { DynamoDbEventStore } from "../../../adapters/dynamodb/index.js";
import { EventBridgeEventBus } from "../../../adapters/eventbridge/index.js";
import { createPostgresClient, PostgresEventStore } from "../../../adapters/postgres/index.js";
import { required } from "./env.js";

const bus = new EventBridgeEventBus({ eventBusName: required("LAMBDA_TEST_EVENT_BUS"), source: "eventflows.lambda" });
const sql = createPostgresClient(required("EVENTFLOWS_PG_URL"), { max: 2 });
const postgres = new PostgresEventStore({ sql, schema: required("LAMBDA_TEST_PG_SCHEMA"), bus });
const dynamodb = new DynamoDbEventStore({ tableName: required("LAMBDA_TEST_DYNAMODB_TABLE"), bus });

export interface StoresEvent {
  readonly streamId: string;
  readonly skus: readonly string[];
}

export async function handler(event: StoresEvent) {
  const pending = event.skus.map((sku) => ({ type: "ItemAdded", data: { sku } }));
  // Publishing is part of appendToStream: it is done (or reported) when the append returns, so
  // nothing is left running when the response freezes the environment.
  const inPostgres = await postgres.appendToStream(event.streamId, pending, { expectedVersion: "no-stream" });
  const inDynamoDb = await dynamodb.appendToStream(event.streamId, pending, { expectedVersion: "no-stream" });
  const summary = (result: typeof inPostgres) => ({
    ids: result.events.map((e) => e.id),
    version: result.nextExpectedVersion,
    published: result.published?.delivered ?? 0,
    publishFailures: result.published?.failures.length ?? 0,
  });
  return { postgres: summary(inPostgres), dynamodb: summary(inDynamoDb) };
}
