/**
 * The tenant layer's probe of a stream that shows no event (never was, soft- or hard-deleted long
 * ago), on a store shared by mistake (no tests in this file: the tenancy tests and the PostgreSQL
 * and DynamoDB integration tests run it on their stores). The probe must answer exactly (the other
 * tenant's deleted stream refused, a stream that never was not found, the owner let through) and
 * must not read `$streams` back to the deletion: `cost` reads the store's own count of that work
 * (events of `$streams` read, requests sent), and what it grew by during the probes is returned.
 */
import { expect } from "bun:test";
import { ErrorCode, type EventStore, TenancyErrorCode, tenancy } from "../../src/index.js";

export async function probeDeletedStreams(shared: EventStore, history: number, cost: () => number): Promise<number> {
  const tenants = tenancy({ stores: () => ({ eventStore: shared }) });
  const acme = (await tenants.forTenant("acme")).stores.eventStore;
  const globex = (await tenants.forTenant("globex")).stores.eventStore;
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const [soft, hard, never] = [`Old-soft-${run}`, `Old-hard-${run}`, `Never-was-${run}`];
  await globex.appendToStream(soft, [{ type: "Added", data: {} }]);
  await globex.deleteStream(soft);
  await globex.appendToStream(hard, [{ type: "Added", data: {} }]);
  await globex.deleteStream(hard, { mode: "hard" });
  // The store's history after them: other streams deleted.
  for (let i = 0; i < history; i++) {
    await globex.appendToStream(`Cart-${run}-${i}`, [{ type: "Added", data: {} }]);
    await globex.deleteStream(`Cart-${run}-${i}`, { mode: i % 2 === 0 ? "soft" : "hard" });
  }
  const outcome = (call: () => Promise<unknown>) =>
    call().then(
      () => "ok",
      (e: unknown) => (e as { code?: string }).code,
    );
  const before = cost();
  for (const [call, expected] of [
    [() => acme.deleteStream(never), ErrorCode.StreamNotFound],
    [() => acme.restoreStream(never), ErrorCode.StreamNotFound],
    [() => acme.truncateStream(never, { before: 1 }), ErrorCode.StreamNotFound],
    [() => acme.deleteStream(soft, { mode: "hard" }), TenancyErrorCode.Isolation],
    [() => acme.restoreStream(soft), TenancyErrorCode.Isolation],
    [() => acme.getStreamVersion(soft), TenancyErrorCode.Isolation],
    [() => acme.deleteStream(hard), TenancyErrorCode.Isolation],
    [() => acme.streamDeletionEvent(hard), TenancyErrorCode.Isolation],
    [() => globex.deleteStream(hard), "ok"],
    [() => globex.getStreamVersion(soft), "ok"],
  ] as const) {
    expect(await outcome(call)).toBe(expected);
  }
  const spent = cost() - before;
  // A change writes (and may read) `$streams` itself: after the probes.
  expect(await outcome(() => globex.restoreStream(soft))).toBe("ok");
  // The owner's answer names its deletion; a restored stream, or one that never was, has none.
  expect((await globex.streamDeletionEvent(hard))?.data).toMatchObject({ streamId: hard, mode: "hard" });
  expect(await globex.streamDeletionEvent(soft)).toBeUndefined();
  expect(await globex.streamDeletionEvent(never)).toBeUndefined();
  await tenants.close();
  return spent;
}
