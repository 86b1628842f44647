import { describe, expect, test } from "bun:test";
import { isPayloadTooLargeError, isServiceError, type PayloadTooLargeError } from "../../src/index.js";
import { AwsJsonClient, type FetchFunction } from "./json-client.js";
import { dynamoDbService, eventBridgeService } from "./services.js";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const answer =
  (body: unknown): FetchFunction =>
  async () =>
    new Response(JSON.stringify(body), { status: 400, headers: { "x-amzn-requestid": "REQ-1" } });
const send = (fetch: FetchFunction, operation: string, input: unknown, service = dynamoDbService) =>
  new AwsJsonClient(service, { region: "eu-west-1", endpoint: "http://127.0.0.1:1", credentials, fetch })
    .send(operation, input)
    .then(
      () => undefined,
      (error: unknown) => error,
    );

// DynamoDB's words for an item over 400 KB: PutItem/BatchWriteItem, and an update whose item would pass it.
const WORDS = [
  "Item size has exceeded the maximum allowed size",
  "Item size to update has exceeded the maximum allowed size",
];

describe("DynamoDB's refusal of an item over 400 KB", () => {
  test("a ValidationException saying so is a PayloadTooLargeError without DynamoDB's words; the service error is its cause", async () => {
    const input = { TableName: "t", Item: { pk: { S: "a" }, d: { S: "x".repeat(100) } } };
    for (const message of WORDS) {
      const error = await send(
        answer({ __type: "com.amazonaws.dynamodb.v20120810#ValidationException", message }),
        "PutItem",
        input,
      );
      expect(isPayloadTooLargeError(error)).toBe(true);
      const tooLarge = error as PayloadTooLargeError;
      expect(tooLarge.limit).toBe(409_600);
      expect(tooLarge.size).toBe(JSON.stringify(input).length);
      expect(tooLarge.message).toBe(
        `An item of DynamoDB PutItem is over DynamoDB's limit of 409600 bytes per item (the request was ${tooLarge.size} bytes): nothing of it was written`,
      );
      expect(tooLarge.message).not.toContain("exceeded");
      expect(isServiceError(tooLarge.cause)).toBe(true);
      expect((tooLarge.cause as { requestId?: string }).requestId).toBe("REQ-1");
    }
  });

  test("a transaction cancelled for it (a ValidationError reason, as DynamoDB words it) is one too", async () => {
    for (const code of ["ValidationError", "ValidationException"]) {
      const error = await send(
        answer({
          __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
          message:
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError]",
          CancellationReasons: [{ Code: "None" }, { Code: code, Message: WORDS[1] }],
        }),
        "TransactWriteItems",
        { TransactItems: [] },
      );
      expect(isPayloadTooLargeError(error)).toBe(true);
      expect((error as Error).message).toStartWith("An item of DynamoDB TransactWriteItems is over DynamoDB's limit");
    }
  });

  test("other validation failures, other cancellations and other services keep their ServiceError", async () => {
    const cases: [FetchFunction, string, typeof dynamoDbService][] = [
      [
        answer({ __type: "ValidationException", message: "One or more parameter values were invalid" }),
        "PutItem",
        dynamoDbService,
      ],
      [
        answer({
          __type: "TransactionCanceledException",
          CancellationReasons: [
            { Code: "ConditionalCheckFailed", Message: "Item size has exceeded the maximum allowed size" },
          ],
        }),
        "TransactWriteItems",
        dynamoDbService,
      ],
      [
        answer({
          __type: "TransactionCanceledException",
          CancellationReasons: [{ Code: "ValidationError", Message: "Invalid UpdateExpression" }],
        }),
        "TransactWriteItems",
        dynamoDbService,
      ],
      [answer({ __type: "ValidationException", message: WORDS[0] }), "PutEvents", eventBridgeService],
    ];
    for (const [fetch, operation, service] of cases) {
      const error = await send(fetch, operation, {}, service);
      expect(isServiceError(error)).toBe(true);
      expect(isPayloadTooLargeError(error)).toBe(false);
    }
  });
});
