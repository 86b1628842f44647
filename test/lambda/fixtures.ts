/**
 * What the functions write to, made fresh for each run so runs never see each other's data: a
 * PostgreSQL schema, a DynamoDB Local table, and on moto an EventBridge bus whose rule sends every
 * event to an SQS queue. The harness reads them back through the library (from source).
 */
import { AwsJsonClient, eventBridgeService, sqsService } from "../../adapters/aws/index.js";
import { DynamoDbEventStore } from "../../adapters/dynamodb/index.js";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresSnapshotStore,
  type PostgresSql,
} from "../../adapters/postgres/index.js";
import { ulid } from "../../src/index.js";
import { ensureDynamoDb } from "../services/dynamodb.ts";
import { createBusWithQueues, motoAwsOptions } from "../services/moto.ts";
import { ensurePostgres } from "../services/postgres.ts";

export interface Fixtures {
  /** The functions' environment: where the services are, the names made for this run, credentials. */
  readonly env: Readonly<Record<string, string>>;
  /** The harness's own PostgreSQL client and the run's schema, for what the stores do not offer (locks). */
  readonly sql: PostgresSql;
  readonly schema: string;
  readonly postgres: PostgresEventStore;
  readonly snapshots: PostgresSnapshotStore;
  readonly dynamodb: DynamoDbEventStore;
  readonly sqs: AwsJsonClient;
  readonly queueUrl: string;
  close(): Promise<void>;
}

export async function makeFixtures(): Promise<Fixtures> {
  const pgUrl = await ensurePostgres();
  const dynamo = await ensureDynamoDb();
  const aws = await motoAwsOptions();
  const schema = `lambda_${ulid().toLowerCase()}`;
  const tableName = `lambda_${ulid()}`;
  const sql = createPostgresClient(pgUrl, { max: 2 });
  const postgres = new PostgresEventStore({ sql, schema });
  const dynamodb = new DynamoDbEventStore({ ...dynamo, tableName });
  const events = new AwsJsonClient(eventBridgeService, aws.events);
  const sqs = new AwsJsonClient(sqsService, aws.sqs);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    await postgres.migrate();
    closers.push(() => sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    await dynamodb.ensureTable();
    closers.push(() => dynamodb.client.send("DeleteTable", { TableName: tableName }));
    const bus = await createBusWithQueues(events, sqs, { source: "eventflows.lambda", prefix: "lambda" });
    closers.push(() => sqs.send("DeleteQueue", { QueueUrl: bus.eventsQueueUrl }));
    closers.push(() => sqs.send("DeleteQueue", { QueueUrl: bus.deadLetterQueueUrl }));
    return {
      env: {
        EVENTFLOWS_PG_URL: pgUrl,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_EVENTS: aws.events.endpoint,
        AWS_ENDPOINT_URL_SQS: aws.sqs.endpoint,
        // One set for both emulators, as a function's role gives one: DynamoDB Local keeps tables
        // per access key id, moto accepts any.
        AWS_REGION: dynamo.region,
        AWS_ACCESS_KEY_ID: dynamo.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: dynamo.credentials.secretAccessKey,
        LAMBDA_TEST_PG_SCHEMA: schema,
        LAMBDA_TEST_DYNAMODB_TABLE: tableName,
        LAMBDA_TEST_EVENT_BUS: bus.eventBusName,
      },
      sql,
      schema,
      postgres,
      snapshots: new PostgresSnapshotStore({ sql, schema }),
      dynamodb,
      sqs,
      queueUrl: bus.eventsQueueUrl,
      close: async () => {
        for (const close of closers.reverse()) await close().catch(() => undefined);
        await sql.end();
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await sql.end();
    throw error;
  }
}
