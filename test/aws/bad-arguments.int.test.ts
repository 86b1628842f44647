/**
 * The AWS adapters as an untyped JavaScript caller meets them: every exported function and
 * constructor of `/dynamodb`, `/aws`, `/eventbridge` and `/lambda`, called with a valid argument list
 * in which one argument at a time is replaced by anything (fast-check), either works or fails with an
 * EventFlowsError, and a call that fails sent no request (DynamoDB Local and moto answer the ones that
 * work; a wrapping fetch counts them all). A new export without a valid call listed here fails the test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as aws from "../../adapters/aws/index.js";
import * as dynamodb from "../../adapters/dynamodb/index.js";
import * as eventbridge from "../../adapters/eventbridge/index.js";
import httpEvent from "../../adapters/lambda/fixtures/http-api-v2-event.json";
import * as lambda from "../../adapters/lambda/index.js";
import { CommandBus, ErrorCode, EventFlowsError, isValidationError, ulid } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../services/dynamodb.ts";
import { motoAwsOptions } from "../services/moto.ts";

let requests = 0;
const realFetch = globalThis.fetch;
let dynamo: DynamoDbEndpoint;
let moto: Awaited<ReturnType<typeof motoAwsOptions>>;
let tableName = "";
let queueUrl = "";
let masterKey: CryptoKey;

beforeAll(async () => {
  [dynamo, moto] = await Promise.all([ensureDynamoDb(), motoAwsOptions()]);
  tableName = `bad_arguments_${ulid()}`;
  masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ])) as CryptoKey;
  await new dynamodb.DynamoDbEventStore({ ...dynamo, tableName }).ensureTable();
  const sqs = new aws.AwsJsonClient(aws.sqsService, moto.sqs);
  queueUrl = (await sqs.send<{ QueueUrl: string }>("CreateQueue", { QueueName: `bad-arguments-${ulid()}` })).QueueUrl;
  globalThis.fetch = Object.assign(
    (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      requests++;
      return realFetch(input, init);
    },
    { preconnect: realFetch.preconnect },
  ) as typeof fetch;
}, 120_000);

afterAll(async () => {
  globalThis.fetch = realFetch;
  await dynamodb
    .createDynamoDbClient(dynamo)
    .send("DeleteTable", { TableName: tableName })
    .catch(() => undefined);
});

const event = testEnvelope("Happened", "Cart-1", { n: 1 });
const policy = () => aws.retryPolicy({ random: () => 0.5 });

/** A valid call of each export: its argument list, made when the case runs (the services are up then). */
const validCalls: Record<string, () => unknown[]> = {
  // /dynamodb
  castoreDynamoDbSource: () => [dynamodb.createDynamoDbClient(dynamo), { tableName, eventStoreId: "carts" }],
  createDynamoDbClient: () => [dynamo],
  dynamoDbRunTimeActions: () => [["eventStore"], { setup: true }],
  dynamoDbStreamDeletion: () => [
    dynamodb.createDynamoDbClient(dynamo),
    dynamodb.tableLayout({ tableName }),
    { append: async () => [], read: async function* () {}, version: async () => 0 },
  ],
  dynamoDbTenantStatement: () => [
    { tenant: "acme", tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/t", stores: ["eventStore"] },
  ],
  ensureEventStoreTable: () => [dynamodb.createDynamoDbClient(dynamo), dynamodb.tableLayout({ tableName }), 5_000],
  eventStoreTableDefinition: () => [dynamodb.tableLayout({ tableName })],
  isEventCorruptError: () => [new Error("x")],
  isServiceErrorCode: () => [new Error("x"), "ConditionalCheckFailedException"],
  sharedTableTenantStores: () => [{ ...dynamo, tableName }],
  tableLayout: () => [{ tableName }],
  tenantKeyPrefix: () => ["acme"],
  DynamoDbCheckpointStore: () => [{ ...dynamo, tableName }],
  DynamoDbDedupStore: () => [{ ...dynamo, tableName }],
  DynamoDbEventStore: () => [{ ...dynamo, tableName }],
  DynamoDbIdempotencyStore: () => [{ ...dynamo, tableName }],
  DynamoDbProjectionLock: () => [{ ...dynamo, tableName }],
  DynamoDbReadModelStore: () => [{ ...dynamo, tableName }],
  DynamoDbSagaStore: () => [{ ...dynamo, tableName }],
  DynamoDbSnapshotStore: () => [{ ...dynamo, tableName }],
  DynamoDbSubjectKeyStore: () => [{ ...dynamo, tableName, masterKey }],
  // /aws
  AwsJsonClient: () => [aws.dynamoDbService, dynamo],
  PageTrail: () => [],
  RetryBudget: () => [10],
  backoffDelay: () => [policy(), 1],
  codeFromType: () => ["com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"],
  failureFromResponse: () => [400, new Headers(), '{"__type":"ValidationException","message":"m"}'],
  isCredentialFreeHttpUrl: () => ["http://127.0.0.1:1"],
  isRetryable: () => ["ThrottlingException", 400, []],
  publicEndpoint: () => [aws.dynamoDbService, "eu-west-1"],
  resolveAwsConfig: () => [aws.dynamoDbService, dynamo],
  retryDelay: () => [policy(), 1, 1_000],
  retryPolicy: () => [{ maxAttempts: 2 }],
  signableEndpoint: () => ["http://127.0.0.1:1/?a=1+2"],
  sleep: () => [1, new AbortController().signal],
  // /eventbridge
  EventBridgeEventBus: () => [{ eventBusName: "default", aws: moto.events }],
  InMemoryDedupStore: () => [{ maxEntries: 10 }],
  SqsEventConsumer: () => [{ handlers: () => undefined, dedup: false }],
  checkDedupId: () => ["message-1"],
  createSqsEventConsumer: () => [{ handlers: () => undefined, dedup: false }],
  deadLetterBody: () => [
    {
      event,
      entry: { Source: "s", DetailType: "t", Detail: JSON.stringify(eventbridge.envelopeDetail(event)) },
      errorCode: "E",
      errorMessage: "m",
      attempts: 1,
    },
    "default",
    "us-east-1",
  ],
  dedupIdIssues: () => ["message-1"],
  dedupStoreContract: () => [{ name: "in memory", create: () => new eventbridge.InMemoryDedupStore() }],
  entrySize: () => [{ source: "s", detailType: "t", detail: "{}", resources: ["r"], time: new Date() }],
  envelopeDetail: () => [event],
  envelopeFromDetail: () => [eventbridge.envelopeDetail(event)],
  envelopeIssues: () => [event, 0],
  envelopeMapping: () => [{ source: "app" }],
  parseEventBridgeEvent: () => [
    JSON.stringify({
      "detail-type": event.type,
      source: "app",
      detail: eventbridge.envelopeDetail(event),
    }),
  ],
  receiveAndConsume: () => [
    {
      queueUrl,
      consumer: eventbridge.createSqsEventConsumer({ handlers: () => undefined, dedup: false }),
      aws: moto.sqs,
      waitTimeSeconds: 0,
    },
  ],
  // /lambda
  authorizerPrincipal: () => [{ context: { event: httpEvent } }],
  createHttpApiHandler: () => [{ commands: { bus: new CommandBus(), schemas: {} } }],
  createSagaTimerHandler: () => [{ tick: async () => ({ fired: 0 }) }, {}],
  createSqsHandler: () => [{ consume: async () => ({ batchItemFailures: [] }) }, {}],
  requestFromEvent: () => [httpEvent],
  resultFromResponse: () => [new Response("ok")],
};

const modules = { dynamodb, aws, eventbridge, lambda } as Record<string, Record<string, unknown>>;
/** The callable exports, error classes left out (they take any message). */
const callable = Object.entries(modules).flatMap(([module, exports]) =>
  Object.entries(exports)
    .filter(([name, value]) => typeof value === "function" && !name.endsWith("Error"))
    .map(([name, value]) => ({ module, name, value: value as (...args: unknown[]) => unknown })),
);

/** Calls the export (`new` for a class); waits at most a second for a promise it returns. */
async function call(target: (...args: unknown[]) => unknown, args: unknown[]): Promise<{ error?: unknown }> {
  try {
    const made = /^class\b/.test(Function.prototype.toString.call(target))
      ? new (target as unknown as new (...a: unknown[]) => unknown)(...args)
      : target(...args);
    if (made instanceof Promise) {
      await Promise.race([made, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    }
    return {};
  } catch (error) {
    return { error };
  }
}

describe("exports of the AWS adapters called with a wrong argument (fast-check, DynamoDB Local and moto)", () => {
  test("every callable export has a valid call listed", () => {
    expect(callable.map(({ name }) => name).filter((name) => validCalls[name] === undefined)).toEqual([]);
  });

  test("the valid calls work", async () => {
    for (const { name, value } of callable) {
      const { error } = await call(value, (validCalls[name] as () => unknown[])());
      expect([name, error]).toEqual([name, undefined]);
    }
  }, 60_000);

  test("one argument replaced by anything: the call works, or fails with an EventFlowsError before any request", async () => {
    const refused: string[] = [];
    for (const { module, name, value } of callable) {
      const arity = (validCalls[name] as () => unknown[])().length;
      for (let index = 0; index < arity; index++) {
        await fc.assert(
          fc.asyncProperty(fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true }), async (bad) => {
            const args = (validCalls[name] as () => unknown[])();
            args[index] = bad;
            const before = requests;
            const { error } = await call(value, args);
            if (error === undefined) return;
            const where = `${module}.${name}, argument ${index + 1}`;
            expect([where, error instanceof EventFlowsError, String(error)]).toEqual([where, true, String(error)]);
            expect([where, requests - before]).toEqual([where, 0]);
            if (isValidationError(error)) refused.push(name);
          }),
          { numRuns: 40, seed: 39 },
        );
      }
    }
    // The sweep reached the checks: these refuse what is not theirs, naming it.
    for (const name of [
      "ensureEventStoreTable",
      "tableLayout",
      "AwsJsonClient",
      "deadLetterBody",
      "requestFromEvent",
    ]) {
      expect(refused).toContain(name);
    }
  }, 300_000);

  test("ensureEventStoreTable(client, 'name'): a ValidationError naming the layout, and no request", async () => {
    const client = dynamodb.createDynamoDbClient(dynamo);
    const before = requests;
    const error = await dynamodb.ensureEventStoreTable(client, "orders" as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Validation, issues: [{ path: ["layout"] }] });
    expect(requests - before).toBe(0);
    // Its options name the table, with the default keys.
    expect(await dynamodb.ensureEventStoreTable(client, { tableName } as never)).toBe("exists");
  });

  test("each DynamoDB store's ensureTable(options): options that are no object are a ValidationError naming them, before any request; null is the defaults", async () => {
    const options = { ...dynamo, tableName };
    const stores = [
      new dynamodb.DynamoDbEventStore(options),
      new dynamodb.DynamoDbSnapshotStore(options),
      new dynamodb.DynamoDbDedupStore(options),
      new dynamodb.DynamoDbIdempotencyStore(options),
      new dynamodb.DynamoDbSagaStore(options),
      new dynamodb.DynamoDbSubjectKeyStore({ ...options, masterKey }),
    ];
    for (const store of stores) {
      for (const bad of ["fast", 5, [1_000], true]) {
        const before = requests;
        const error = await store.ensureTable(bad as never).catch((e: unknown) => e);
        expect([store.constructor.name, isValidationError(error)]).toEqual([store.constructor.name, true]);
        expect(error).toMatchObject({ issues: [{ path: ["options"] }] });
        expect(requests - before).toBe(0);
      }
      expect(await store.ensureTable(null as never)).toBe("exists");
    }
  });
});
