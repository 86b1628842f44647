/**
 * The e-commerce example end to end: its one command started as a process on each backend, driven
 * over real HTTP by the shared scenario. In memory needs nothing; PostgreSQL is the harness's
 * cluster (EVENTFLOWS_PG_URL), each run in a schema of its own; DynamoDB is DynamoDB Local and
 * EventBridge and SQS are moto, each run with a table and a bus of its own.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createDynamoDbClient } from "../../adapters/dynamodb/index.js";
import { createPostgresClient } from "../../adapters/postgres/index.js";
import { ulid } from "../../src/index.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../../test/services/dynamodb.ts";
import { ensureMoto } from "../../test/services/moto.ts";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { eventually, type RunningApp, startShop } from "./e2e-client.js";
import { SCENARIO_ENV, shopScenario } from "./e2e-scenario.js";

setDefaultTimeout(60_000);

const shops: Record<string, RunningApp> = {};
const pgSchema = uniqueSchema("shop");
const restartSchema = uniqueSchema("shop_restart");
const tableName = `shop_${ulid()}`;
let pgUrl: string;
let dynamoDb: DynamoDbEndpoint;

async function awsEnvironment(): Promise<Record<string, string>> {
  dynamoDb = await ensureDynamoDb();
  const moto = await ensureMoto();
  return {
    SHOP_DYNAMODB_TABLE: tableName,
    SHOP_EVENT_BUS: `shop-${Date.now().toString(36)}`,
    AWS_REGION: dynamoDb.region,
    AWS_ACCESS_KEY_ID: dynamoDb.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: dynamoDb.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: moto.events,
    AWS_ENDPOINT_URL_EVENTS: moto.events,
    AWS_ENDPOINT_URL_SQS: moto.sqs,
  };
}

beforeAll(async () => {
  pgUrl = await ensurePostgres();
  const aws = await awsEnvironment();
  const [memory, postgres, dynamodb] = await Promise.all([
    startShop({ ...SCENARIO_ENV, EVENTFLOWS_PG_URL: "" }),
    startShop({ ...SCENARIO_ENV, EVENTFLOWS_PG_URL: pgUrl, EVENTFLOWS_PG_SCHEMA: pgSchema }),
    startShop({ ...SCENARIO_ENV, ...aws }),
  ]);
  shops.memory = memory;
  shops.postgres = postgres;
  shops.dynamodb = dynamodb;
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(shops).map((shop) => shop.stop()));
  if (pgUrl !== undefined) {
    const sql = createPostgresClient(pgUrl, { max: 1 });
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${restartSchema} CASCADE`);
    await sql.end();
  }
  if (dynamoDb !== undefined) {
    await createDynamoDbClient(dynamoDb)
      .send("DeleteTable", { TableName: tableName })
      .catch(() => undefined);
  }
});

shopScenario("in memory", () => shops.memory as RunningApp);
shopScenario("PostgreSQL", () => shops.postgres as RunningApp);
shopScenario("DynamoDB + EventBridge", () => shops.dynamodb as RunningApp);

test("SHOP_USERS is checked at start-up: a short token stops the shop, naming the rule", async () => {
  const users = JSON.stringify({ short: { userId: "eve", role: "admin" } });
  await expect(startShop({ SHOP_USERS: users, EVENTFLOWS_PG_URL: "" })).rejects.toThrow(
    "a token of at least 16 characters",
  );
});

test("SHOP_USERS tokens are ones a client can send: a space or a non-ASCII character stops the shop", async () => {
  for (const token of ["a token with spaces", "tökentökentökentöken"]) {
    const users = JSON.stringify({ [token]: { userId: "eve", role: "admin" } });
    const started = startShop({ SHOP_USERS: users, EVENTFLOWS_PG_URL: "" });
    try {
      await expect(started).rejects.toThrow("a token of visible ASCII characters, no spaces");
    } finally {
      await started.then(
        (shop) => shop.stop(),
        () => undefined,
      );
    }
  }
});

test("on PostgreSQL a restart loses nothing: a payment timeout due while the shop was down fires after it", async () => {
  const env = { ...SCENARIO_ENV, EVENTFLOWS_PG_URL: pgUrl, EVENTFLOWS_PG_SCHEMA: restartSchema };
  const admin = { token: "admin-token" };
  const first = await startShop(env);
  let orderId: string;
  try {
    await first.call("/commands/ListProduct", { ...admin, body: { sku: "MUG-1", name: "Mug", priceCents: 900 } });
    await first.call("/commands/ReceiveStock", { ...admin, body: { sku: "MUG-1", quantity: 2 } });
    const placed = await first.call("/commands/PlaceOrder", {
      token: "ada-token",
      body: { sku: "MUG-1", quantity: 2, paymentToken: "tok_no_answer" },
    });
    orderId = placed.body.orderId;
    // Reserved: the saga has saved its step with the payment timeout, 1.5 s away.
    const reserved = await eventually(
      () => first.call("/queries/GetStock?sku=MUG-1", admin),
      (reply) => reply.body?.reserved === 2,
    );
    expect(reserved.body).toMatchObject({ available: 0, reserved: 2 });
  } finally {
    await first.stop();
  }
  await Bun.sleep(Number(SCENARIO_ENV.PAYMENT_TIMEOUT_MS) + 500); // due while nothing runs
  const second = await startShop(env);
  try {
    const order = await eventually(
      () => second.call(`/queries/GetOrder?orderId=${orderId}`, admin),
      (reply) => reply.body?.status === "cancelled",
    );
    expect(order.body).toMatchObject({ status: "cancelled", reason: "no payment answer in time" });
    const stock = await eventually(
      () => second.call("/queries/GetStock?sku=MUG-1", admin),
      (reply) => reply.body?.available === 2,
    );
    expect(stock.body).toMatchObject({ available: 2, reserved: 0 });
  } finally {
    await second.stop();
  }
});
