/**
 * Sagas bench (issue 13): saga steps per second (event in -> state saved with its handled id and
 * outbox -> command dispatched -> outbox entry marked done) through `SagaRuntime`, against the same
 * writes made by hand (the ceiling), in memory, on PostgreSQL and on DynamoDB Local; and an @nestjs/cqrs saga (no
 * state, no persistence) in the same run. Each iteration starts a new instance, so no step waits
 * on another.
 *
 * Then timeout firing lateness: 200 timeouts due at random times over 8 s, fired by the timer loop
 * (`runtime.start`) with a 1 s tick, in memory; p50/p99 of firing time minus due time.
 *
 * Run: `bun bench/sagas.bench.ts`, or `bun run bench sagas` to also refresh bench/RESULTS.md.
 * PostgreSQL and DynamoDB Local come from the test harness (or EVENTFLOWS_PG_URL, AWS_ENDPOINT_URL_DYNAMODB);
 * the schema and the table made here are dropped.
 */
import { bench, do_not_optimize, group, summary } from "mitata";
import { createDynamoDbClient, DynamoDbSagaStore } from "../adapters/dynamodb/index.js";
import { createPostgresClient, PostgresEventStore, PostgresSagaStore } from "../adapters/postgres/index.js";
import {
  CommandBus,
  defineSaga,
  type EventEnvelope,
  InMemorySagaStore,
  SagaRuntime,
  type SagaStore,
  ulid,
} from "../src/index.js";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";
import { ensurePostgres } from "../test/services/postgres.ts";
import { interleaved, pairedRatio } from "./lib/interleave.js";
import { startNestSaga } from "./lib/nest-saga.js";
import { appendToReport, runAndReport } from "./lib/report.js";

type Placed = { type: "OrderPlaced"; data: { orderId: string; sku: string } };

const saga = defineSaga<Placed, { sku: string }>({
  name: "Bench",
  startedBy: ["OrderPlaced"],
  correlate: (event) => event.data.orderId,
  initialState: { sku: "" },
  on: {
    OrderPlaced: (_state, event, ctx) => {
      ctx.dispatch("ReserveStock", { sku: event.data.sku });
      return { sku: event.data.sku };
    },
  },
});

const commands = new CommandBus<{ ReserveStock: { payload: { sku: string }; result: undefined } }>();
commands.register("ReserveStock", () => undefined);

const placed = (): EventEnvelope => {
  const orderId = ulid();
  return {
    id: orderId,
    type: "OrderPlaced",
    streamId: `Order-${orderId}`,
    version: 1,
    timestamp: new Date().toISOString(),
    data: { orderId, sku: "TEA-001" },
    metadata: {},
  };
};

/** The same writes a step makes, called by hand through the store: load, commit, dispatch, mark done. */
async function byHand(store: SagaStore): Promise<void> {
  const event = placed();
  const key = (event.data as { orderId: string }).orderId;
  await store.load("Bench", key);
  const entry = {
    id: `Bench/${key}/1`,
    type: "ReserveStock",
    payload: { sku: "TEA-001" },
    causationId: event.id,
    compensation: false,
  };
  await store.commit({
    saga: "Bench",
    key,
    expectedVersion: 0,
    state: { sku: "TEA-001" },
    status: "running",
    step: 1,
    compensations: [],
    handledId: event.id,
    outbox: [entry],
  });
  // With the metadata the runtime sends (correlation and causation): the same dispatch, nothing less.
  await commands.execute(
    "ReserveStock",
    { sku: "TEA-001" },
    { id: entry.id, metadata: { correlationId: `Bench/${key}`, causationId: event.id } },
  );
  await store.markDispatched("Bench", key, entry.id);
}

// The in-memory store keeps every instance: it is made afresh before each interleaved round (for both
// sides), so neither side's figure depends on how many instances the rounds before it left behind.
let memory = new InMemorySagaStore();
let memoryRuntime = new SagaRuntime({ store: memory, commands, sagas: [saga] });
const freshMemory = () => {
  memory = new InMemorySagaStore();
  memoryRuntime = new SagaRuntime({ store: memory, commands, sagas: [saga] });
};

const nest = await startNestSaga();

const pgSql = createPostgresClient(await ensurePostgres(), { max: 4 });
const pgSchema = `bench_sagas_${Date.now().toString(36)}`;
await new PostgresEventStore({ sql: pgSql, schema: pgSchema }).migrate();
const pg = new PostgresSagaStore({ sql: pgSql, schema: pgSchema });
const pgRuntime = new SagaRuntime({ store: pg, commands, sagas: [saga] });

