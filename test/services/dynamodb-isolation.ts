/**
 * Does a DynamoDB emulator isolate concurrent conditional transactions? Every concurrency test of
 * the DynamoDB store (16 writers on one stream, the global feed's never-skip reads) rests on it:
 * of several `TransactWriteItems` racing to create one item with `attribute_not_exists`, exactly
 * one may succeed, and what it wrote must be what is stored afterwards.
 *
 * moto 5.2.5's DynamoDB fails this with bare requests (no EventFlows code involved), so the DynamoDB
 * tests run on AWS's DynamoDB Local, which passes it (adapters/dynamodb/emulator-isolation.int.test.ts).
 * Check another emulator with: `bun test/services/dynamodb-isolation.ts http://127.0.0.1:PORT`.
 * Test-only code.
 */
import { createDynamoDbClient } from "../../adapters/dynamodb/index.js";
import { ulid } from "../../src/index.js";

export interface IsolationReport {
  readonly rounds: number;
  /** Rounds where not exactly one of the racing transactions was acknowledged. */
  readonly winnersNotOne: number;
  /** Rounds whose acknowledged winner's writes are not what the table holds afterwards. */
  readonly acknowledgedButLost: number;
}

export interface IsolationTarget {
  readonly endpoint: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

const S = (value: string) => ({ S: value });

export async function checkTransactionIsolation(
  target: IsolationTarget,
  options: { readonly rounds?: number; readonly racers?: number } = {},
): Promise<IsolationReport> {
  const { rounds = 50, racers = 8 } = options;
  const client = createDynamoDbClient({
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    ...target,
    retry: { maxAttempts: 1 },
  });
  const table = `isolation_${ulid()}`;
  await client.send("CreateTable", {
    TableName: table,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
  });
  let winnersNotOne = 0;
  let acknowledgedButLost = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const key = `k${round}`;
      const outcomes = await Promise.all(
        Array.from({ length: racers }, (_, racer) =>
          client
            .send("TransactWriteItems", {
              TransactItems: [
                {
                  Put: {
                    TableName: table,
                    Item: { pk: S(key), racer: { N: String(racer) } },
                    ConditionExpression: "attribute_not_exists(pk)",
                  },
                },
                { Put: { TableName: table, Item: { pk: S(`${key}-by-${racer}`) } } },
              ],
            })
            .then(
              () => true,
              () => false,
            ),
        ),
      );
      const winners = outcomes.flatMap((won, racer) => (won ? [racer] : []));
      if (winners.length !== 1) winnersNotOne++;
      const winner = winners[0];
      if (winner === undefined) continue;
      const stored = (await client.send("GetItem", {
        TableName: table,
        Key: { pk: S(key) },
        ConsistentRead: true,
      })) as {
        Item?: { racer?: { N?: string } };
      };
      const companion = (await client.send("GetItem", {
        TableName: table,
        Key: { pk: S(`${key}-by-${winner}`) },
        ConsistentRead: true,
      })) as { Item?: unknown };
      if (stored.Item?.racer?.N !== String(winner) || companion.Item === undefined) acknowledgedButLost++;
    }
  } finally {
    await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
  }
  return { rounds, winnersNotOne, acknowledgedButLost };
}

if (import.meta.main) {
  const endpoint = process.argv[2];
  if (endpoint === undefined) {
    console.error("usage: bun test/services/dynamodb-isolation.ts <endpoint URL>");
    process.exit(2);
  }
  const report = await checkTransactionIsolation({ endpoint });
  console.log(JSON.stringify({ endpoint, ...report }));
  process.exit(report.winnersNotOne === 0 && report.acknowledgedButLost === 0 ? 0 : 1);
}
