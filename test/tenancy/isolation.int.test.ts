/**
 * The tenant isolation contract on Bun against the real services, under each strategy the runtime
 * suites define (test/runtime/suites/tenancy.ts): DynamoDB Local with a table per tenant and with one
 * table and a key prefix per tenant, PostgreSQL
 * with a schema per tenant and with a tenant column under row-level security (over a shared pool and
 * with a pool per tenant), bun:sqlite with a
 * database file per tenant.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunSqliteDriver } from "../../adapters/sqlite/index.js";
import { registerContract } from "../../src/testing/index.js";
import type { OpenedSuite, RuntimeEnv } from "../runtime/runtime-suite.ts";
import {
  tenancyDynamoDbSharedTableSuite,
  tenancyDynamoDbSuite,
  tenancyPostgresRlsPoolSuite,
  tenancyPostgresRlsSuite,
  tenancyPostgresSuite,
  tenancySqliteSuite,
} from "../runtime/suites/tenancy.ts";
import { ensureDynamoDb } from "../services/dynamodb.ts";
import { ensurePostgres } from "../services/postgres.ts";

const env = {
  AWS_ENDPOINT_URL_DYNAMODB: (await ensureDynamoDb()).endpoint,
  EVENTFLOWS_PG_URL: await ensurePostgres(),
} as unknown as RuntimeEnv;

const opened: OpenedSuite[] = [
  await tenancyDynamoDbSuite.open(env),
  await tenancyDynamoDbSharedTableSuite.open(env),
  await tenancyPostgresSuite.open(env),
  await tenancyPostgresRlsSuite.open(env),
  await tenancyPostgresRlsPoolSuite.open(env),
];
afterAll(async () => {
  for (const suite of opened) await suite.close?.();
});
for (const { suite } of opened) registerContract(suite, { describe, test });

const dir = mkdtempSync(join(tmpdir(), "eventflows-tenants-"));
const databases = new Map<string, Database>();
afterAll(() => {
  for (const db of databases.values()) db.close();
  rmSync(dir, { recursive: true, force: true });
});
registerContract(
  tenancySqliteSuite("bun:sqlite, a file per tenant", (tenant) => {
    const db = new Database(join(dir, `${tenant}.db`));
    databases.set(tenant, db);
    return bunSqliteDriver(db);
  }),
  { describe, test },
);
