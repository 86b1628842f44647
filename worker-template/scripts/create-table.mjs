#!/usr/bin/env node
// Creates the DynamoDB table the Worker's event store uses (on-demand billing) unless it exists,
// waits until it is active, and turns on its TTL over `ttl`, which deletes expired Idempotency-Keys. Run it once per AWS account and region, with credentials allowed
// to create tables (an administrator's, not the Worker's):
//   AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… node scripts/create-table.mjs [table]
// The table name defaults to $DYNAMODB_TABLE, then to "eventflows-events" (wrangler.toml's default).
import { DynamoDbEventStore, DynamoDbIdempotencyStore } from "@eventflows/core/dynamodb";

const tableName = process.argv[2] ?? process.env.DYNAMODB_TABLE ?? "eventflows-events";
try {
  const outcome = await new DynamoDbEventStore({ tableName }).ensureTable();
  console.log(`${tableName}: ${outcome === "created" ? "created" : "exists already"}, active`);
  await new DynamoDbIdempotencyStore({ tableName }).ensureTimeToLive();
  console.log(`${tableName}: TTL on over ttl (expired Idempotency-Keys are deleted)`);
} catch (error) {
  // A ValidationError's message already names every issue (what is missing: region, credentials).
  console.error(`${tableName}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
