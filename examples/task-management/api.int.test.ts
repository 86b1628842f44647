/**
 * The board's queries on PostgreSQL, over the stores the Worker makes (no workerd): a caller reads
 * its own writes even while an older transaction is still in flight, which holds back the feed
 * PostgreSQL readers see until it ends.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresReadModelStore,
  type PostgresSql,
  postgresProjectionRunner,
} from "@eventflows/core/postgres";
import { ensurePostgres } from "../../test/services/postgres.ts";
import { boardBuses } from "./api.js";
import { boardProjection } from "./board.js";
import { projectSchema } from "./postgres-project.js";

const schema = projectSchema(`api-${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`);
let sql: PostgresSql;
let other: PostgresSql;

beforeAll(async () => {
  const url = await ensurePostgres();
  sql = createPostgresClient(url, { max: 2 });
  other = createPostgresClient(url, { max: 1 });
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await Promise.all([sql.end(), other.end()]);
});

test("a query sees the caller's own write while an older transaction is still in flight", async () => {
  const eventStore = new PostgresEventStore({ sql, schema });
  await eventStore.migrate();
  const readModels = new PostgresReadModelStore({ sql, schema });
  const board = postgresProjectionRunner(eventStore, boardProjection, { readModels });
  const { commands, queries } = boardBuses({ eventStore, readModels, board });
  const ada = { metadata: { userId: "ada" } };

  let inFlight!: () => void;
  const ended = new Promise<void>((resolve) => {
    inFlight = resolve;
  });
  let began!: () => void;
  const begun = new Promise<void>((resolve) => {
    began = resolve;
  });
  // Another writer's transaction, older than the task's: it has an id, and stays open a moment.
  const older = other.begin(async (tx) => {
    await tx`SELECT pg_current_xact_id()`;
    began();
    await ended;
  });
  await begun;
  const created = await commands.execute("CreateTask", { title: "Mine" }, ada);
  setTimeout(inFlight, 300);
  const reply = await queries.execute("GetBoard", {}, ada);
  await older;
  expect(reply.tasks[created.taskId]?.title).toBe("Mine");
});
