/**
 * The example's Lambda functions, run in-process as Lambda would run them, against DynamoDB Local
 * and moto: an HTTP API event places an order (stored in DynamoDB, published to EventBridge), a rule
 * delivers it to SQS, and the consumer function handles the SQS event built from what arrived (and
 * starts the follow-up saga, whose timeout the saga-timer function fires once it is due).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AwsJsonClient, dynamoDbService, eventBridgeService, sqsService } from "../../adapters/aws/index.js";
import { ensureEventStoreTable, tableLayout } from "../../adapters/dynamodb/index.js";
import type { ApiGatewayProxyEventV2, SqsEvent } from "../../adapters/lambda/index.js";
import { ulid } from "../../src/index.js";
import { ensureDynamoDb, LOCAL_CREDENTIALS, LOCAL_REGION } from "../../test/services/dynamodb.ts";
import { createBusWithQueues, ensureMoto } from "../../test/services/moto.ts";
import { FOLLOW_UP_AFTER_MS, followUpRuntime, tableSagaStore } from "./functions/follow-up.ts";

const SOURCE = "com.example.orders";
const variables = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL_EVENTS",
  "AWS_ENDPOINT_URL_SQS",
  "EVENTFLOWS_TABLE",
  "EVENTFLOWS_EVENT_BUS",
  "EVENTFLOWS_EVENT_SOURCE",
  "EVENTFLOWS_PUBLISH_DLQ_URL",
];
const saved = new Map(variables.map((name) => [name, process.env[name]]));

let api: (event: ApiGatewayProxyEventV2) => Promise<{ statusCode: number; body?: string }>;
let sagaTimer: (event?: unknown) => Promise<{ fired: number; maxLatenessMs: number }>;
let consumer: (event: SqsEvent) => Promise<{ batchItemFailures: readonly { itemIdentifier: string }[] }>;
let sqs: AwsJsonClient;
let eventsQueueUrl: string;

beforeAll(async () => {
  const dynamo = await ensureDynamoDb();
  const moto = await ensureMoto();
  const aws = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const tableName = `orders-${ulid().toLowerCase()}`;
  await ensureEventStoreTable(
    new AwsJsonClient(dynamoDbService, { ...aws, endpoint: dynamo.endpoint }),
    tableLayout({ tableName }),
  );
  sqs = new AwsJsonClient(sqsService, { ...aws, endpoint: moto.sqs });
  const events = new AwsJsonClient(eventBridgeService, { ...aws, endpoint: moto.events });
  const created = await createBusWithQueues(events, sqs, { source: SOURCE, prefix: "cdk-example" });
  eventsQueueUrl = created.eventsQueueUrl;
  // What the stack gives the functions, and what Lambda sets for them.
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTS: moto.events,
    AWS_ENDPOINT_URL_SQS: moto.sqs,
    EVENTFLOWS_TABLE: tableName,
    EVENTFLOWS_EVENT_BUS: created.eventBusName,
    EVENTFLOWS_EVENT_SOURCE: SOURCE,
    EVENTFLOWS_PUBLISH_DLQ_URL: created.deadLetterQueueUrl,
  });
  delete process.env.AWS_SESSION_TOKEN;
  api = (await import("./functions/api.ts")).handler as typeof api;
  consumer = (await import("./functions/consumer.ts")).handler as typeof consumer;
  sagaTimer = (await import("./functions/saga-timer.ts")).handler;
}, 180_000);

afterAll(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** What API Gateway's JWT authorizer passes on for a verified token. */
const VERIFIED = {
  jwt: { claims: { sub: "user-1", iss: "https://issuer.example.com/", aud: "orders-client" }, scopes: null },
};

