/**
 * Lambda events shaped as AWS documents them: API Gateway HTTP API payload format 2.0 ("Working
 * with AWS Lambda proxy integrations for HTTP APIs") and SQS ("Using Lambda with Amazon SQS"),
 * with an EventBridge event (an EventFlows envelope as its detail) in each SQS body.
 */
import { testEnvelope } from "../../src/testing/index.js";

export interface HttpRequestSpec {
  readonly method: string;
  /** The path after the stage, e.g. "/commands/AddItem". */
  readonly path: string;
  readonly stage?: string;
  readonly query?: string;
  readonly headers?: Record<string, string>;
  readonly cookies?: readonly string[];
  readonly body?: string;
  /** Sends the body base64-encoded with `isBase64Encoded: true`, as API Gateway does for binary media types. */
  readonly base64?: boolean;
  /** A JWT authorizer's claims. */
  readonly claims?: Record<string, string>;
}

/**
 * An HTTP API event for a request on a named stage: `rawPath` and `requestContext.http.path` start
 * with the stage, headers are lower case with repeated values joined by commas, and repeated query
 * parameters are joined by commas in `queryStringParameters` (`rawQueryString` keeps them apart).
 */
export function httpApiEvent(spec: HttpRequestSpec): Record<string, unknown> {
  const stage = spec.stage ?? "prod";
  // On a named stage of the default endpoint the stage leads the path; `$default` adds nothing.
  const rawPath = stage === "$default" ? spec.path : `/${stage}${spec.path}`;
  const rawQueryString = spec.query ?? "";
  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[key] = key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
  }
  const now = Date.now();
  const event: Record<string, unknown> = {
    version: "2.0",
    routeKey: "ANY /{proxy+}",
    rawPath,
    rawQueryString,
    ...(spec.cookies === undefined ? {} : { cookies: [...spec.cookies] }),
    headers: {
      accept: "application/json, application/problem+json",
      "content-length": String(spec.body?.length ?? 0),
      host: "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
      "user-agent": "curl/8.5.0",
      "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
      "x-forwarded-for": "198.51.100.7, 10.0.0.12",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
      ...spec.headers,
    },
    ...(rawQueryString === "" ? {} : { queryStringParameters }),
    requestContext: {
      accountId: "123456789012",
      apiId: "r3pmxmplak",
      ...(spec.claims === undefined ? {} : { authorizer: { jwt: { claims: spec.claims, scopes: [] } } }),
      domainName: "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
      domainPrefix: "r3pmxmplak",
      http: {
        method: spec.method,
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "198.51.100.7",
        userAgent: "curl/8.5.0",
      },
      requestId: `JKJaXmPLvHcESHA=${now}`,
      routeKey: "ANY /{proxy+}",
      stage,
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    pathParameters: { proxy: spec.path.slice(1) },
    isBase64Encoded: spec.base64 === true,
  };
  if (spec.body !== undefined)
    event.body = spec.base64 === true ? Buffer.from(spec.body, "utf8").toString("base64") : spec.body;
  return event;
}

/** The body SQS delivers for an event an EventBridge rule sent to the queue. */
export function eventBridgeBody(type: string, streamId: string, data: unknown): string {
  const envelope = testEnvelope(type, streamId, data);
  return JSON.stringify({
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": type,
    source: "eventflows.lambda",
    account: "123456789012",
    time: envelope.timestamp,
    region: "us-east-2",
    resources: [],
    detail: { ...envelope },
  });
}

/** An SQS event source mapping's batch: one record per body, ids `message-<n>`. */
export function sqsEvent(bodies: readonly string[]): { Records: Record<string, unknown>[] } {
  const sent = Date.now();
  return {
    Records: bodies.map((body, index) => ({
      messageId: `059f36b4-87a3-44ab-83d2-66197583${String(index).padStart(4, "0")}`,
      receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a${index}`,
      body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(sent),
        SenderId: "AIDAIENQZJOLO23YVJ4VO",
        ApproximateFirstReceiveTimestamp: String(sent + 2),
      },
      messageAttributes: {},
      md5OfBody: "e4e68fb7bd0e697a0ae8f1bb342846b3",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-2:123456789012:eventflows-events",
      awsRegion: "us-east-2",
    })),
  };
}
