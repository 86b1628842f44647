/**
 * Idempotent commands over HTTP on every idempotency store, through the public Hono routes: a response
 * small enough is replayed as it was; one over MAX_REPLAYED_RESPONSE_BYTES is answered once, and a retry
 * gets 410 IDEMPOTENCY_RESPONSE_NOT_KEPT without the command running again. Before, DynamoDB (whose item
 * holds 400 KB) failed to record it, so a retry got 409 and, once the claim lapsed, ran the command twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { DynamoDbIdempotencyStore } from "../../adapters/dynamodb/index.js";
import { eventFlowsRoutes, MAX_REPLAYED_RESPONSE_BYTES } from "../../adapters/hono/index.js";
import { PostgresEventStore, PostgresIdempotencyStore, type PostgresSql } from "../../adapters/postgres/index.js";
import { CommandBus, type IdempotencyStore, InMemoryIdempotencyStore, ulid } from "../../src/index.js";
import { useDynamoTable } from "../fixtures/dynamodb-table.ts";
import { postgresTestClient, uniqueSchema } from "../services/postgres.ts";

let sql: PostgresSql;
const schema = uniqueSchema("idempotency_replay");
const table = useDynamoTable("idempotency_replay", ({ endpoint, tableName }) =>
  new DynamoDbIdempotencyStore({ ...endpoint, tableName }).ensureTable(),
);

beforeAll(async () => {
  sql = await postgresTestClient({ max: 4 });
  await new PostgresEventStore({ sql, schema }).migrate();
}, 120_000);

afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

const stores: [string, () => IdempotencyStore][] = [
  ["in memory", () => new InMemoryIdempotencyStore()],
  ["PostgreSQL", () => new PostgresIdempotencyStore({ sql, schema })],
  ["DynamoDB Local", () => new DynamoDbIdempotencyStore(table.options)],
];

describe.each(stores)("Idempotency-Key replay on the %s store", (_name, store) => {
  function api() {
    const bus = new CommandBus<{ Export: { payload: { size: number }; result: { rows: string } } }>();
    const runs: number[] = [];
    bus.register("Export", ({ size }) => {
      runs.push(size);
      return { rows: "é".repeat(size) };
    });
    const app = eventFlowsRoutes({
      commands: { bus, schemas: { Export: v.object({ size: v.number() }) } },
      auth: () => ({ userId: "u-1" }),
      idempotency: store(),
    });
    const send = (size: number, key: string) =>
      app.request("/commands/Export", {
        method: "POST",
        body: JSON.stringify({ size }),
        headers: { "content-type": "application/json", "idempotency-key": key },
      });
    return { send, runs, app };
  }

  test("a response at the limit is replayed as it was", async () => {
    const { send, runs } = api();
    // "é" is 2 bytes of UTF-8: the body is {"rows":"éé…"} at exactly the limit.
    const size = (MAX_REPLAYED_RESPONSE_BYTES - '{"rows":""}'.length) / 2;
    const key = ulid();
    const first = await send(size, key);
    const replay = await send(size, key);
    expect([first.status, replay.status]).toEqual([200, 200]);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.text()).toBe(await first.text());
    expect(runs).toEqual([size]);
  });

  test("a response over the limit and over a DynamoDB item (500 KB) is answered once; a retry gets 410 and runs nothing", async () => {
    const { send, runs } = api();
    const size = 250_000;
    const key = ulid();
    const first = await send(size, key);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { rows: string }).rows).toHaveLength(size);
    for (let retry = 0; retry < 2; retry++) {
      const again = await send(size, key);
      expect(again.status).toBe(410);
      expect(again.headers.get("content-type")).toBe("application/problem+json");
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await again.json()).toMatchObject({
        code: "IDEMPOTENCY_RESPONSE_NOT_KEPT",
        originalStatus: 200,
        size: '{"rows":""}'.length + 2 * size,
        limit: MAX_REPLAYED_RESPONSE_BYTES,
      });
    }
    expect(runs).toEqual([size]);
  });

  test("many clients at once over a real server, one key: the command runs once; the others get 409 or the replay", async () => {
    const { app, runs } = api();
    const server = Bun.serve({ port: 0, fetch: app.fetch });
    try {
      const key = ulid();
      const post = () =>
        fetch(`http://127.0.0.1:${server.port}/commands/Export`, {
          method: "POST",
          body: JSON.stringify({ size: 3 }),
          headers: { "content-type": "application/json", "idempotency-key": key },
        });
      const answers = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const response = await post();
          return {
            status: response.status,
            replayed: response.headers.get("idempotent-replayed"),
            body: await response.text(),
          };
        }),
      );
      expect(runs).toEqual([3]);
      const ran = answers.filter((a) => a.status === 200 && a.replayed === null);
      expect(ran).toHaveLength(1);
      for (const answer of answers) {
        if (answer === ran[0]) continue;
        if (answer.status === 409) expect(JSON.parse(answer.body).code).toBe("IDEMPOTENCY_IN_PROGRESS");
        else expect(answer).toEqual({ status: 200, replayed: "true", body: ran[0]?.body as string });
      }
      const other = await fetch(`http://127.0.0.1:${server.port}/commands/Export`, {
        method: "POST",
        body: JSON.stringify({ size: 4 }),
        headers: { "content-type": "application/json", "idempotency-key": key },
      });
      expect([other.status, (await other.json()).code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"]);
      expect(runs).toEqual([3]);
    } finally {
      server.stop(true);
    }
  });
});
