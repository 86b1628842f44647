/**
 * A production shape for an EventFlows service on AWS, closed by default:
 *
 *   HTTP API ──▶ api Lambda ──▶ DynamoDB event store
 *   (authorizer,     │
 *    throttling,     └─ PutEvents ──▶ EventBridge bus ──rule──▶ SQS queue ──▶ consumer Lambda
 *    access logs)         │ (entries that keep failing)          │ (5 failed receives)
 *                         ▼                                      ▼
 *                  publish dead-letter queue              consumer dead-letter queue
 *
 *   EventBridge Scheduler (every minute) ──▶ saga-timer Lambda ──▶ the follow-up saga's due timeouts
 *   (the consumer starts the saga on OrderPlaced; instances and timeouts live in the same table)
 *
 * Every role is written out by hand with the actions each adapter documents (the DynamoDB ones from
 * adapters/dynamodb/iam.ts), on the resources it uses, so nothing has a wildcard action.
 */
import { join } from "node:path";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token } from "aws-cdk-lib";
import { EventBus, Rule } from "aws-cdk-lib/aws-events";
import { SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnSchedule } from "aws-cdk-lib/aws-scheduler";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { bundleFunction, privateBundleDir } from "./bundle.js";
import { eventStoreTable, eventStoreTableActions, sagaStoreTableActions } from "./event-store-table.js";
import { type ApiAuthorization, securedHttpApi } from "./http-api.js";
import { type ApiThrottle, DEFAULT_THROTTLE, tableKeyActions } from "./settings.js";
import { tenantDataRole } from "./tenant-data-role.js";

export interface EventFlowsStackProps extends StackProps {
  /** The `Source` of the events this service publishes; the rule matches it. */
  readonly eventSource?: string;
  /**
   * Where the Lambda bundles are written. Defaults to a new private folder (mode 0700, random name)
   * under the OS temp dir, so no other user can read or swap the code before CDK uploads it.
   */
  readonly bundleDir?: string;
  /**
   * Delete the table, key, logs and queues with the stack (for a demo), and turn the table's
   * deletion protection off. By default they are retained and the table refuses deletion.
   */
  readonly destroyOnRemoval?: boolean;
  /** Who may call the HTTP API. Defaults to IAM (SigV4-signed requests); see {@link ApiAuthorization}. */
  readonly authorization?: ApiAuthorization;
  /** The stage's throttling. Defaults to 50 requests per second, bursts of 100. */
  readonly throttle?: ApiThrottle;
  /** Encrypt the table with a customer-managed KMS key of the stack (rotated yearly). Defaults to false. */
  readonly customerManagedKey?: boolean;
  /**
   * Add a role the API function may assume with a `tenant` session tag, limited to that tenant's
   * key prefix in the table (`dynamodb:LeadingKeys`, see lib/tenant-data-role.ts). Defaults to false.
   */
  readonly tenantDataRole?: boolean;
}

const functionsDir = join(import.meta.dirname, "..", "functions");

/**
 * The library needs Node 20 or later; Lambda's nodejs20.x is past its deprecation date, so the
 * functions run on nodejs22.x.
 */
const RUNTIME = Runtime.NODEJS_22_X;

/** How long the consumer may take per batch; the queue hides a message six times that long, as AWS advises. */
const CONSUMER_TIMEOUT = Duration.seconds(30);

