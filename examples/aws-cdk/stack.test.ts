/**
 * Synthesizes the CDK app offline (no AWS account, no Docker: the functions are bundled with esbuild)
 * and checks the template: the API is closed (an authorizer on every route, stage throttling, access
 * logs), the table's keys, deletion protection and key, the dead-letter wiring, and least privilege
 * (the DynamoDB actions are exactly the adapter's list, no IAM statement grants a wildcard action).
 *
 * The example is a package of its own: its dependencies (aws-cdk-lib, constructs, esbuild, and the pinned
 * aws-cdk CLI and bun) are installed into examples/aws-cdk/node_modules first, and everything that needs them
 * is imported after.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Template } from "aws-cdk-lib/assertions";
import { dynamoDbRunTimeActions, dynamoDbTenantStatement } from "../../adapters/dynamodb/iam.ts";
import type { EventFlowsStackProps } from "./lib/eventflows-stack.ts";
import { ensureCdkDependencies, exampleDir } from "./lib/install.ts";
import { ACCESS_LOG_FIELDS, tableKeyActions } from "./lib/settings.ts";

type Statement = { Action: string | string[]; Resource?: unknown; Effect: string; Condition?: unknown };
type Resource = { Properties: Record<string, unknown> };

let synth: (props?: EventFlowsStackProps) => Template;
let Match: typeof import("aws-cdk-lib/assertions").Match;
let template: Template;

beforeAll(async () => {
  ensureCdkDependencies();
  const cdk = await import("aws-cdk-lib");
  const assertions = await import("aws-cdk-lib/assertions");
  const { EventFlowsStack } = await import("./lib/eventflows-stack.ts");
  Match = assertions.Match;
  synth = (props = {}) => {
    const app = new cdk.App({ outdir: mkdtempSync(join(tmpdir(), "eventflows-cdk-out-")) });
    const stack = new EventFlowsStack(app, "EventFlowsTest", {
      bundleDir: mkdtempSync(join(tmpdir(), "eventflows-cdk-bundles-")),
      eventSource: "com.example.orders",
      ...props,
    });
    return assertions.Template.fromStack(stack);
  };
  template = synth();
}, 300_000);

function statementsOf(t: Template, type: string): Statement[] {
  return Object.values(t.findResources(type)).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
}

function statements(t: Template = template): Statement[] {
  return [...statementsOf(t, "AWS::IAM::Policy"), ...statementsOf(t, "AWS::SQS::QueuePolicy")];
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

function routes(t: Template): Record<string, unknown>[] {
  return Object.values(t.findResources("AWS::ApiGatewayV2::Route")).map((route) => (route as Resource).Properties);
}

function logicalId(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe("examples/aws-cdk: the HTTP API is closed by default", () => {
  test("every route needs IAM authorization unless an identity provider is configured", () => {
    const found = routes(template);
    expect(found.map((route) => route.RouteKey).sort()).toEqual([
      "GET /queries/{type}",
      "POST /commands/{type}",
      "POST /queries/{type}",
    ]);
    for (const route of found) expect(route.AuthorizationType).toBe("AWS_IAM");
    template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 0);
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", { PayloadFormatVersion: "2.0" });
  });

  test("with an identity provider, a JWT authorizer checks issuer and audience on every route, scopes where asked", () => {
    const withJwt = synth({
      authorization: {
        kind: "jwt",
        issuer: "https://issuer.example.com/",
        audience: ["orders-client"],
        commandScopes: ["orders/write"],
      },
    });
    withJwt.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Issuer: "https://issuer.example.com/", Audience: ["orders-client"] },
    });
    const authorizerId = logicalId(withJwt, "AWS::ApiGatewayV2::Authorizer", "");
    const found = routes(withJwt);
    expect(found).toHaveLength(3);
    for (const route of found) {
      expect(route).toMatchObject({ AuthorizationType: "JWT", AuthorizerId: { Ref: authorizerId } });
      expect(route.AuthorizationScopes).toEqual(
        route.RouteKey === "POST /commands/{type}" ? ["orders/write"] : undefined,
      );
    }
  });

  test("a JWT authorizer without an audience is refused at synth time", async () => {
    expect(() =>
      synth({ authorization: { kind: "jwt", issuer: "https://issuer.example.com/", audience: [] } }),
    ).toThrow("at least one audience");
  });

  test("the stage throttles and writes a JSON access log line per request to its own log group", async () => {
    const logs = logicalId(template, "AWS::Logs::LogGroup", "ApiAccessLogs");
    template.resourceCountIs("AWS::ApiGatewayV2::Stage", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: { "Fn::GetAtt": [logs, "Arn"] }, Format: Match.anyValue() },
    });
    const stage = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"))[0] as Resource;
    const format = (stage.Properties.AccessLogSettings as { Format: string }).Format;
    expect(JSON.parse(format)).toEqual(ACCESS_LOG_FIELDS);
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    const custom = synth({ throttle: { rateLimit: 5, burstLimit: 10 } });
    custom.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
  });
});

describe("examples/aws-cdk: storage, messaging, least privilege", () => {
  test("the event store table has the DynamoDB adapter's keys, no index, deletion protection and PITR", () => {
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
      Replicas: [
        Match.objectLike({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
    template.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Retain" });
    // A demo stack that deletes its data turns the protection off, or the deletion would fail.
    synth({ destroyOnRemoval: true }).hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })],
    });
  });

  test("a customer-managed key: rotated, used by the table, usable by the table's users only through DynamoDB", async () => {
    template.resourceCountIs("AWS::KMS::Key", 0);
    expect(() => synth({ customerManagedKey: true })).toThrow("explicit env.region");
    const withKey = synth({ customerManagedKey: true, env: { account: "123456789012", region: "eu-west-1" } });
    const key = logicalId(withKey, "AWS::KMS::Key", "EventStoreKey");
    withKey.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
    withKey.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
      Replicas: [Match.objectLike({ SSESpecification: { KMSMasterKeyId: { "Fn::GetAtt": [key, "Arn"] } } })],
    });
    const kms = statements(withKey).filter((s) => actionsOf(s).some((a) => a.startsWith("kms:")));
    // The API, the consumer (saga store) and the saga timer use the table.
    expect(kms).toHaveLength(3);
    for (const statement of kms) {
      expect(statement).toMatchObject({
        Effect: "Allow",
        Resource: { "Fn::GetAtt": [key, "Arn"] },
        Condition: { StringEquals: { "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com" } },
      });
      expect(actionsOf(statement).sort()).toEqual([...tableKeyActions].sort());
    }
  });

  test("the rule sends the service's events to the queue, with a dead-letter queue for failed deliveries", () => {
    const eventsQueue = logicalId(template, "AWS::SQS::Queue", "EventsQueue");
    const publishDlq = logicalId(template, "AWS::SQS::Queue", "PublishDeadLetters");
    const consumerDlq = logicalId(template, "AWS::SQS::Queue", "ConsumerDeadLetters");
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

  test("the API function gets the table, the bus and its dead-letter queue", () => {
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
  });

  test("saga timeouts: EventBridge Scheduler invokes the saga-timer function every minute, through a role that may invoke only it", () => {
    const timer = logicalId(template, "AWS::Lambda::Function", "SagaTimerFunction");
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 minute)",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: Match.objectLike({
        Arn: { "Fn::GetAtt": [timer, "Arn"] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
      }),
    });
    const schedulerRole = logicalId(template, "AWS::IAM::Role", "SagaTimerSchedulerRole");
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: "scheduler.amazonaws.com" } })],
      }),
    });
    const invoke = statements().filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
    expect(invoke).toEqual([
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: { "Fn::GetAtt": [timer, "Arn"] } },
    ]);
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: schedulerRole }],
      PolicyDocument: Match.objectLike({ Statement: invoke }),
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Environment: { Variables: Match.objectLike({ EVENTFLOWS_TABLE: Match.anyValue() }) },
      Role: Match.anyValue(),
    });
  });

  test("least privilege: no wildcard action; the DynamoDB actions are the adapter's list (adapters/dynamodb/iam.ts)", () => {
    const all = statements();
    const allows = all.filter((s) => s.Effect === "Allow");
    expect(allows.length).toBeGreaterThan(5);
    for (const statement of allows) {
      for (const action of actionsOf(statement)) expect(action.includes("*")).toBe(false);
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
    }
    // The only wildcard is in the queues' deny of unencrypted transport (enforceSSL), which takes away.
    const denies = all.filter((s) => s.Effect !== "Allow");
    expect(denies.length).toBeGreaterThan(0);
    for (const statement of denies) {
      expect(statement).toMatchObject({
        Effect: "Deny",
        Action: "sqs:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      });
    }
    const dynamo = all.flatMap(actionsOf).filter((a) => a.startsWith("dynamodb:"));
    expect([...new Set(dynamo)].sort()).toEqual(dynamoDbRunTimeActions(["eventStore", "sagaStore"]));
    // Per role: the API the event store's actions, the consumer and the saga timer the saga store's.
    const dynamoOf = (roleId: string) => {
      const role = logicalId(template, "AWS::IAM::Role", roleId);
      return Object.values(template.findResources("AWS::IAM::Policy"))
        .filter((policy) => JSON.stringify((policy as Resource).Properties.Roles).includes(role))
        .flatMap(
          (policy) =>
            (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
              .Statement,
        )
        .flatMap(actionsOf)
        .filter((a) => a.startsWith("dynamodb:"))
        .sort();
    };
    expect(dynamoOf("ApiRole")).toEqual(dynamoDbRunTimeActions(["eventStore"]));
    expect(dynamoOf("ConsumerRole")).toEqual(dynamoDbRunTimeActions(["sagaStore"]));
    expect(dynamoOf("SagaTimerRole")).toEqual(dynamoDbRunTimeActions(["sagaStore"]));
    expect(dynamo).toContain("dynamodb:BatchGetItem");
    expect(dynamo).not.toContain("dynamodb:TransactWriteItems");
    expect(all.flatMap(actionsOf).filter((a) => a.startsWith("events:"))).toEqual(["events:PutEvents"]);
    // No managed policies (AWSLambdaBasicExecutionRole logs to any group): each role is inline only.
    for (const role of Object.values(template.findResources("AWS::IAM::Role"))) {
      expect((role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("examples/aws-cdk: a tenant's role on the shared table (dynamodb:LeadingKeys)", () => {
  test("off by default; with tenantDataRole, the API function may assume one role, tagged per tenant, limited to <tenant>#", () => {
    expect(Object.keys(template.findResources("AWS::IAM::Role")).some((id) => id.startsWith("TenantDataRole"))).toBe(
      false,
    );
    const withTenants = synth({ tenantDataRole: true });
    const role = logicalId(withTenants, "AWS::IAM::Role", "TenantDataRole");
    const api = logicalId(withTenants, "AWS::IAM::Role", "ApiRole");
    const table = logicalId(withTenants, "AWS::DynamoDB::GlobalTable", "EventStore");
    // The role's one statement: the stores' actions on the table, every leading key under the tag's prefix.
    const own = Object.values(withTenants.findResources("AWS::IAM::Policy"))
      .filter((policy) => JSON.stringify((policy as Resource).Properties.Roles).includes(role))
      .flatMap(
        (policy) =>
          (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
            .Statement,
      );
    const expected = dynamoDbTenantStatement({
      tableArn: "table",
      tenant: `\${aws:PrincipalTag/tenant}`,
      stores: ["eventStore", "snapshotStore", "readModelStore"],
    });
    expect(own).toEqual([
      {
        Effect: "Allow",
        Action: expected.Action,
        Resource: { "Fn::GetAtt": [table, "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`\${aws:PrincipalTag/tenant}#*`] } },
      },
    ]);
    expect(expected.Action).not.toContain("dynamodb:Scan");
    // Trusted: the API role, with session tags, never without a tenant tag.
    const trust = (withTenants.findResources("AWS::IAM::Role")[role] as Resource).Properties
      .AssumeRolePolicyDocument as { Statement: Statement[] };
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Principal: { AWS: { "Fn::GetAtt": [api, "Arn"] } },
      }),
      expect.objectContaining({
        Effect: "Deny",
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: { Null: { "aws:RequestTag/tenant": "true" } },
      }),
    ]);
    const assume = statements(withTenants).filter((s) => actionsOf(s).includes("sts:AssumeRole"));
    expect(assume).toEqual([expect.objectContaining({ Effect: "Allow", Resource: { "Fn::GetAtt": [role, "Arn"] } })]);
  }, 120_000);
});

describe("examples/aws-cdk: the package", () => {
  test("bundles go to a new private folder each time (mode 0700, random name)", async () => {
    const { privateBundleDir } = await import("./lib/bundle.ts");
    const first = privateBundleDir();
    const second = privateBundleDir();
    expect(first).not.toBe(second);
    expect(statSync(first).mode & 0o777).toBe(0o700);
  });

  test("a failed install of the example's dependencies says what is missing and what to run", () => {
    const empty = mkdtempSync(join(tmpdir(), "eventflows-cdk-empty-"));
    expect(() => ensureCdkDependencies(empty, join(empty, "no-npm-here"))).toThrow(
      /needs aws-cdk-lib, constructs, esbuild, aws-cdk, bun: `npm install` in .* exited .*Run it yourself/,
    );
  });

  test("the tools that synthesize and deploy are pinned and locked: cdk.json's app and `cdk` come from the example's own devDependencies", () => {
    const read = (path: string) => JSON.parse(readFileSync(join(exampleDir, path), "utf8"));
    const pkg = read("package.json") as Record<string, Record<string, string>>;
    const lock = read("package-lock.json") as { packages: Record<string, Record<string, unknown>> };
    const root = read("../../package.json") as { devDependencies: Record<string, string> };
    const app = (read("cdk.json") as { app: string }).app.split(" ");
    const declared = { ...pkg.dependencies, ...pkg.devDependencies };
    // `npx <tool>` runs an installed tool only when a package the example declares provides it; otherwise npx
    // fetches whatever version the registry has that day.
    const providerOf = (tool: string) =>
      Object.keys(declared).find((name) => tool in ((lock.packages[`node_modules/${name}`]?.bin as object) ?? {}));
    expect(app[0]).toBe("npx");
    const tools = [app[1], ...Object.values(pkg.scripts ?? {}).map((script) => script.split(" ")[0])] as string[];
    expect(tools.map((tool) => [tool, providerOf(tool)])).toEqual(tools.map((tool) => [tool, expect.any(String)]));
    expect(providerOf("cdk")).toBe("aws-cdk");
    for (const [name, version] of Object.entries(declared)) {
      expect({ name, version }).toEqual({ name, version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
      expect({ name, locked: lock.packages[`node_modules/${name}`]?.version }).toEqual({ name, locked: version });
    }
    expect(lock.packages[""]?.devDependencies).toEqual(pkg.devDependencies);
    // The bun that runs the app is the one the repository itself is tested with.
    expect(Bun.semver.satisfies(pkg.devDependencies?.bun as string, root.devDependencies.bun as string)).toBe(true);
  });

  test("`cdk synth` with the example's pinned CLI, cdk.json and bun synthesizes the app offline", () => {
    const out = mkdtempSync(join(tmpdir(), "eventflows-cdk-synth-"));
    const cdk = spawnSync(
      join(exampleDir, "node_modules", ".bin", "cdk"),
      ["synth", "--quiet", "--no-notices", "--output", out],
      {
        cwd: exampleDir,
        encoding: "utf8",
        // No AWS account, credentials or endpoint: synthesizing must need none of them.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CDK_DISABLE_CLI_TELEMETRY: "true" },
      },
    );
    expect({ status: cdk.status, error: cdk.status === 0 ? "" : `${cdk.stdout}${cdk.stderr}` }).toEqual({
      status: 0,
      error: "",
    });
    const synthesized = JSON.parse(readFileSync(join(out, "EventFlowsOrders.template.json"), "utf8"));
    expect(Object.keys(synthesized.Resources).length).toBeGreaterThan(10);
  }, 300_000);

  test("the example type-checks against its own dependencies", () => {
    const tsc = spawnSync(
      join(exampleDir, "..", "..", "node_modules", ".bin", "tsc"),
      ["--noEmit", "-p", "tsconfig.json"],
      {
        cwd: exampleDir,
        encoding: "utf8",
      },
    );
    expect({ status: tsc.status, output: `${tsc.stdout}${tsc.stderr}`.trim() }).toEqual({ status: 0, output: "" });
  }, 300_000);
});
