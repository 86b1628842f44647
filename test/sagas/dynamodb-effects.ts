/**
 * The order saga's commands with effects in DynamoDB: one item per command id (an idempotent put,
 * the effect), one item per attempt. Shared by the DynamoDB crash child and its test.
 */
import type { AwsJsonClient } from "../../adapters/aws/index.js";
import { CommandBus, ulid } from "../../src/index.js";

export const EFFECT_PREFIX = "test-effect:";
export const ATTEMPT_PREFIX = "test-attempt:";

export function dynamoDbEffectsBus(client: AwsJsonClient, tableName: string, onEffect: () => void = () => {}) {
  const bus = new CommandBus();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"]) {
    bus.register(type, async (_payload, message) => {
      await client.send("PutItem", {
        TableName: tableName,
        Item: {
          pk: { S: ATTEMPT_PREFIX + message.id },
          sk: { N: String(Math.floor(Math.random() * 1e15)) },
          attempt: { S: ulid() },
        },
      });
      await client.send("PutItem", {
        TableName: tableName,
        Item: { pk: { S: EFFECT_PREFIX + message.id }, sk: { N: "0" } },
      });
      onEffect();
      return undefined;
    });
  }
  return bus;
}

/** How many items a partition holds: the effects or attempts of one command id. */
export async function countItems(client: AwsJsonClient, tableName: string, pk: string): Promise<number> {
  const result = await client.send<{ Count?: number }>("Query", {
    TableName: tableName,
    ConsistentRead: true,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": { S: pk } },
    Select: "COUNT",
  });
  return result.Count ?? 0;
}
