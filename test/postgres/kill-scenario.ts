/**
 * What the kill scenarios (killed-backends.ts, killed-transaction.ts) share: each call's outcome in
 * words (never a hang), a transaction held open on a lock, and the loop that kills the backends
 * waiting on it.
 */
import type { PostgresSql } from "../../adapters/postgres/index.ts";
import { isServiceError } from "../../src/index.js";

/** How long any call may take before a scenario calls it hung (calls that hang never settle). */
export const HUNG_AFTER_MS = 15_000;

/** What a call ended with, in words; "hung" when it had not settled after HUNG_AFTER_MS. */
export function settle(call: Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("hung"), HUNG_AFTER_MS);
  });
  const outcome = call.then(
    () => "resolved",
    (error: unknown) =>
      isServiceError(error)
        ? `ServiceError ${error.serviceCode} ${error.retryable ? "retryable" : "not retryable"}`
        : `other: ${String(error)}`,
  );
  return Promise.race([outcome, hung]).finally(() => clearTimeout(timer));
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `hold` in a transaction that `begin` opens and that stays open (holding its row locks) until
 * the returned function is called; that function also waits for the transaction to end (rolled back).
 */
export async function holdOpen<T>(
  begin: (work: (tx: T) => Promise<void>) => Promise<unknown>,
  hold: (tx: T) => Promise<unknown>,
): Promise<() => Promise<void>> {
  let release: () => void = () => undefined;
  let held: () => void = () => undefined;
  const isHeld = new Promise<void>((resolve) => {
    held = resolve;
  });
  const done = begin(async (tx) => {
    await hold(tx);
    held();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    throw new Error("roll back");
  }).catch(() => undefined);
  await isHeld;
  return async () => {
    release();
    await done;
  };
}

/** Kills every backend of `name` that waits on a lock, until `call` has settled; how many it killed. */
export async function killWhileBlocked(admin: PostgresSql, name: string, call: Promise<unknown>): Promise<number> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  call.then(done, done);
  const killed = new Set<number>();
  while (!settled) {
    const blocked = await admin`
      SELECT pid FROM pg_stat_activity WHERE application_name = ${name} AND wait_event_type = 'Lock'`;
    for (const row of blocked) {
      if (killed.has(row.pid)) continue;
      killed.add(row.pid);
      await admin`SELECT pg_terminate_backend(${row.pid})`;
    }
    await pause(10);
  }
  return killed.size;
}
