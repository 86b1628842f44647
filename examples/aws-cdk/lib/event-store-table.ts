/**
 * The DynamoDB table `DynamoDbEventStore` uses, as adapters/dynamodb defines it (`eventStoreTableDefinition`):
 * a string partition key `pk` (the stream id) and a numeric sort key `sk` (the version), no secondary
 * index (the global feed lives in the table itself), on-demand billing.
 */
import type { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";

export const PARTITION_KEY = "pk";
export const SORT_KEY = "sk";

/** What the event store calls at run time (creating the table is the stack's job, not the function's). */
export const eventStoreTableActions = [
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:Query",
  "dynamodb:TransactWriteItems",
  "dynamodb:ConditionCheckItem",
] as const;

export function eventStoreTable(scope: Construct, removalPolicy: RemovalPolicy): TableV2 {
  return new TableV2(scope, "EventStore", {
    partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
    sortKey: { name: SORT_KEY, type: AttributeType.NUMBER },
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: false,
    removalPolicy,
  });
}
