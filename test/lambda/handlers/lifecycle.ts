/**
 * The lifecycle function: what a Lambda user relies on across invocations. Module scope runs once
 * per execution environment (the cold start): an id for it, an invocation counter and a one-
 * connection PostgreSQL pool, all reused by warm invocations. `stall` opens a transaction, appends
 * to one stream, reports the work in flight and then waits past the function's timeout, so the
 * runner can check that Lambda's kill leaves nothing of the transaction behind.
 */
import { createPostgresClient, PostgresEventStore } from "../../../adapters/postgres/index.js";
import { ulid } from "../../../src/index.js";
import { required } from "./env.js";

const environmentId = ulid();
let invocations = 0;
const sql = createPostgresClient(required("EVENTFLOWS_PG_URL"), { max: 1 });
const store = new PostgresEventStore({ sql, schema: required("LAMBDA_TEST_PG_SCHEMA") });

export type LifecycleEvent =
  | { readonly action: "ping" }
  | { readonly action: "stall"; readonly streamIds: readonly [string, string] };

export async function handler(event: LifecycleEvent) {
  invocations += 1;
  if (event.action === "stall") {
    const [first, second] = event.streamIds;
    const items = [1, 2, 3].map((n) => ({ type: "ItemAdded", data: { n } }));
    await store.withTransaction(async (tx) => {
      await tx.appendToStream(first, items, { expectedVersion: "no-stream" });
      console.log(`[lifecycle] in flight: ${items.length} events for ${first} in an open transaction`);
      // Slow work (a downstream call, say) that outlives the function's timeout.
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      await tx.appendToStream(second, items, { expectedVersion: "no-stream" });
    });
    return { finished: true };
  }
  const [row] = await sql`select pg_backend_pid() as pid`;
  return { environmentId, invocations, backendPid: Number(row?.pid) };
}
