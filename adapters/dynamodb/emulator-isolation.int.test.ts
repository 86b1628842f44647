import { expect, test } from "bun:test";
import { ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { checkTransactionIsolation } from "../../test/services/dynamodb-isolation.ts";

// The concurrency tests of this adapter are only meaningful on an emulator that isolates
// conditional transactions as DynamoDB does; this holds the one the suite runs on to it.
test("DynamoDB Local isolates racing conditional transactions: one winner per round, and its writes are stored", async () => {
  const report = await checkTransactionIsolation(await ensureDynamoDb(), { rounds: 30, racers: 8 });
  expect(report).toEqual({ rounds: 30, winnersNotOne: 0, acknowledgedButLost: 0 });
}, 120_000);
