/**
 * Synthesizes the CDK app offline (no AWS account, no Docker: the functions are bundled with esbuild)
 * and checks the template: the table's keys, the dead-letter wiring, the HTTP routes, and that no
 * IAM statement grants a wildcard action.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { EventFlowsStack } from "./lib/eventflows-stack.ts";

let template: Template;

beforeAll(() => {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), "eventflows-cdk-out-")) });
  const stack = new EventFlowsStack(app, "EventFlowsTest", {
    bundleDir: mkdtempSync(join(tmpdir(), "eventflows-cdk-bundles-")),
    eventSource: "com.example.orders",
  });
  template = Template.fromStack(stack);
}, 120_000);

type Statement = { Action: string | string[]; Resource?: unknown; Effect: string; Condition?: unknown };

function statements(): Statement[] {
  const policies = template.findResources("AWS::IAM::Policy");
  const inline = Object.values(policies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
  const queuePolicies = template.findResources("AWS::SQS::QueuePolicy");
  const resourcePolicies = Object.values(queuePolicies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
  return [...inline, ...resourcePolicies];
}

describe("examples/aws-cdk template", () => {
  test("the event store table has the DynamoDB adapter's keys: pk (S, HASH) and sk (N, RANGE), no index", () => {
    template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "N" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      GlobalSecondaryIndexes: Match.absent(),
    });
  });

  test("the rule sends the service's events to the queue, with a dead-letter queue for failed deliveries", () => {
    const queues = template.findResources("AWS::SQS::Queue");
    const ids = Object.keys(queues);
    const eventsQueue = ids.find((id) => id.startsWith("EventsQueue"));
    const publishDlq = ids.find((id) => id.startsWith("PublishDeadLetters"));
    const consumerDlq = ids.find((id) => id.startsWith("ConsumerDeadLetters"));
    expect([eventsQueue, publishDlq, consumerDlq].every(Boolean)).toBe(true);
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: { source: ["com.example.orders"] },
      EventBusName: Match.anyValue(),
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [eventsQueue, "Arn"] },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [publishDlq, "Arn"] } },
        }),
      ],
    });
    // Messages the consumer fails five times move to the consumer's dead-letter queue.
    template.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [consumerDlq, "Arn"] }, maxReceiveCount: 5 },
    });
  });

  test("the consumer reads the queue with partial batch responses", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 10,
    });
  });

  test("the API function publishes to the bus with its dead-letter queue, and the HTTP API routes reach it", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Environment: {
        Variables: Match.objectLike({
          EVENTFLOWS_TABLE: Match.anyValue(),
          EVENTFLOWS_EVENT_BUS: Match.anyValue(),
          EVENTFLOWS_PUBLISH_DLQ_URL: Match.anyValue(),
        }),
      },
    });
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
      (route) => (route as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(["GET /queries/{type}", "POST /commands/{type}", "POST /queries/{type}"]);
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", { PayloadFormatVersion: "2.0" });
  });

  test("least privilege: no statement allows a wildcard action, and the API role has exactly what the adapters document", () => {
    const all = statements();
    const allows = all.filter((s) => s.Effect === "Allow");
    expect(allows.length).toBeGreaterThan(0);
    for (const statement of allows) {
      const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
      for (const action of actions) expect(action.includes("*")).toBe(false);
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
    }
    // The only wildcard is in the queues' deny of unencrypted transport (enforceSSL), which takes away.
    for (const statement of all.filter((s) => s.Effect !== "Allow")) {
      expect(statement).toMatchObject({
        Effect: "Deny",
        Action: "sqs:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      });
    }
    const apiActions = all
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .filter((a) => a.startsWith("dynamodb:") || a.startsWith("events:"));
    expect(new Set(apiActions)).toEqual(
      new Set([
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:TransactWriteItems",
        "dynamodb:ConditionCheckItem",
        "events:PutEvents",
      ]),
    );
    // No managed policies (AWSLambdaBasicExecutionRole logs to any group): each role is inline only.
    for (const role of Object.values(template.findResources("AWS::IAM::Role"))) {
      expect((role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});