function httpEvent(
  method: string,
  path: string,
  body?: unknown,
  query = "",
  /** `null`: no authorizer ran (a route deployed without one, a direct invocation). */
  authorizer: ApiGatewayProxyEventV2["requestContext"]["authorizer"] | null = VERIFIED,
): ApiGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: `${method} ${path.replace(/[^/]+$/, "{type}")}`,
    rawPath: path,
    rawQueryString: query,
    headers: { "content-type": "application/json", "x-correlation-id": "example-corr" },
    requestContext: {
      accountId: "123456789012",
      apiId: "api-id",
      domainName: "id.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "id",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "192.0.2.1", userAgent: "test" },
      requestId: "id",
      routeKey: "$default",
      stage: "$default",
      time: "12/Mar/2020:19:03:58 +0000",
      timeEpoch: 1583348638390,
      ...(authorizer === null ? {} : { authorizer }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

describe("examples/aws-cdk functions", () => {
  test("an order placed over HTTP is stored, read back, published, delivered by the rule and consumed", async () => {
    const placed = await api(httpEvent("POST", "/commands/PlaceOrder", { sku: "A-1", quantity: 2 }));
    expect(placed.statusCode).toBe(200);
    const { orderId } = JSON.parse(placed.body ?? "{}") as { orderId: string };

    const read = await api(httpEvent("GET", "/queries/GetOrder", undefined, `orderId=${orderId}`));
    expect(read.statusCode).toBe(200);
    expect(JSON.parse(read.body ?? "{}")).toMatchObject({ orderId, sku: "A-1", quantity: 2 });

    const { Messages = [] } = await sqs.send<{
      Messages?: { MessageId: string; ReceiptHandle: string; Body: string; MD5OfBody: string }[];
    }>("ReceiveMessage", { QueueUrl: eventsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 });
    expect(Messages).toHaveLength(1);
    // The command ran as the caller the authorizer verified: its event says who.
    const delivered = JSON.parse(Messages[0]?.Body ?? "{}") as { detail: { metadata: Record<string, unknown> } };
    expect(delivered.detail.metadata).toMatchObject({ userId: "user-1", verifiedBy: "jwt" });
    const records = Messages.map((m) => ({
      messageId: m.MessageId,
      receiptHandle: m.ReceiptHandle,
      body: m.Body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.now()),
        SenderId: "AIDAIENQZJOLO23YVJ4VO",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody,
      eventSource: "aws:sqs" as const,
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:events",
      awsRegion: "us-east-1",
    }));
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    // The saga's clock (Date.now) read around the consumer: the timeout's due time is bracketed by them.
    const consumedFrom = Date.now();
    try {
      expect(await consumer({ Records: records })).toEqual({ batchItemFailures: [] });
    } finally {
      console.log = log;
    }
    const consumedTo = Date.now();
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { msg: "order placed", orderId, sku: "A-1", correlationId: "example-corr" },
    ]);

    // The consumer started the follow-up saga in the table; its timeout is 15 minutes away.
    const sagas = tableSagaStore(process.env.EVENTFLOWS_TABLE ?? "");
    expect(await sagas.load("OrderFollowUp", orderId)).toMatchObject({ version: 1, status: "running" });
    const due = await sagas.nextDueAt();
    expect(due).toBeGreaterThanOrEqual(consumedFrom + FOLLOW_UP_AFTER_MS);
    expect(due).toBeLessThanOrEqual(consumedTo + FOLLOW_UP_AFTER_MS);
    expect(await sagaTimer({})).toEqual({ fired: 0, maxLatenessMs: 0 });
    // Once due (the timer's clock moved on), one scheduled invocation sends the follow-up, once.
    const followUps: Record<string, unknown>[] = [];
    const later = followUpRuntime(sagas, (line) => followUps.push(line));
    const tick = await later.tick((due ?? 0) + 1_500);
    expect(tick.fired.map((f) => [f.key, f.latenessMs, f.outcome])).toEqual([[orderId, 1_500, "completed"]]);
    expect(await later.tick((due ?? 0) + 60_000)).toEqual({ fired: [] });
    expect(followUps).toEqual([
      { msg: "order follow-up", orderId, sku: "A-1", commandId: `OrderFollowUp/${orderId}/1` },
    ]);
  }, 180_000);

  test("without a caller verified by API Gateway nothing runs: 401 problem", async () => {
    for (const authorizer of [null, { jwt: { claims: { sub: "" }, scopes: null } }]) {
      const refused = await api(httpEvent("POST", "/commands/PlaceOrder", { sku: "A-1", quantity: 2 }, "", authorizer));
      expect(refused.statusCode).toBe(401);
      expect(JSON.parse(refused.body ?? "{}").code).toBe("UNAUTHORIZED");
    }
    const { Messages = [] } = await sqs.send<{ Messages?: unknown[] }>("ReceiveMessage", {
      QueueUrl: eventsQueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
    });
    expect(Messages).toHaveLength(0);
  });

  test("an IAM-signed caller is accepted as its ARN", async () => {
    const iam = { iam: { userArn: "arn:aws:iam::123456789012:user/ops", accountId: "123456789012" } };
    const read = await api(httpEvent("GET", "/queries/GetOrder", undefined, `orderId=${ulid()}`, iam));
    expect(read.statusCode).toBe(200);
  });

  test("the consumer handles only events of the service's source: others fail (and end in its dead-letter queue)", async () => {
    const event = (source: string, id: string) => ({
      messageId: `m-${id}`,
      receiptHandle: "r",
      body: JSON.stringify({
        version: "0",
        id,
        "detail-type": "OrderPlaced",
        source,
        account: "123456789012",
        time: "2026-01-01T00:00:00Z",
        region: "us-east-1",
        resources: [],
        detail: {
          id: ulid(),
          type: "OrderPlaced",
          streamId: `Order-${id}`,
          version: 1,
          timestamp: "2026-01-01T00:00:00.000Z",
          data: { orderId: id, sku: "A-1", quantity: 1 },
          metadata: { correlationId: `corr-${id}` },
        },
      }),
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "0",
        SenderId: "AIDAIENQZJOLO23YVJ4VO",
        ApproximateFirstReceiveTimestamp: "0",
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs" as const,
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:events",
      awsRegion: "us-east-1",
    });
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    try {
      const result = await consumer({ Records: [event("com.example.other", "forged"), event(SOURCE, "genuine")] });
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "m-forged" }] });
    } finally {
      console.log = log;
    }
    expect(lines.map((line) => JSON.parse(line).orderId)).toEqual(["genuine"]);
  });

  test("invalid input is a 400 problem, an unknown command a 404", async () => {
    const invalid = await api(httpEvent("POST", "/commands/PlaceOrder", { sku: "", quantity: 0 }));
    expect(invalid.statusCode).toBe(400);
    expect(JSON.parse(invalid.body ?? "{}").code).toBe("VALIDATION_FAILED");
    const unknown = await api(httpEvent("POST", "/commands/CancelOrder", {}));
    expect(unknown.statusCode).toBe(404);
  });
});