// The ceiling on PostgreSQL: the rows a step writes, in one transaction of plain (prepared) statements.
async function bareSql(): Promise<void> {
  const event = placed();
  const key = (event.data as { orderId: string }).orderId;
  const entryId = `Bench/${key}/1`;
  await pgSql.unsafe(`SELECT version FROM ${pgSchema}.sagas WHERE saga = $1 AND key = $2`, ["Bare", key], {
    prepare: true,
  });
  await pgSql.begin(async (tx) => {
    await tx.unsafe(
      `INSERT INTO ${pgSchema}.sagas (saga, key, version, state, status, step, compensations) VALUES ($1, $2, 1, $3::jsonb, 'running', 1, '[]')`,
      ["Bare", key, JSON.stringify({ sku: "TEA-001" })],
      { prepare: true },
    );
    await tx.unsafe(`INSERT INTO ${pgSchema}.saga_handled (saga, key, handled_id) VALUES ($1, $2, $3)`, [
      "Bare",
      key,
      event.id,
    ]);
    await tx.unsafe(
      `INSERT INTO ${pgSchema}.saga_outbox (saga, key, entry_id, entry) VALUES ($1, $2, $3, $4::jsonb)`,
      ["Bare", key, entryId, JSON.stringify({ id: entryId, type: "ReserveStock", payload: { sku: "TEA-001" } })],
      { prepare: true },
    );
  });
  await commands.execute("ReserveStock", { sku: "TEA-001" }, { id: entryId });
  await pgSql.unsafe(
    `DELETE FROM ${pgSchema}.saga_outbox WHERE saga = $1 AND key = $2 AND entry_id = $3`,
    ["Bare", key, entryId],
    { prepare: true },
  );
}

const local = await ensureDynamoDb();
const ddbClient = createDynamoDbClient(local);
const ddbTable = `bench_sagas_${Date.now().toString(36)}`;
const ddb = new DynamoDbSagaStore({ ...local, client: ddbClient, tableName: ddbTable });
await ddb.ensureTable();
const ddbRuntime = new SagaRuntime({ store: ddb, commands, sagas: [saga] });

// The ceiling on DynamoDB: the items a step writes, by hand through the same client: a read of the
// instance, one TransactWriteItems of its conditional put, the handled id's and the outbox entry's,
// then the entry's delete once the command ran.
async function bareDynamoDb(): Promise<void> {
  const event = placed();
  const key = (event.data as { orderId: string }).orderId;
  const entryId = `Bare/${key}/1`;
  const item = (pk: string, sk = "0") => ({ pk: { S: pk }, sk: { N: sk } });
  await ddbClient.send("GetItem", { TableName: ddbTable, Key: item(`bare:${key}`), ConsistentRead: true });
  const absent = { ConditionExpression: "attribute_not_exists(pk)" };
  await ddbClient.send("TransactWriteItems", {
    TransactItems: [
      {
        Put: {
          TableName: ddbTable,
          Item: { ...item(`bare:${key}`), v: { N: "1" }, st: { S: JSON.stringify({ sku: "TEA-001" }) } },
          ...absent,
        },
      },
      { Put: { TableName: ddbTable, Item: item(`bare-handled:${key}:${event.id}`), ...absent } },
      {
        Put: {
          TableName: ddbTable,
          Item: {
            ...item(`bare:${key}`, "1"),
            entry: { S: JSON.stringify({ id: entryId, type: "ReserveStock", payload: { sku: "TEA-001" } }) },
          },
          ...absent,
        },
      },
    ],
  });
  await commands.execute("ReserveStock", { sku: "TEA-001" }, { id: entryId });
  await ddbClient.send("DeleteItem", { TableName: ddbTable, Key: item(`bare:${key}`, "1") });
}

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const add = (name: string, run: () => Promise<unknown>) => {
  eventsPerIteration[name] = 1;
  bench(name, async () => do_not_optimize(await run()));
};