export class EventFlowsStack extends Stack {
  constructor(scope: Construct, id: string, props: EventFlowsStackProps = {}) {
    super(scope, id, props);
    const eventSource = props.eventSource ?? "com.example.orders";
    const bundleDir = props.bundleDir ?? privateBundleDir();
    const removalPolicy = props.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    if (props.customerManagedKey === true && Token.isUnresolved(this.region)) {
      // TableV2 names the key per replica region, so the stack must know its region.
      throw new Error("customerManagedKey needs a stack with an explicit env.region");
    }
    const { table, key } = eventStoreTable(this, {
      removalPolicy,
      deletionProtection: props.destroyOnRemoval !== true,
      customerManagedKey: props.customerManagedKey === true,
    });
    const bus = new EventBus(this, "Bus", { eventBusName: `${id}-events` });

    const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy };
    // Events that never reached the queue: PutEvents entries our publisher gave up on, and events
    // the rule could not deliver. Both carry the envelope, so the same consumer can re-drive them.
    const publishDeadLetters = new Queue(this, "PublishDeadLetters", {
      ...queueDefaults,
      retentionPeriod: Duration.days(14),
    });
    const consumerDeadLetters = new Queue(this, "ConsumerDeadLetters", {
      ...queueDefaults,
      retentionPeriod: Duration.days(14),
    });
    const eventsQueue = new Queue(this, "EventsQueue", {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: consumerDeadLetters, maxReceiveCount: 5 },
    });

    new Rule(this, "ToEventsQueue", {
      eventBus: bus,
      eventPattern: { source: [eventSource] },
      targets: [
        new SqsQueue(eventsQueue, {
          deadLetterQueue: publishDeadLetters,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // The API: commands and queries over HTTP, events into the store and out to the bus.
    const apiLogs = new LogGroup(this, "ApiLogs", { retention: RetentionDays.ONE_MONTH, removalPolicy });
    const apiRole = lambdaRole(this, "ApiRole", apiLogs);
    apiRole.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...eventStoreTableActions],
        resources: [table.tableArn],
      }),
    );
    if (key !== undefined) {
      apiRole.addToPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: [...tableKeyActions],
          resources: [key.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `dynamodb.${this.region}.amazonaws.com` } },
        }),
      );
    }
    apiRole.addToPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ["events:PutEvents"], resources: [bus.eventBusArn] }),
    );
    apiRole.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ["sqs:SendMessage"],
        resources: [publishDeadLetters.queueArn],
      }),
    );
    if (props.tenantDataRole === true) {
      const tenantRole = tenantDataRole(this, {
        tableArn: table.tableArn,
        keyArn: key?.keyArn,
        region: this.region,
        assumedBy: apiRole,
      });
      apiRole.addToPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["sts:AssumeRole", "sts:TagSession"],
          resources: [tenantRole.roleArn],
        }),
      );
      new CfnOutput(this, "TenantDataRoleArn", { value: tenantRole.roleArn });
    }
    const environment = {
      EVENTFLOWS_TABLE: table.tableName,
      EVENTFLOWS_EVENT_BUS: bus.eventBusName,
      EVENTFLOWS_EVENT_SOURCE: eventSource,
      EVENTFLOWS_PUBLISH_DLQ_URL: publishDeadLetters.queueUrl,
      NODE_OPTIONS: "--enable-source-maps",
    };
    const api = new LambdaFunction(this, "ApiFunction", {
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      handler: "index.handler",
      code: Code.fromAsset(bundleFunction(join(functionsDir, "api.ts"), bundleDir, "api")),
      memorySize: 512,
      timeout: Duration.seconds(10),
      role: apiRole,
      logGroup: apiLogs,
      environment,
    });

    const { api: httpApi } = securedHttpApi(this, {
      handler: api,
      authorization: props.authorization ?? { kind: "iam" },
      throttle: props.throttle ?? DEFAULT_THROTTLE,
      removalPolicy,
    });

    /** Table actions (and the key's, when the table has one) for a function role. */
    const grantTable = (role: Role, actions: readonly string[]) => {
      role.addToPolicy(
        new PolicyStatement({ effect: Effect.ALLOW, actions: [...actions], resources: [table.tableArn] }),
      );
      if (key !== undefined) {
        role.addToPolicy(
          new PolicyStatement({
            effect: Effect.ALLOW,
            actions: [...tableKeyActions],
            resources: [key.keyArn],
            conditions: { StringEquals: { "kms:ViaService": `dynamodb.${this.region}.amazonaws.com` } },
          }),
        );
      }
    };

    // The consumer: reads the rule's queue, reports only failed messages back.
    const consumerLogs = new LogGroup(this, "ConsumerLogs", { retention: RetentionDays.ONE_MONTH, removalPolicy });
    const consumerRole = lambdaRole(this, "ConsumerRole", consumerLogs);
    const consumer = new LambdaFunction(this, "ConsumerFunction", {
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      handler: "index.handler",
      code: Code.fromAsset(bundleFunction(join(functionsDir, "consumer.ts"), bundleDir, "consumer")),
      memorySize: 256,
      timeout: CONSUMER_TIMEOUT,
      role: consumerRole,
      logGroup: consumerLogs,
      environment: { EVENTFLOWS_EVENT_SOURCE: eventSource, EVENTFLOWS_TABLE: table.tableName },
    });
    // The consumer starts the follow-up saga: its instances and timeouts go to the table.
    grantTable(consumerRole, sagaStoreTableActions);
    consumer.addEventSource(
      new SqsEventSource(eventsQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
      }),
    );

    // Saga timeouts: EventBridge Scheduler invokes the saga-timer function every minute, through a role
    // that may invoke that function only; the function fires the due timeouts (leases make overlaps safe).
    const timerLogs = new LogGroup(this, "SagaTimerLogs", { retention: RetentionDays.ONE_MONTH, removalPolicy });
    const timerRole = lambdaRole(this, "SagaTimerRole", timerLogs);
    grantTable(timerRole, sagaStoreTableActions);
    const sagaTimer = new LambdaFunction(this, "SagaTimerFunction", {
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      handler: "index.handler",
      code: Code.fromAsset(bundleFunction(join(functionsDir, "saga-timer.ts"), bundleDir, "saga-timer")),
      memorySize: 256,
      timeout: Duration.seconds(50),
      role: timerRole,
      logGroup: timerLogs,
      environment: { EVENTFLOWS_TABLE: table.tableName, NODE_OPTIONS: "--enable-source-maps" },
    });
    const schedulerRole = new Role(this, "SagaTimerSchedulerRole", {
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com"),
    });
    schedulerRole.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ["lambda:InvokeFunction"],
        resources: [sagaTimer.functionArn],
      }),
    );
    new CfnSchedule(this, "SagaTimerSchedule", {
      scheduleExpression: "rate(1 minute)",
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: sagaTimer.functionArn,
        roleArn: schedulerRole.roleArn,
        // A missed minute is covered by the next one: retry briefly, never pile invocations up.
        retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 },
      },
    });

    new CfnOutput(this, "ApiUrl", { value: httpApi.apiEndpoint });
    new CfnOutput(this, "EventBusName", { value: bus.eventBusName });
    new CfnOutput(this, "TableName", { value: table.tableName });
    new CfnOutput(this, "PublishDeadLetterQueueUrl", { value: publishDeadLetters.queueUrl });
    new CfnOutput(this, "ConsumerDeadLetterQueueUrl", { value: consumerDeadLetters.queueUrl });
  }
}

/** A function role that may write its own logs and nothing else until statements are added. */
function lambdaRole(scope: Construct, id: string, logs: LogGroup): Role {
  const role = new Role(scope, id, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
  role.addToPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [logs.logGroupArn],
    }),
  );
  return role;
}
