/**
 * A real crash (SIGKILL of a child process) at each gap of a saga step on PostgreSQL: after the
 * restart (redelivery of the event and a re-drive of the outbox) the command is in effect exactly
 * once. The child is test/sagas/crash-child.ts.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CommandBus, SagaRuntime, ulid } from "../../src/index.js";
import { orderEvent, orderSaga } from "../../test/sagas/order-saga.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, PostgresSagaStore, type PostgresSql } from "./index.js";

let sql: PostgresSql;
const schema = uniqueSchema("saga_crash");
const child = join(import.meta.dirname, "..", "..", "test", "sagas", "crash-child.ts");

beforeAll(async () => {
  sql = await postgresTestClient({ max: 5 });
  await new PostgresEventStore({ sql, schema }).migrate();
  await sql.unsafe(`CREATE TABLE ${schema}.effects (id text PRIMARY KEY)`);
  await sql.unsafe(`CREATE TABLE ${schema}.attempts (n bigint GENERATED ALWAYS AS IDENTITY, id text NOT NULL)`);
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

function effectsBus() {
  const bus = new CommandBus();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"]) {
    bus.register(type, async (_payload, message) => {
      await sql.unsafe(`INSERT INTO ${schema}.attempts (id) VALUES ($1)`, [message.id]);
      await sql.unsafe(`INSERT INTO ${schema}.effects (id) VALUES ($1) ON CONFLICT DO NOTHING`, [message.id]);
      return undefined;
    });
  }
  return bus;
}

describe("a SIGKILL at each gap of a saga step, on PostgreSQL", () => {
  for (const gap of ["before-save", "after-save", "after-dispatch"] as const) {
    test(`${gap}: after the restart the command is in effect exactly once`, async () => {
      const orderId = ulid();
      const placed = orderEvent("OrderPlaced", orderId, { sku: "A" });
      const result = spawnSync(process.execPath, [child, await ensurePostgres(), schema, gap, JSON.stringify(placed)], {
        encoding: "utf8",
        timeout: 30_000,
      });
      expect({ signal: result.signal, stderr: result.stderr }).toEqual({ signal: "SIGKILL", stderr: "" });

      const store = new PostgresSagaStore({ sql, schema });
      const before = await store.load("Order", orderId);
      expect(before?.outbox.length ?? 0).toBe(gap === "before-save" ? 0 : 1);

      const restarted = new SagaRuntime({ store, commands: effectsBus(), sagas: [orderSaga] });
      await restarted.redrive();
      const [again] = await restarted.handle(placed);
      expect(again?.outcome).toBe(gap === "before-save" ? "started" : "duplicate");
      await restarted.redrive();

      const command = `Order/${orderId}/1`;
      const effects = await sql.unsafe(`SELECT id FROM ${schema}.effects WHERE id LIKE $1`, [`Order/${orderId}/%`]);
      expect(effects.map((row) => row.id)).toEqual([command]);
      const attempts = await sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.attempts WHERE id = $1`, [command]);
      expect(attempts[0]?.n).toBe(gap === "after-dispatch" ? 2 : 1);
      expect(await store.load("Order", orderId)).toMatchObject({ version: 1, outbox: [] });
    }, 60_000);
  }
});
