/**
 * The lifecycle function through RIE: module scope runs once per execution environment and is
 * reused by warm invocations (counter, one pooled PostgreSQL connection); a timeout kills the
 * environment in the middle of a transaction, and nothing of it is committed; the next invocation
 * is a cold start.
 */
import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { Fixtures } from "../fixtures.ts";
import type { LifecycleEvent } from "../handlers/lifecycle.ts";
import { median } from "../report.ts";
import { type CheckContext, resultOf } from "./context.ts";

type Ping = { environmentId: string; invocations: number; backendPid: number };

// Room for a cold init (the invocation after a timeout starts a new environment) on a busy machine.
export const LIFECYCLE_TIMEOUT_SECONDS = 3;
const WARM = 5;

export async function lifecycleChecks(
  ctx: CheckContext,
  fixtures: Fixtures,
): Promise<{ coldMs: number; warmMs: number }> {
  const { report, runtime, fn } = ctx;
  const ping = async () => {
    const invocation = await fn.invoke({ action: "ping" } satisfies LifecycleEvent);
    return { ...resultOf<Ping>(invocation), ms: invocation.ms };
  };
  // RIE resets the environment after a timeout on a goroutine of its own; an invoke that arrives
  // while that reset is still cancelling the old flows is answered 502 Sandbox.Failure
  // "ErrGateCanceled" (RIE's internal/lambda/core/gates.go), which a real Lambda never sends. Only
  // that answer is retried, a few times; anything else fails the check as before.
  const pingAfterReset = async () => {
    for (let attempt = 1; ; attempt++) {
      const invocation = await fn.invoke({ action: "ping" } satisfies LifecycleEvent);
      if (attempt < 5 && invocation.status === 502 && invocation.body.includes("ErrGateCanceled")) {
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        continue;
      }
      return { ...resultOf<Ping>(invocation), ms: invocation.ms };
    }
  };
  let first: Ping & { ms: number } = { environmentId: "", invocations: 0, backendPid: 0, ms: Number.NaN };
  const warm: number[] = [];
  await report.check(
    runtime,
    `lifecycle: the first invocation is a cold start, the next ${WARM} reuse its module state and connection`,
    async () => {
      first = await ping();
      strictEqual(first.invocations, 1, "the first invocation runs a fresh module");
      for (let n = 2; n <= WARM + 1; n++) {
        const next = await ping();
        warm.push(next.ms);
        strictEqual(next.environmentId, first.environmentId, "a warm invocation loaded the module again");
        strictEqual(next.invocations, n, "the module-level counter");
        strictEqual(next.backendPid, first.backendPid, "a warm invocation opened a new PostgreSQL connection");
      }
    },
  );
  const streamIds = [`Stalled-${first.environmentId}-a`, `Stalled-${first.environmentId}-b`] as const;
  await report.check(
    runtime,
    `lifecycle: a ${LIFECYCLE_TIMEOUT_SECONDS} s timeout mid-transaction is reported and commits nothing`,
    async () => {
      const invocation = await fn.invoke({ action: "stall", streamIds } satisfies LifecycleEvent);
      ok(
        invocation.body.includes(`Task timed out after ${LIFECYCLE_TIMEOUT_SECONDS}.00 seconds`),
        `expected RIE's timeout report, got ${invocation.status}: ${invocation.body}`,
      );
      ok(fn.logs().includes(`in flight: 3 events for ${streamIds[0]}`), "the function's in-flight log line is missing");
      const after = await pingAfterReset();
      strictEqual(after.invocations, 1, "the invocation after a timeout starts a new environment");
      notStrictEqual(after.environmentId, first.environmentId);
      for (const streamId of streamIds) {
        strictEqual(await fixtures.postgres.getStreamVersion(streamId), 0, `${streamId} has events`);
      }
      // Nothing of the killed transaction holds the stream: a new append to it goes through.
      await fixtures.postgres.appendToStream(streamIds[0], [{ type: "Checked", data: {} }], {
        expectedVersion: "no-stream",
      });
    },
  );
  return { coldMs: first.ms, warmMs: median(warm) };
}
