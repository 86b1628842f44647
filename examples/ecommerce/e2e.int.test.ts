/**
 * The e-commerce example end to end: its one command started as a process on each backend, driven
 * over real HTTP by the shared scenario. In memory needs nothing; PostgreSQL is the harness's
 * cluster (EVENTFLOWS_PG_URL), each run in a schema of its own.
 */
import { afterAll, beforeAll, setDefaultTimeout } from "bun:test";
import { createPostgresClient } from "../../adapters/postgres/index.js";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { type RunningShop, startShop } from "./e2e-client.js";
import { SCENARIO_ENV, shopScenario } from "./e2e-scenario.js";

setDefaultTimeout(60_000);

const shops: Record<string, RunningShop> = {};
const pgSchema = uniqueSchema("shop");
let pgUrl: string;

beforeAll(async () => {
  pgUrl = await ensurePostgres();
  const [memory, postgres] = await Promise.all([
    startShop({ ...SCENARIO_ENV, EVENTFLOWS_PG_URL: "" }),
    startShop({ ...SCENARIO_ENV, EVENTFLOWS_PG_URL: pgUrl, EVENTFLOWS_PG_SCHEMA: pgSchema }),
  ]);
  shops.memory = memory;
  shops.postgres = postgres;
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(shops).map((shop) => shop.stop()));
  if (pgUrl !== undefined) {
    const sql = createPostgresClient(pgUrl, { max: 1 });
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
    await sql.end();
  }
});

shopScenario("in memory", () => shops.memory as RunningShop);
shopScenario("PostgreSQL", () => shops.postgres as RunningShop);
