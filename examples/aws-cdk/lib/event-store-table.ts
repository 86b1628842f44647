/**
 * The DynamoDB table `DynamoDbEventStore` uses, as adapters/dynamodb defines it (`eventStoreTableDefinition`):
 * a string partition key `pk` (the stream id) and a numeric sort key `sk` (the version), no secondary
 * index (the global feed lives in the table itself), on-demand billing, point-in-time recovery, and
 * deletion protection unless the stack is a demo that deletes its data.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Key } from "aws-cdk-lib/aws-kms";
import type { Construct } from "constructs";
import { dynamoDbRunTimeActions } from "../../../adapters/dynamodb/iam.ts";

export const PARTITION_KEY = "pk";
export const SORT_KEY = "sk";

/**
 * What the event store calls at run time, from the adapter's own list (adapters/dynamodb/iam.ts):
 * creating the table is the stack's job, not the function's.
 */
export const eventStoreTableActions = dynamoDbRunTimeActions(["eventStore"]);

/** What the saga store (`DynamoDbSagaStore`, in the same table) calls at run time, from the same list. */
export const sagaStoreTableActions = dynamoDbRunTimeActions(["sagaStore"]);

export interface EventStoreTableOptions {
  readonly removalPolicy: RemovalPolicy;
  /** Refuse `DeleteTable` (and so a stack deletion that would drop the events). */
  readonly deletionProtection: boolean;
  /** Encrypt with a key of this stack's own (rotated yearly) instead of the AWS-owned key. */
  readonly customerManagedKey: boolean;
}

export function eventStoreTable(
  scope: Construct,
  options: EventStoreTableOptions,
): { table: TableV2; key: Key | undefined } {
  const key = options.customerManagedKey
    ? new Key(scope, "EventStoreKey", {
        description: "Encrypts the EventFlows event store table",
        enableKeyRotation: true,
        removalPolicy: options.removalPolicy,
      })
    : undefined;
  const table = new TableV2(scope, "EventStore", {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.NUMBER },
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: options.deletionProtection,
    ...(key === undefined ? {} : { encryption: TableEncryptionV2.customerManagedKey(key) }),
    removalPolicy: options.removalPolicy,
  });
  return { table, key };
}
