/**
 * `npx cdk deploy` from examples/aws-cdk (cdk.json runs this file with tsx or bun). The account and
 * region come from the CDK CLI's environment.
 */
import { App } from "aws-cdk-lib";
import { EventFlowsStack } from "../lib/eventflows-stack.js";

const app = new App();
new EventFlowsStack(app, "EventFlowsOrders", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  eventSource: "com.example.orders",
});
app.synth();
