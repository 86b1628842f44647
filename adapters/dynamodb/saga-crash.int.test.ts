/**
 * A real crash (SIGKILL of a child process) at each gap of a saga step on DynamoDB Local: after the
 * restart (redelivery of the event and a re-drive of the outbox) the command is in effect exactly
 * once. And three competing schedulers (three runtimes, three stores) over 200 due timeouts fire
 * each exactly once. The child is test/sagas/dynamodb-crash-child.ts.
 */

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { type FiredTimeoutReport, SagaRuntime, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { ATTEMPT_PREFIX, countItems, dynamoDbEffectsBus, EFFECT_PREFIX } from "../../test/sagas/dynamodb-effects.ts";
import { orderEvent, orderSaga } from "../../test/sagas/order-saga.ts";
import { DynamoDbSagaStore } from "./index.js";

const table = useDynamoTable("saga_crash", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName }).ensureTable(),
);
const child = join(import.meta.dirname, "..", "..", "test", "sagas", "dynamodb-crash-child.ts");

describe("a SIGKILL at each gap of a saga step, on DynamoDB", () => {
  for (const gap of ["before-save", "after-save", "after-dispatch"] as const) {
    test(`${gap}: after the restart the command is in effect exactly once`, async () => {
      const orderId = ulid();
      const placed = orderEvent("OrderPlaced", orderId, { sku: "A" });
      const args = [child, JSON.stringify(table.endpoint), table.tableName, gap, JSON.stringify(placed)];
      const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30_000 });
      expect({ signal: result.signal, stderr: result.stderr }).toEqual({ signal: "SIGKILL", stderr: "" });

      const store = new DynamoDbSagaStore(table.options);
      const before = await store.load("Order", orderId);
      expect(before?.outbox.length ?? 0).toBe(gap === "before-save" ? 0 : 1);

      const restarted = new SagaRuntime({
        store,
        commands: dynamoDbEffectsBus(table.client, table.tableName),
        sagas: [orderSaga],
      });
      await restarted.redrive();
      const [again] = await restarted.handle(placed);
      expect(again?.outcome).toBe(gap === "before-save" ? "started" : "duplicate");
      await restarted.redrive();

      const command = `Order/${orderId}/1`;
      expect(await countItems(table.client, table.tableName, EFFECT_PREFIX + command)).toBe(1);
      // The step decided one command: no other command id of this order took effect.
      expect(await countItems(table.client, table.tableName, `${EFFECT_PREFIX}Order/${orderId}/2`)).toBe(0);
      expect(await countItems(table.client, table.tableName, ATTEMPT_PREFIX + command)).toBe(
        gap === "after-dispatch" ? 2 : 1,
      );
      expect(await store.load("Order", orderId)).toMatchObject({ version: 1, outbox: [] });
    }, 60_000);
  }
});

describe("three competing schedulers on DynamoDB", () => {
  test("over 200 due timeouts, each fires exactly once and its compensation takes effect once", async () => {
    const start = Date.now();
    const setup = new SagaRuntime({
      store: new DynamoDbSagaStore(table.options),
      commands: dynamoDbEffectsBus(table.client, table.tableName),
      sagas: [orderSaga],
      now: () => start,
    });
    const orders = Array.from({ length: 200 }, () => ulid());
    for (let i = 0; i < orders.length; i += 20) {
      await Promise.all(orders.slice(i, i + 20).map((id) => setup.handle(orderEvent("OrderPlaced", id, { sku: "A" }))));
    }
    const due = start + 16 * 60_000;
    const schedulers = ["one", "two", "three"].map(
      (owner) =>
        new SagaRuntime({
          store: new DynamoDbSagaStore(table.options),
          commands: dynamoDbEffectsBus(table.client, table.tableName),
          sagas: [orderSaga],
          owner,
          tickLimit: 25,
          now: () => due,
        }),
    );
    const fired: FiredTimeoutReport[] = [];
    const mine = new Set(orders);
    await Promise.all(
      schedulers.map(async (scheduler) => {
        for (let round = 0; round < 40; round++) {
          const { fired: got } = await scheduler.tick(due);
          fired.push(...got.filter((f) => mine.has(f.key)));
          if (got.length === 0) break;
        }
      }),
    );
    const perOrder = new Map<string, number>();
    for (const f of fired) perOrder.set(f.key, (perOrder.get(f.key) ?? 0) + 1);
    expect(perOrder.size).toBe(200);
    expect([...perOrder.values()].filter((n) => n !== 1)).toEqual([]);
    // Each timed-out order compensates once: its ReleaseStock took effect exactly once.
    const released = await Promise.all(
      orders.map((id) => countItems(table.client, table.tableName, `${EFFECT_PREFIX}Order/${id}/c2`)),
    );
    expect(released.filter((n) => n !== 1)).toEqual([]);
  }, 180_000);
});
