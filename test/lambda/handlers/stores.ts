/**
 * The stores function: appends one batch to PostgreSQL and to DynamoDB Local, each store publishing
 * to EventBridge (moto) after its commit; and saves an aggregate through a repository that snapshots
 * it, awaiting the snapshot write before returning. Everything is configured from the environment,
 * as a Lambda function is: EVENTFLOWS_PG_URL, AWS_ENDPOINT_URL_DYNAMODB/EVENTS, AWS_REGION and the
 * credentials variables. Clients are made at module scope, once per execution environment.
 */
import { DynamoDbEventStore } from "../../../adapters/dynamodb/index.js";
import { EventBridgeEventBus } from "../../../adapters/eventbridge/index.js";
import { createPostgresClient, PostgresEventStore, PostgresSnapshotStore } from "../../../adapters/postgres/index.js";
import {
  AggregateRepository,
  AggregateRoot,
  defineStream,
  type EventOfType,
  everyNEvents,
} from "../../../src/index.js";
import { required } from "./env.js";

const schema = required("LAMBDA_TEST_PG_SCHEMA");
const bus = new EventBridgeEventBus({ eventBusName: required("LAMBDA_TEST_EVENT_BUS"), source: "eventflows.lambda" });
const sql = createPostgresClient(required("EVENTFLOWS_PG_URL"), { max: 2 });
const postgres = new PostgresEventStore({ sql, schema, bus });
const dynamodb = new DynamoDbEventStore({ tableName: required("LAMBDA_TEST_DYNAMODB_TABLE"), bus });

type CartEvent = { type: "ItemAdded"; data: { sku: string } };

class Cart extends AggregateRoot<{ skus: string[] }, CartEvent> {
  constructor(id: string) {
    super(id, { skus: [] });
  }
  add(sku: string) {
    this.raise("ItemAdded", { sku });
  }
  protected onItemAdded(event: EventOfType<CartEvent, "ItemAdded">) {
    this.state.skus.push(event.data.sku);
  }
}

// Without a bus, so the carts' events stay off the queue the append check reads.
const carts = new AggregateRepository({
  store: new PostgresEventStore({ sql, schema }),
  stream: defineStream("LambdaCart"),
  create: (id) => new Cart(id),
  snapshots: { store: new PostgresSnapshotStore({ sql, schema }), policy: everyNEvents(1) },
});

export type StoresEvent =
  | { readonly kind: "append"; readonly streamId: string; readonly skus: readonly string[] }
  | { readonly kind: "snapshot"; readonly cartId: string; readonly skus: readonly string[] };

export async function handler(event: StoresEvent) {
  if (event.kind === "snapshot") {
    const cart = new Cart(event.cartId);
    for (const sku of event.skus) cart.add(sku);
    const saved = await carts.save(cart);
    // Snapshot writes run in the background of save(): wait for them, or Lambda may freeze them.
    await carts.flushSnapshots();
    return { version: saved.nextExpectedVersion };
  }
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
