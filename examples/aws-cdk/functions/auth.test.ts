/**
 * The api function's auth hook on its own (functions.int.test.ts runs it inside the deployed
 * handler): the caller comes only from what API Gateway's authorizer verified.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { type ApiGatewayProxyEventV2, createHttpApiHandler } from "../../../adapters/lambda/index.js";
import { CommandBus } from "../../../src/index.js";
import { callerOf, verifiedCallerAuth } from "./auth.ts";

function event(authorizer?: ApiGatewayProxyEventV2["requestContext"]["authorizer"]): ApiGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "POST /commands/{type}",
    rawPath: "/commands/PlaceOrder",
    rawQueryString: "",
    // A header claiming an identity counts for nothing: only the authorizer's context does.
    headers: { "x-user-id": "admin", authorization: "Bearer forged" },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: {
        method: "POST",
        path: "/commands/PlaceOrder",
        protocol: "HTTP/1.1",
        sourceIp: "192.0.2.1",
        userAgent: "t",
      },
      requestId: "r",
      routeKey: "POST /commands/{type}",
      stage: "$default",
      time: "12/Mar/2020:19:03:58 +0000",
      timeEpoch: 0,
      ...(authorizer === undefined ? {} : { authorizer }),
    },
    isBase64Encoded: false,
  };
}

describe("examples/aws-cdk auth hook", () => {
  test("the JWT's sub, else the IAM caller's ARN", () => {
    expect(callerOf(event({ jwt: { claims: { sub: "user-1" }, scopes: null } }))).toEqual({
      userId: "user-1",
      verifiedBy: "jwt",
    });
    expect(callerOf(event({ iam: { userArn: "arn:aws:iam::123456789012:role/ops" } }))).toEqual({
      userId: "arn:aws:iam::123456789012:role/ops",
      verifiedBy: "iam",
    });
  });

  test("callers of a Cognito identity pool, who share the pool role's session ARN, by their identity ids", () => {
    const session = "arn:aws:sts::123456789012:assumed-role/Cognito_AppAuth_Role/CognitoIdentityCredentials";
    const signedBy = (identityId: string) =>
      callerOf(
        event({
          iam: {
            userArn: session,
            cognitoIdentity: { amr: ["authenticated"], identityId, identityPoolId: "us-east-1:pool" },
          },
        }),
      );
    expect(signedBy("us-east-1:alice")).toEqual({ userId: "us-east-1:alice", verifiedBy: "iam" });
    expect(signedBy("us-east-1:bob")).toEqual({ userId: "us-east-1:bob", verifiedBy: "iam" });
  });

  test("no authorizer, an empty or non-string sub: 401 problem, and the command never runs", async () => {
    const seen: Record<string, unknown>[] = [];
    const commands = new CommandBus<{ PlaceOrder: { payload: { sku: string }; result: string } }>();
    commands.register("PlaceOrder", async (_payload, message) => {
      seen.push(message.metadata);
      return "placed";
    });
    const handler = createHttpApiHandler({
      commands: { bus: commands, schemas: { PlaceOrder: v.object({ sku: v.string() }) } },
      auth: verifiedCallerAuth,
    });
    const post = (authorizer?: ApiGatewayProxyEventV2["requestContext"]["authorizer"]) =>
      handler({
        ...event(authorizer),
        headers: { ...event().headers, "content-type": "application/json" },
        body: '{"sku":"A"}',
      });
    for (const authorizer of [
      undefined,
      { jwt: { claims: { sub: "" }, scopes: null } },
      { jwt: { claims: { sub: 7 }, scopes: null } },
      { lambda: { userId: "x" } },
    ]) {
      const response = await post(authorizer);
      expect(response.statusCode).toBe(401);
      expect(response.headers?.["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(response.body ?? "{}")).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    }
    expect(seen).toHaveLength(0);
    expect((await post({ jwt: { claims: { sub: "user-1" }, scopes: null } })).statusCode).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ userId: "user-1", verifiedBy: "jwt" });
  });
});
