/**
 * `npx cdk deploy` from examples/aws-cdk (cdk.json runs this file with bun). The account and region
 * come from the CDK CLI's environment. The API takes IAM-signed requests unless an identity
 * provider is named: `npx cdk deploy -c jwtIssuer=https://issuer.example -c jwtAudience=client-id[,other]`.
 */
import { App } from "aws-cdk-lib";
import { EventFlowsStack } from "../lib/eventflows-stack.js";
import type { ApiAuthorization } from "../lib/http-api.js";

const app = new App();
const issuer = app.node.tryGetContext("jwtIssuer") as string | undefined;
const audience = String(app.node.tryGetContext("jwtAudience") ?? "")
  .split(",")
  .map((value) => value.trim())
  .filter((value) => value !== "");
const authorization: ApiAuthorization = issuer ? { kind: "jwt", issuer, audience } : { kind: "iam" };

new EventFlowsStack(app, "EventFlowsOrders", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  eventSource: "com.example.orders",
  authorization,
  customerManagedKey: app.node.tryGetContext("customerManagedKey") === "true",
});
app.synth();
