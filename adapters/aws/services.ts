import type { EventFlowsError } from "../../src/index.js";
import {
  type AnswerShape,
  type FieldCheck,
  hasOptionalStrings,
  hasStrings,
  isListOf,
  isMapOf,
  isObject,
  type Paging,
} from "./answer-shape.js";
import { AWS_CODE, type AwsFailure, type AwsServiceError, itemTooLarge } from "./errors.js";

/**
 * The AWS services EventFlows talks to over their JSON protocols. A descriptor says how to sign,
 * address and route a call; `AwsJsonClient` does the rest, so a new service is one more constant.
 */
export interface AwsJsonService {
  /** The SigV4 signing name: the service part of the credential scope. */
  readonly signingName: string;
  /** How errors name the service. */
  readonly displayName: string;
  /** The host prefix of the public endpoint: `https://<prefix>.<region>.amazonaws.com`. */
  readonly endpointPrefix: string;
  /** Suffixes of `AWS_ENDPOINT_URL_<SUFFIX>` variables that override the endpoint, checked in order. */
  readonly endpointVariables: readonly string[];
  /** Prefix of the `X-Amz-Target` header: `<prefix>.<Operation>`. */
  readonly targetPrefix: string;
  /** The JSON protocol version: `application/x-amz-json-<version>`. */
  readonly jsonVersion: "1.0" | "1.1";
  /**
   * The library's own error for a refusal the service means as one (DynamoDB: an item over 400 KB is
   * a `PayloadTooLargeError`, as the stores' size checks throw), else undefined: the service error.
   */
  readonly typedError?: (
    operation: string,
    failure: AwsFailure,
    requestBytes: number,
    error: AwsServiceError,
  ) => EventFlowsError | undefined;
  /**
   * By operation, the fields of its answers the library reads and the kind each must have: an answer
   * with one of another kind is no answer of the service's (see answer-shape.ts), retried as a 5xx is.
   */
  readonly answerShapes?: Readonly<Record<string, AnswerShape>>;
  /**
   * By operation, how it pages: an answer whose next page is the one its request started from is no answer
   * of the service's either (see answer-shape.ts).
   */
  readonly paging?: Readonly<Record<string, Paging>>;
}

// The checks are made by calls marked pure: a bundle that uses one service (a DynamoDB Worker) drops the others' tables.
const items = /* @__PURE__ */ isListOf(isObject);
/**
 * A PutEvents entry's result: its event id, or its error's code and message. The code becomes the failure's
 * `serviceCode`, as it is: one that is no code as AWS writes them (a header's text, a token) is no answer of EventBridge's.
 */
const putEventsResult: FieldCheck = (value) =>
  hasOptionalStrings("EventId", "ErrorCode", "ErrorMessage")(value) &&
  ((value as { ErrorCode?: string }).ErrorCode === undefined ||
    AWS_CODE.test((value as { ErrorCode: string }).ErrorCode));
const dynamoDbPage: AnswerShape = { Items: items, LastEvaluatedKey: isObject };
const dynamoDbWrite: AnswerShape = { Attributes: isObject };
const sqsBatch: AnswerShape = { Failed: items, Successful: items };

export const dynamoDbService: AwsJsonService = {
  signingName: "dynamodb",
  displayName: "DynamoDB",
  endpointPrefix: "dynamodb",
  endpointVariables: ["DYNAMODB"],
  targetPrefix: "DynamoDB_20120810",
  jsonVersion: "1.0",
  typedError: itemTooLarge,
  answerShapes: {
    GetItem: { Item: isObject },
    Query: dynamoDbPage,
    Scan: dynamoDbPage,
    PutItem: dynamoDbWrite,
    UpdateItem: dynamoDbWrite,
    DeleteItem: dynamoDbWrite,
    BatchGetItem: { Responses: /* @__PURE__ */ isMapOf(items), UnprocessedKeys: /* @__PURE__ */ isMapOf(isObject) },
    BatchWriteItem: { UnprocessedItems: /* @__PURE__ */ isMapOf(items) },
    DescribeTable: { Table: isObject },
    DescribeTimeToLive: { TimeToLiveDescription: isObject },
  },
  paging: { Query: ["ExclusiveStartKey", "LastEvaluatedKey"], Scan: ["ExclusiveStartKey", "LastEvaluatedKey"] },
};

export const eventBridgeService: AwsJsonService = {
  signingName: "events",
  displayName: "EventBridge",
  endpointPrefix: "events",
  // The AWS SDKs read AWS_ENDPOINT_URL_EVENTBRIDGE; EVENTS follows the signing name.
  endpointVariables: ["EVENTBRIDGE", "EVENTS"],
  targetPrefix: "AWSEvents",
  jsonVersion: "1.1",
  answerShapes: { PutEvents: { Entries: /* @__PURE__ */ isListOf(putEventsResult) } },
};

export const sqsService: AwsJsonService = {
  signingName: "sqs",
  displayName: "SQS",
  endpointPrefix: "sqs",
  endpointVariables: ["SQS"],
  targetPrefix: "AmazonSQS",
  jsonVersion: "1.0",
  answerShapes: {
    // What deleting or releasing a received message needs, and what the consumer reads.
    ReceiveMessage: {
      Messages: /* @__PURE__ */ isListOf(/* @__PURE__ */ hasStrings("MessageId", "ReceiptHandle", "Body")),
    },
    DeleteMessageBatch: sqsBatch,
    ChangeMessageVisibilityBatch: sqsBatch,
    SendMessageBatch: sqsBatch,
  },
};
