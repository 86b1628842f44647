/**
 * A transaction whose backend is killed (pg_terminate_backend, as a failover or a restart would)
 * while one of its statements waits on a lock another connection holds: through
 * `PostgresEventStore.withTransaction` and `PostgresReadModelStore.transaction`, then the calls
 * after it on the same client. Run by `reliability.int.test.ts` on Bun in-process, and on Node as
 * `node --import ./bench/lib/node-ts.mjs test/postgres/killed-transaction.ts <url> <schema>`,
 * which prints the outcome as one JSON line. Every wait is bounded: a call that never settles is
 * reported as "hung", never waited for.
 */
import postgres from "postgres";
import {
  createPostgresClient,
  PostgresEventStore,
  PostgresReadModelStore,
  type PostgresSql,
} from "../../adapters/postgres/index.ts";
import { ulid } from "../../src/index.ts";
import { holdOpen, killWhileBlocked, settle } from "./kill-scenario.ts";

/** What one killed transaction, and the calls after it on the same client, ended with. */
export interface KilledTransactionCase {
  /** How many of the client's backends were killed while the transaction waited on the lock. */
  readonly killed: number;
  /** What the transaction ended with. */
  readonly transaction: string;
  /** What the same work, run again once the lock was gone, ended with. */
  readonly retry: string;
  /** What as many reads as the pool has connections, sent together after that, ended with. */
  readonly reads: readonly string[];
  /** What another client finds stored after all of it: the transaction's writes whole or not at all. */
  readonly stored: unknown;
}

export interface KilledTransactionOutcome {
  readonly runtime: string;
  readonly withTransaction: KilledTransactionCase;
  readonly readModelTransaction: KilledTransactionCase;
}

async function eventStoreCase(url: string, schema: string, admin: PostgresSql): Promise<KilledTransactionCase> {
  const name = `eventflows-tx-killed-${ulid()}`.toLowerCase();
  const store = new PostgresEventStore({
    url,
    schema,
    client: { max: 2, connect_timeout: 2, application_name: name },
  });
  const stream = `TxKilled-${ulid()}`;
  const other = `TxKilledOther-${ulid()}`;
  const work = () =>
    store.withTransaction(async (tx) => {
      await tx.appendToStream(other, [{ type: "Before", data: {} }]);
      await tx.appendToStream(stream, [{ type: "Blocked", data: {} }]);
    });
  const release = await holdOpen(
    (work: (tx: PostgresSql) => Promise<void>) => admin.begin((tx) => work(tx as unknown as PostgresSql)),
    (tx) => new PostgresEventStore({ sql: tx, schema }).appendToStream(stream, [{ type: "Blocker", data: {} }]),
  );
  try {
    const transaction = settle(work());
    const killed = await killWhileBlocked(admin, name, transaction);
    const outcome = await transaction;
    await release();
    const retry = await settle(work());
    const reads = await Promise.all([settle(store.getStreamVersion(stream)), settle(store.getStreamVersion(other))]);
    const direct = new PostgresEventStore({ sql: admin, schema });
    const stored = [await direct.getStreamVersion(other), await direct.getStreamVersion(stream)];
    return { killed, transaction: outcome, retry, reads, stored };
  } finally {
    await release();
    await settle(store.close(1));
  }
}

async function readModelCase(url: string, schema: string, admin: PostgresSql): Promise<KilledTransactionCase> {
  const name = `eventflows-rm-killed-${ulid()}`.toLowerCase();
  const client = createPostgresClient(url, { max: 2, connect_timeout: 2, application_name: name });
  const store = new PostgresReadModelStore({ sql: client, schema });
  const id = `doc-${ulid()}`;
  const work = () =>
    store.transaction(async (tx) => {
      await tx.put("killed", id, { n: 2 });
    });
  // The same document written and not committed: the transaction's upsert of it waits.
  const release = await holdOpen(
    (work: (tx: PostgresSql) => Promise<void>) => admin.begin((tx) => work(tx as unknown as PostgresSql)),
    (tx) =>
      new PostgresReadModelStore({ sql: tx, schema }).transaction(async (held) => {
        await held.put("killed", id, { n: 1 });
      }),
  );
  try {
    const transaction = settle(work());
    const killed = await killWhileBlocked(admin, name, transaction);
    const outcome = await transaction;
    await release();
    const retry = await settle(work());
    const reads = await Promise.all([settle(store.get("killed", id)), settle(store.get("killed", id))]);
    const stored = await new PostgresReadModelStore({ sql: admin, schema }).get("killed", id);
    return { killed, transaction: outcome, retry, reads, stored };
  } finally {
    await release();
    await settle(client.end({ timeout: 1 }));
  }
}

export async function killedTransactionScenario(url: string, schema: string): Promise<KilledTransactionOutcome> {
  const admin = postgres(url, { max: 4, onnotice: () => undefined }) as unknown as PostgresSql;
  try {
    const withTransaction = await eventStoreCase(url, schema, admin);
    const readModelTransaction = await readModelCase(url, schema, admin);
    return { runtime: typeof Bun === "undefined" ? "node" : "bun", withTransaction, readModelTransaction };
  } finally {
    await settle(admin.end({ timeout: 1 }));
  }
}

if (typeof Bun === "undefined" && process.argv[1]?.endsWith("killed-transaction.ts")) {
  const [url, schema] = process.argv.slice(2);
  if (url === undefined || schema === undefined) throw new Error("usage: killed-transaction.ts <url> <schema>");
  console.log(JSON.stringify(await killedTransactionScenario(url, schema)));
  process.exit(0);
}
