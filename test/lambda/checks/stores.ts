/**
 * The stores function through RIE: one batch appended to PostgreSQL and to DynamoDB Local, each
 * published to EventBridge (moto) before the function returns; the harness finds the same events
 * in both stores and in the queue the bus's rule feeds. Then an aggregate saved with a snapshot
 * policy: its snapshot is stored by the time the response arrives.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { collect } from "../../../src/testing/index.js";
import { drainQueue } from "../../services/moto.ts";
import type { Fixtures } from "../fixtures.ts";
import type { StoresEvent } from "../handlers/stores.ts";
import { type CheckContext, resultOf } from "./context.ts";

/** How long the snapshot check holds the snapshots table: far longer than a warm invocation takes. */
const SNAPSHOT_LOCK_MS = 1500;

type Summary = { ids: string[]; version: number; published: number; publishFailures: number };

export async function storesChecks(ctx: CheckContext, fixtures: Fixtures): Promise<void> {
  const { report, runtime } = ctx;
  // Two invocations: the first is the cold start, the second reuses the clients made at init.
  for (const round of ["cold", "warm"]) {
    await report.check(
      runtime,
      `stores (${round}): append to PostgreSQL and DynamoDB, publish to EventBridge`,
      async () => {
        const streamId = `Cart-${runtime.replace(/\W/g, "")}-${round}-${Date.now().toString(36)}`;
        const event = { kind: "append", streamId, skus: ["a", "b", "c"] } satisfies StoresEvent;
        const result = resultOf<{ postgres: Summary; dynamodb: Summary }>(await ctx.fn.invoke(event));
        for (const [name, store] of [
          ["postgres", fixtures.postgres],
          ["dynamodb", fixtures.dynamodb],
        ] as const) {
          const summary = result[name];
          strictEqual(summary.version, 3, `${name} version`);
          strictEqual(summary.published, 3, `${name}: events delivered to EventBridge before the response`);
          strictEqual(summary.publishFailures, 0, `${name} publish failures`);
          const stored = await collect(store.readStream(streamId));
          deepStrictEqual(
            stored.map((e) => [e.id, e.version, (e.data as { sku: string }).sku]),
            summary.ids.map((id, i) => [id, i + 1, event.skus[i]]),
            `${name}: what the store holds`,
          );
        }
        const messages = await drainQueue(fixtures.sqs, fixtures.queueUrl);
        const delivered = messages.map((m) => (JSON.parse(m.Body) as { detail: { id: string } }).detail.id).sort();
        deepStrictEqual(delivered, [...result.postgres.ids, ...result.dynamodb.ids].sort(), "the queue behind the bus");
        return `${messages.length} events on the queue`;
      },
    );
  }
  await report.check(
    runtime,
    "stores: a snapshot awaited with flushSnapshots() is stored when the response comes",
    async () => {
      const cartId = `${runtime.replace(/\W/g, "")}-${Date.now().toString(36)}`;
      const event = { kind: "snapshot", cartId, skus: ["x", "y"] } satisfies StoresEvent;
      // The snapshots table is locked against writes for a while, so the function's snapshot write is
      // still waiting when a response that did not await it arrives; one that awaited it comes later.
      let locked: () => void = () => {};
      const lockTaken = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const holder = fixtures.sql.begin(async (tx) => {
        await tx.unsafe(`LOCK TABLE "${fixtures.schema}".snapshots IN EXCLUSIVE MODE`);
        locked();
        await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_LOCK_MS));
      });
      let atResponse: Awaited<ReturnType<typeof fixtures.snapshots.load>>;
      try {
        await lockTaken;
        strictEqual(resultOf<{ version: number }>(await ctx.fn.invoke(event)).version, 2);
        atResponse = await fixtures.snapshots.load(`LambdaCart-${cartId}`);
      } finally {
        await holder;
        // As Lambda may freeze or end it after its response.
        await ctx.fn.stop();
      }
      strictEqual(atResponse?.version, 2, "no snapshot at version 2 when the response came");
      deepStrictEqual(atResponse?.state, { skus: ["x", "y"] });
    },
  );
}
