import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { healthCheck, ulid } from "../../src/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import {
  createDynamoDbClient,
  DynamoDbDedupStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbSnapshotStore,
} from "./index.js";

let local: DynamoDbEndpoint;
let table = "";

beforeAll(async () => {
  local = await ensureDynamoDb();
  table = `ping_${ulid()}`;
  await new DynamoDbEventStore({ ...local, tableName: table }).ensureTable();
}, 120_000);

afterAll(async () => {
  await createDynamoDbClient(local)
    .send("DeleteTable", { TableName: table })
    .catch(() => undefined);
});

describe("DynamoDB ping and healthCheck (DynamoDB Local)", () => {
  test("every store answers ping on its table", async () => {
    const report = await healthCheck({
      checks: {
        events: new DynamoDbEventStore({ ...local, tableName: table }),
        snapshots: new DynamoDbSnapshotStore({ ...local, tableName: table }),
        dedup: new DynamoDbDedupStore({ ...local, tableName: table }),
        idempotency: new DynamoDbIdempotencyStore({ ...local, tableName: table }),
      },
      timeoutMs: 10_000,
    });
    expect(report.healthy).toBe(true);
    expect(Object.values(report.checks).map((check) => check.status)).toEqual(["ok", "ok", "ok", "ok"]);
  });

  test("a table that does not exist fails every store's check with SERVICE_ERROR", async () => {
    const missing = `missing_${ulid()}`;
    const errors: string[] = [];
    const report = await healthCheck({
      checks: {
        events: new DynamoDbEventStore({ ...local, tableName: missing }),
        snapshots: new DynamoDbSnapshotStore({ ...local, tableName: missing }),
        dedup: new DynamoDbDedupStore({ ...local, tableName: missing }),
        idempotency: new DynamoDbIdempotencyStore({ ...local, tableName: missing }),
      },
      timeoutMs: 10_000,
      onError: (name) => errors.push(name),
    });
    expect(report.healthy).toBe(false);
    for (const check of Object.values(report.checks))
      expect(check).toMatchObject({ status: "failed", code: "SERVICE_ERROR" });
    expect(errors.sort()).toEqual(["dedup", "events", "idempotency", "snapshots"]);
  });
});
