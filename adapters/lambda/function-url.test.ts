/**
 * A Lambda function URL sends the HTTP API's payload format 2.0 event, on the `$default` stage, with
 * the fields AWS's "Lambda function URL request and response payloads" page shows: an IAM caller
 * with a `cognitoIdentity` (null when Cognito did not sign), and `pathParameters` and
 * `stageVariables` that are null. Written as a typed literal, so that tsc (tsconfig.test.json)
 * checks that the event type takes it as AWS sends it.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { CommandBus, InMemoryIdempotencyStore, type Message } from "../../src/index.js";
import { type ApiGatewayProxyEventV2, createHttpApiHandler } from "./index.js";

const functionUrlEvent: ApiGatewayProxyEventV2 = {
  version: "2.0",
  routeKey: "$default",
  rawPath: "/commands/PlaceOrder",
  rawQueryString: "",
  headers: { "content-type": "application/json", host: "abcdefg.lambda-url.us-west-2.on.aws" },
  requestContext: {
    accountId: "123456789012",
    apiId: "abcdefg",
    authentication: null,
    authorizer: {
      iam: {
        accessKey: "AKIAEXAMPLE",
        accountId: "111122223333",
        callerId: "AIDAEXAMPLE",
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: "arn:aws:iam::111122223333:user/example-user",
        userId: "AIDAEXAMPLE",
      },
    },
    domainName: "abcdefg.lambda-url.us-west-2.on.aws",
    domainPrefix: "abcdefg",
    http: {
      method: "POST",
      path: "/commands/PlaceOrder",
      protocol: "HTTP/1.1",
      sourceIp: "192.0.2.1",
      userAgent: "agent",
    },
    requestId: "id",
    routeKey: "$default",
    stage: "$default",
    time: "12/Mar/2020:19:03:58 +0000",
    timeEpoch: 1583348638390,
  },
  body: '{"sku":"a1"}',
  pathParameters: null,
  isBase64Encoded: false,
  stageVariables: null,
};

/** A handler of one command, PlaceOrder, whose messages are kept in `seen`; Idempotency-Keys kept in memory. */
function placeOrderHandler() {
  const seen: Message[] = [];
  const commands = new CommandBus<{ PlaceOrder: { payload: { sku: string }; result: { ok: true } } }>();
  commands.register("PlaceOrder", (_payload, message) => {
    seen.push(message);
    return { ok: true };
  });
  const handler = createHttpApiHandler({
    commands: { bus: commands, schemas: { PlaceOrder: v.object({ sku: v.string() }) } },
    idempotency: new InMemoryIdempotencyStore(),
  });
  return { seen, handler };
}

describe("a Lambda function URL event", () => {
  test("is served as an HTTP API event, the IAM caller's ARN as the userId", async () => {
    const { seen, handler } = placeOrderHandler();
    const result = await handler(functionUrlEvent);
    expect(result.statusCode).toBe(200);
    expect(seen.map((message) => message.metadata.userId)).toEqual(["arn:aws:iam::111122223333:user/example-user"]);
  });

  test("Cognito identity pool callers, who share one role session's ARN, are told apart by their identity ids", async () => {
    const { seen, handler } = placeOrderHandler();
    // Every user of an identity pool signs with the pool role's session, so they share its ARN.
    const session = "arn:aws:sts::111122223333:assumed-role/Cognito_WebUsersAuth_Role/CognitoIdentityCredentials";
    const signedBy = (identityId: string): ApiGatewayProxyEventV2 => ({
      ...functionUrlEvent,
      headers: { ...functionUrlEvent.headers, "idempotency-key": "order-1" },
      requestContext: {
        ...functionUrlEvent.requestContext,
        authorizer: {
          iam: {
            cognitoIdentity: { amr: ["authenticated"], identityId, identityPoolId: "us-west-2:pool" },
            userArn: session,
          },
        },
      },
    });
    // The same key and body from two users: two commands, not the second replaying the first's answer.
    expect((await handler(signedBy("us-west-2:alice"))).statusCode).toBe(200);
    expect((await handler(signedBy("us-west-2:bob"))).statusCode).toBe(200);
    expect(seen.map((message) => message.metadata.userId)).toEqual(["us-west-2:alice", "us-west-2:bob"]);
  });
});