try {
  summary(() => {
    group("in memory: one saga step", () => {
      add("in memory: SagaRuntime.handle", () => memoryRuntime.handle(placed()));
      add("in memory: the same store calls by hand", () => byHand(memory));
      add("@nestjs/cqrs: @Saga to command handler (no state, nothing saved)", () => nest.step(ulid()));
    });
    group("PostgreSQL: one saga step", () => {
      add("postgres: SagaRuntime.handle", () => pgRuntime.handle(placed()));
      add("postgres: PostgresSagaStore calls by hand", () => byHand(pg));
      add("postgres: bare SQL, one transaction", bareSql);
    });
    group("DynamoDB Local: one saga step", () => {
      add("dynamodb: SagaRuntime.handle", () => ddbRuntime.handle(placed()));
      add("dynamodb: DynamoDbSagaStore calls by hand", () => byHand(ddb));
      add("dynamodb: bare requests (read, one transaction, delete)", bareDynamoDb);
    });
  });
  pairs.push(
    ["in memory: SagaRuntime.handle", "in memory: the same store calls by hand"],
    ["in memory: SagaRuntime.handle", "@nestjs/cqrs: @Saga to command handler (no state, nothing saved)"],
    ["postgres: SagaRuntime.handle", "postgres: bare SQL, one transaction"],
    ["postgres: PostgresSagaStore calls by hand", "postgres: bare SQL, one transaction"],
    ["dynamodb: SagaRuntime.handle", "dynamodb: bare requests (read, one transaction, delete)"],
    ["dynamodb: DynamoDbSagaStore calls by hand", "dynamodb: bare requests (read, one transaction, delete)"],
  );
  // Round robin, so load that comes and goes on a shared machine cannot favour one side of a pair.
  const cross = [
    ...(await interleaved(
      [
        ["in memory: SagaRuntime.handle", () => memoryRuntime.handle(placed())],
        ["in memory: the same store calls by hand", () => byHand(memory)],
        ["@nestjs/cqrs: @Saga to command handler (no state, nothing saved)", () => nest.step(ulid())],
      ],
      // Many short rounds in shuffled order (Nest's RxJS garbage must not land on one side alone),
      // each starting from an empty store.
      { rounds: 120, batch: 50, shuffle: true, beforeRound: freshMemory },
    )),
    ...(await interleaved(
      [
        ["postgres: SagaRuntime.handle", () => pgRuntime.handle(placed())],
        ["postgres: PostgresSagaStore calls by hand", () => byHand(pg)],
        ["postgres: bare SQL, one transaction", bareSql],
      ],
      { rounds: 20, batch: 5 },
    )),
    ...(await interleaved(
      [
        ["dynamodb: SagaRuntime.handle", () => ddbRuntime.handle(placed())],
        ["dynamodb: DynamoDbSagaStore calls by hand", () => byHand(ddb)],
        ["dynamodb: bare requests (read, one transaction, delete)", bareDynamoDb],
      ],
      { rounds: 20, batch: 5 },
    )),
  ];
  const medianOf = (name: string) => cross.find((c) => c.name === name)?.medianNs ?? Number.NaN;
  const share = (ours: string, ceiling: string) => `${Math.round((100 * medianOf(ceiling)) / medianOf(ours))}%`;
  const paired = (ours: string, ceiling: string) => `${Math.round(100 * pairedRatio(cross, ours, ceiling))}%`;
  const shares = [
    `Interleaved medians: in memory the runtime runs at ${share("in memory: SagaRuntime.handle", "in memory: the same store calls by hand")} of the hand-written steps' speed; on PostgreSQL at ${share("postgres: SagaRuntime.handle", "postgres: bare SQL, one transaction")} of bare SQL's; on DynamoDB Local at ${share("dynamodb: SagaRuntime.handle", "dynamodb: bare requests (read, one transaction, delete)")} of the bare requests'.`,
    `Median of the per-round ratios (each round's two batches side by side in time): in memory ${paired("in memory: SagaRuntime.handle", "in memory: the same store calls by hand")}, PostgreSQL ${paired("postgres: SagaRuntime.handle", "postgres: bare SQL, one transaction")}, DynamoDB Local ${paired("dynamodb: SagaRuntime.handle", "dynamodb: bare requests (read, one transaction, delete)")}.`,
  ];
  await runAndReport("sagas", "Sagas: one step (event in, state saved, command out) vs the same writes by hand", {
    eventsPerIteration,
    pairs,
    interleaved: cross,
    notes: [
      ...shares,
      "A step: load the instance, commit state + handled id + outbox entry, dispatch the command (with its correlation and causation ids), mark it done. In memory, each interleaved round starts from an empty store, for both sides.",
      "@nestjs/cqrs sagas keep no state and save nothing: an RxJS map from the event to the command, then its handler.",
      "The bare-SQL ceiling writes the same three rows in one transaction of plain statements and deletes the outbox row.",
      "The DynamoDB ceiling sends, through the same client, a GetItem of the instance, one TransactWriteItems of the same three conditional puts, and the outbox item's DeleteItem.",
    ],
  });
  const lateness = await timeoutLateness(200, 1000);
  appendToReport("sagas", lateness);
  console.log(lateness);
} finally {
  await nest.close();
  await pgSql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await pgSql.end();
  await ddbClient.send("DeleteTable", { TableName: ddbTable }).catch(() => undefined);
}

/** Fires `count` timeouts due over 8 s with the timer loop ticking every `tickMs`; lateness quantiles as markdown. */
async function timeoutLateness(count: number, tickMs: number): Promise<string> {
  const late: number[] = [];
  const armed = defineSaga<{ type: "Arm"; data: { id: string; after: number } }, object>({
    name: "Late",
    startedBy: ["Arm"],
    correlate: (event) => event.data.id,
    initialState: {},
    on: {
      Arm: (state, event, ctx) => {
        ctx.schedule({ after: event.data.after, name: "t" });
        return state;
      },
    },
    onTimeout: { t: (state) => state },
  });
  const runtime = new SagaRuntime({
    store: new InMemorySagaStore(),
    commands,
    sagas: [armed],
    onTimeoutFired: (fired) => late.push(Date.now() - fired.dueAt),
  });
  for (let i = 0; i < count; i++) {
    const event = { ...placed(), type: "Arm", data: { id: `i${i}`, after: Math.floor(Math.random() * 8000) } };
    await runtime.handle(event);
  }
  const loop = runtime.start({ intervalMs: tickMs });
  while (late.length < count) await new Promise((resolve) => setTimeout(resolve, 50));
  await loop.stop();
  late.sort((a, b) => a - b);
  const at = (q: number) => late[Math.min(count - 1, Math.floor(q * count))];
  return `Timeout lateness, ${count} timeouts over 8 s, ${tickMs} ms tick (timer loop, in memory): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${late[count - 1]} ms (target: p99 < tick + 100 ms)`;
}
