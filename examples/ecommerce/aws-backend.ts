/**
 * DynamoDB and EventBridge: the events, saga instances, read models, checkpoints, leases and
 * idempotency records share one DynamoDB table; every committed event is published to an
 * EventBridge bus, whose rule delivers it to an SQS queue the checkout saga consumes. Region, credentials and endpoints come from the
 * usual AWS variables (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, _EVENTS, _SQS, …).
 */
import { ProjectionRunner, type SagaRuntime } from "@eventflows/core";
import { AwsJsonClient, eventBridgeService, sqsService } from "@eventflows/core/aws";
import {
  DynamoDbCheckpointStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbProjectionLock,
  DynamoDbReadModelStore,
  DynamoDbSagaStore,
  isServiceErrorCode,
} from "@eventflows/core/dynamodb";
import { createSqsEventConsumer, EventBridgeEventBus, receiveAndConsume } from "@eventflows/core/eventbridge";
import type { Backend } from "./backends.js";

const SOURCE = "eventflows.shop";

export async function awsBackend(tableName: string, eventBusName: string): Promise<Backend> {
  const bus = new EventBridgeEventBus({ eventBusName, source: SOURCE });
  const eventStore = new DynamoDbEventStore({ tableName, bus });
  const shared = { tableName, client: eventStore.client };
  const sagaStore = new DynamoDbSagaStore(shared);
  await sagaStore.ensureTable();
  const queueUrl = await ensureRoute(eventBusName);
  const readModels = new DynamoDbReadModelStore(shared);
  const lock = new DynamoDbProjectionLock(shared);
  const sqs = new AwsJsonClient(sqsService);
  return {
    name: `DynamoDB table ${tableName}, EventBridge bus ${eventBusName}`,
    eventStore,
    sagaStore,
    checkpoints: new DynamoDbCheckpointStore(shared),
    readModels,
    idempotency: new DynamoDbIdempotencyStore(shared),
    runner: (projection) => new ProjectionRunner({ projection, eventStore, readModels, lock, batchSize: 25 }),
    feedSagas: (sagas) => consumeQueue(sagas, sqs, queueUrl),
    close: async () => undefined,
  };
}

/** Polls the queue the bus's rule fills, handing each event to the sagas, until stopped. */
function consumeQueue(sagas: SagaRuntime, client: AwsJsonClient, queueUrl: string): { stop(): Promise<void> } {
  const consumer = createSqsEventConsumer({
    handlers: async (event) => {
      const retry = (await sagas.handle(event)).find((outcome) => outcome.retryable === true);
      if (retry !== undefined) throw retry.error; // left in the queue, delivered again
    },
  });
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      await receiveAndConsume({ queueUrl, consumer, client, waitTimeSeconds: 1, signal: stopping.signal }).catch(
        (error) => {
          if (!stopping.signal.aborted) console.error("saga queue:", error);
        },
      );
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}

/**
 * Creates the bus, the queue and the rule between them when missing, for a one-command local run
 * (moto, or a sandbox account). In production they come from your CDK or Terraform.
 */
async function ensureRoute(eventBusName: string): Promise<string> {
  const events = new AwsJsonClient(eventBridgeService);
  const sqs = new AwsJsonClient(sqsService);
  await events.send("CreateEventBus", { Name: eventBusName }).catch((error) => {
    if (!isServiceErrorCode(error, "ResourceAlreadyExistsException")) throw error;
  });
  const { QueueUrl } = await sqs.send<{ QueueUrl: string }>("CreateQueue", { QueueName: `${eventBusName}-checkout` });
  const { Attributes } = await sqs.send<{ Attributes: { QueueArn: string } }>("GetQueueAttributes", {
    QueueUrl,
    AttributeNames: ["QueueArn"],
  });
  const rule = `${eventBusName}-checkout`;
  await events.send("PutRule", {
    Name: rule,
    EventBusName: eventBusName,
    EventPattern: JSON.stringify({ source: [SOURCE] }),
    State: "ENABLED",
  });
  await events.send("PutTargets", {
    Rule: rule,
    EventBusName: eventBusName,
    Targets: [{ Id: "checkout-saga", Arn: Attributes.QueueArn }],
  });
  return QueueUrl;
}
