import { describe, expect, test } from "bun:test";
import { healthCheck, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { DynamoDbDedupStore, DynamoDbEventStore, DynamoDbIdempotencyStore, DynamoDbSnapshotStore } from "./index.js";

const table = useDynamoTable("ping", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

describe("DynamoDB ping and healthCheck (DynamoDB Local)", () => {
  test("every store answers ping on its table", async () => {
    const report = await healthCheck({
      checks: {
        events: new DynamoDbEventStore(table.options),
        snapshots: new DynamoDbSnapshotStore(table.options),
        dedup: new DynamoDbDedupStore(table.options),
        idempotency: new DynamoDbIdempotencyStore(table.options),
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
        events: new DynamoDbEventStore({ ...table.endpoint, tableName: missing }),
        snapshots: new DynamoDbSnapshotStore({ ...table.endpoint, tableName: missing }),
        dedup: new DynamoDbDedupStore({ ...table.endpoint, tableName: missing }),
        idempotency: new DynamoDbIdempotencyStore({ ...table.endpoint, tableName: missing }),
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
