/**
 * Backends killed under a tenant-scoped client (tenantScopedSql over one shared pool), while a
 * statement of its pipeline waits on a lock: with pg_terminate_backend on every attempt, as a
 * failover or a proxy dropping connections would. Run by `reliability.int.test.ts` on Bun
 * in-process, and on Node as
 * `node --import ./bench/lib/node-ts.mjs test/postgres/killed-backends.ts <url> <schema>`, which
 * prints the outcome as one JSON line. Every wait is bounded: a call that never settles is
 * reported as "hung", never waited for.
 */
import postgres from "postgres";
import {
  createPostgresClient,
  PostgresEventStore,
  type PostgresTransaction,
  tenantScopedSql,
} from "../../adapters/postgres/index.ts";
import { ulid } from "../../src/index.ts";
import { holdOpen, killWhileBlocked, settle } from "./kill-scenario.ts";

export interface KilledBackendsOutcome {
  readonly runtime: string;
  /** How many backends of the client were killed while the append waited on the lock. */
  readonly killed: number;
  /** What the append whose every attempt was killed ended with. */
  readonly append: string;
  /** What the same append, sent again once the lock was gone, ended with. */
  readonly retry: string;
  /** What as many reads as the pool has connections, sent together after that, ended with. */
  readonly reads: readonly string[];
  /** The stream's version after all of it, read by another client. */
  readonly version: number;
}

export async function killedBackendsScenario(url: string, schema: string): Promise<KilledBackendsOutcome> {
  const name = `eventflows-tenant-killed-${ulid()}`.toLowerCase();
  const admin = postgres(url, { max: 2, onnotice: () => undefined });
  // Fresh connections: each attempt's statements are the first of their kind on their connection.
  // A short connect_timeout: a call that finds no connection fails after it (see the check of `reads`).
  const client = createPostgresClient(url, { max: 2, connect_timeout: 2, application_name: name });
  const holder = new PostgresEventStore({ sql: tenantScopedSql(admin, "acme"), schema });
  const store = new PostgresEventStore({ sql: tenantScopedSql(client, "acme"), schema });
  const stream = `TenantKilled-${ulid()}`;
  const batch = Array.from({ length: 3 }, (_, n) => ({ id: ulid(), type: "Important", data: { n } }));
  let release: () => Promise<void> = async () => undefined;
  try {
    // The same tenant's uncommitted append to the stream: the store's append waits on its lock.
    release = await holdOpen(
      (work: (tx: PostgresTransaction) => Promise<void>) => holder.withTransaction(work),
      (tx) => tx.appendToStream(stream, [{ type: "Blocker", data: {} }]),
    );
    const append = settle(store.appendToStream(stream, batch));
    // Each attempt runs on another connection and waits on the held stream again: kill it there too.
    const killed = await killWhileBlocked(admin, name, append);
    const appendOutcome = await append;
    await release();
    const retry = await settle(store.appendToStream(stream, batch, { expectedVersion: "no-stream" }));
    const reads = await Promise.all([settle(store.getStreamVersion(stream)), settle(store.getStreamVersion(stream))]);
    return {
      runtime: typeof Bun === "undefined" ? "node" : "bun",
      killed,
      append: appendOutcome,
      retry,
      reads,
      version: await holder.getStreamVersion(stream),
    };
  } finally {
    await release();
    // A client whose statements hung may never end on its own: bounded like the rest.
    await settle(client.end({ timeout: 1 }));
    await settle(admin.end({ timeout: 1 }));
  }
}

if (typeof Bun === "undefined" && process.argv[1]?.endsWith("killed-backends.ts")) {
  const [url, schema] = process.argv.slice(2);
  if (url === undefined || schema === undefined) throw new Error("usage: killed-backends.ts <url> <schema>");
  console.log(JSON.stringify(await killedBackendsScenario(url, schema)));
  process.exit(0);
}
